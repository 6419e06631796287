import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertGate } from '../../../services/ingest/kafka/alertGate.ts';

describe('Kafka alert gate', () => {
  it('holds the alerts of a batch until that batch is stored, then releases them in order', () => {
    const g = new AlertGate<string>();
    g.hold('a1');
    g.hold('a2');
    g.seal(1);
    g.hold('b1');
    assert.deepEqual(g.release(0), [], 'nothing stored yet');
    assert.equal(g.held, 3);
    assert.deepEqual(g.release(1), ['a1', 'a2']);
    assert.deepEqual(g.release(1), [], 'released once');
    g.seal(2);
    assert.deepEqual(g.release(2), ['b1']);
    assert.equal(g.held, 0);
  });

  it('releases every earlier batch with a later one, oldest first', () => {
    const g = new AlertGate<string>();
    g.hold('a');
    g.seal(1);
    g.seal(2); // a batch that raised nothing
    g.hold('c');
    g.seal(3);
    g.hold('d');
    assert.deepEqual(g.release(3), ['a', 'c']);
    assert.deepEqual(g.drainOpen(), ['d'], 'the batch being filled stays out until it is cut or drained');
  });

  it('drains only what was not cut: alerts of a batch that was cut but never stored stay held', () => {
    const g = new AlertGate<string>();
    g.hold('cut');
    g.seal(1);
    g.hold('open');
    assert.deepEqual(g.drainOpen(), ['open']);
    assert.deepEqual(g.drainOpen(), []);
    assert.equal(g.held, 1);
  });

  it('keeps alerts raised during a detector restore apart from the batch being filled', () => {
    const g = new AlertGate<string>();
    g.hold('live');
    g.beginRestore();
    g.hold('r1');
    g.hold('r2');
    assert.deepEqual(g.endRestore(), ['r1', 'r2']);
    assert.deepEqual(g.endRestore(), [], 'no restore running');
    g.hold('live2');
    g.seal(1);
    assert.deepEqual(g.release(1), ['live', 'live2']);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BATCH_GROWTH, BatchAssembly } from '../../../services/ingest/kafka/batchAssembly.ts';

const clock = (start = 1_000): { now: () => number; advance: (ms: number) => void } => {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
};

describe('Kafka batch assembly', () => {
  it('is due at maxRows rows or messages, whichever comes first', () => {
    const c = clock();
    const b = new BatchAssembly({ maxRows: 3, maxMs: 1000 }, c.now);
    assert.equal(b.due(), false, 'an empty batch is never due');
    b.addMessage();
    b.rows.line('r1\n').line('r2\n').line('r3\n'); // one message of three lines
    assert.equal(b.held(), 3);
    assert.equal(b.due(), true);
    const m = new BatchAssembly({ maxRows: 3, maxMs: 1000 }, c.now);
    for (let i = 0; i < 3; i++) m.addMessage(); // three messages that stored nothing (already stored, or dead letters)
    assert.equal(m.due(), true);
  });

  it('is due maxMs after its first message (wall clock), not after its last', () => {
    const c = clock();
    const b = new BatchAssembly({ maxRows: 100, maxMs: 1000 }, c.now);
    c.advance(5_000); // idle time before the first message does not count
    b.addMessage();
    c.advance(999);
    b.addMessage();
    assert.equal(b.due(), false);
    c.advance(1);
    assert.equal(b.due(), true);
  });

  it('waits while the previous batch is stored, until it has grown to growth × maxRows', () => {
    const c = clock();
    const b = new BatchAssembly({ maxRows: 2, maxMs: 1000 }, c.now);
    b.addMessage();
    b.addMessage();
    assert.equal(b.shouldCut(false), true);
    assert.equal(b.shouldCut(true), false, 'due, but the store is busy: keep filling');
    while (b.held() < BATCH_GROWTH * 2) b.addMessage();
    assert.equal(b.shouldCut(true), true, 'too large to wait');
    const g = new BatchAssembly({ maxRows: 2, maxMs: 1000, growth: 1 }, c.now);
    g.addMessage();
    g.addMessage();
    assert.equal(g.shouldCut(true), true);
    const fresh = new BatchAssembly({ maxRows: 2, maxMs: 1000 }, c.now);
    assert.equal(fresh.shouldCut(false), false, 'nothing held');
  });

  it('closes the batch with its rows, dead letters and topic messages, and starts empty', () => {
    const c = clock();
    const b = new BatchAssembly({ maxRows: 10, maxMs: 1000 }, c.now);
    b.addMessage();
    b.rows.line('a\n');
    b.dead.line('d\n');
    b.addDeadLetterMessage({ key: 'k', value: 'raw' });
    b.addRepublished({ key: '203.0.113.7', value: '{}' });
    b.addMessage();
    b.rows.line('b\n');
    const t = b.take();
    assert.equal(t.messages, 2);
    assert.equal(t.rowCount, 2);
    assert.equal(t.rows.toString(), 'a\nb\n');
    assert.equal(t.deadCount, 1);
    assert.equal(t.dead.toString(), 'd\n');
    assert.deepEqual(t.deadLetterMessages, [{ key: 'k', value: 'raw' }]);
    assert.deepEqual(t.republished, [{ key: '203.0.113.7', value: '{}' }]);
    assert.equal(b.messages, 0);
    assert.equal(b.held(), 0);
    assert.equal(b.due(), false);
    const e = b.take();
    assert.equal(e.rows.length, 0);
    assert.deepEqual([e.deadLetterMessages, e.republished], [[], []]);
    // The next batch's age starts with its own first message.
    c.advance(10_000);
    b.addMessage();
    assert.equal(b.due(), false);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BATCH_GROWTH, BatchAssembly, CAUGHT_UP_FRACTION } from '../../../services/ingest/kafka/batchAssembly.ts';

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

  it('cuts at once when the consumer has caught up and the batch holds maxRows / CAUGHT_UP_FRACTION, never while storing', () => {
    const c = clock();
    const b = new BatchAssembly({ maxRows: 10 * CAUGHT_UP_FRACTION, maxMs: 1000 }, c.now);
    for (let i = 0; i < 9; i++) b.addMessage();
    assert.equal(b.shouldCut(false, true), false, 'a trickle below the fraction waits for its age');
    b.addMessage();
    assert.equal(b.shouldCut(false, false), false, 'not caught up: neither full nor old');
    assert.equal(b.shouldCut(true, true), false, 'the store is busy: wait');
    assert.equal(b.shouldCut(false, true), true);
  });

  it('records one segment per run of a partition, with the byte ranges of its rows and dead letters', () => {
    const c = clock();
    const b = new BatchAssembly({ maxRows: 100, maxMs: 1000 }, c.now);
    b.startSegment(3);
    b.rows.line('a\n').line('b\n');
    b.startSegment(5); // stays empty: dropped
    b.startSegment(3); // the same partition again: one run
    b.dead.line('x\n');
    b.startSegment(7);
    b.rows.line('c\n');
    b.startSegment(3);
    b.rows.line('d\n');
    const t = b.take();
    assert.deepEqual(t.segments, [
      { partition: 3, rows: [0, 4], dead: [0, 2] },
      { partition: 7, rows: [4, 6], dead: [2, 2] },
      { partition: 3, rows: [6, 8], dead: [2, 2] },
    ]);
    assert.equal(t.rows.subarray(...t.segments[1]!.rows).toString(), 'c\n');
    assert.deepEqual(b.take().segments, [], 'the next batch starts with none');
  });
});

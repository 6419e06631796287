import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffsetLedger, batchToken, commitOffsets } from '../../../services/ingest/kafka/offsetLedger.ts';

const both = { newData: true, newDead: true, detect: true };

describe('Kafka offset ledger', () => {
  it('admits each offset once: re-deliveries up to the last consumed offset are skipped', () => {
    const l = new OffsetLedger();
    l.add(0, { data: -1, dead: -1 });
    assert.deepEqual(l.consume(0, 0), both);
    assert.deepEqual(l.consume(0, 1), both);
    assert.equal(l.consume(0, 1), null);
    assert.equal(l.consume(0, 0), null);
    assert.equal(l.lastOffset(0), 1);
    assert.deepEqual(l.consume(0, 5), both, 'a gap (compacted or transactional offsets) is fine');
    assert.equal(l.lastOffset(0), 5);
    assert.equal(l.lastOffset(9), -1, 'an unknown partition has consumed nothing');
  });

  it('says what ClickHouse already holds of a re-read message (tables apart)', () => {
    const l = new OffsetLedger();
    l.add(3, { data: 10, dead: 7 });
    assert.deepEqual(l.consume(3, 7), { newData: false, newDead: false, detect: false });
    assert.deepEqual(l.consume(3, 8), { newData: false, newDead: true, detect: false });
    assert.deepEqual(l.consume(3, 10), { newData: false, newDead: true, detect: false });
    assert.deepEqual(l.consume(3, 11), both);
  });

  it('keeps the offset range of the open batch per partition, and starts a new one after a cut', () => {
    const l = new OffsetLedger();
    l.add(0, { data: -1, dead: -1 });
    l.add(1, { data: 41, dead: 41 });
    for (const o of [0, 1, 2]) l.consume(0, o);
    for (const o of [42, 43]) l.consume(1, o);
    l.consume(0, 2); // re-delivered: not in the range twice
    assert.deepEqual([...l.takeRanges()], [
      [0, { first: 0, last: 2 }],
      [1, { first: 42, last: 43 }],
    ]);
    assert.deepEqual([...l.takeRanges()], [], 'the next batch starts empty');
    l.consume(0, 3);
    assert.deepEqual([...l.takeRanges()], [[0, { first: 3, last: 3 }]]);
  });

  it('commits last + 1 of every partition of a stored batch, and nothing else', () => {
    const ranges = new Map([
      [0, { first: 0, last: 2 }],
      [5, { first: 42, last: 43 }],
    ]);
    assert.deepEqual(commitOffsets('t', ranges), [
      { topic: 't', partition: 0, offset: '3' },
      { topic: 't', partition: 5, offset: '44' },
    ]);
    assert.deepEqual(commitOffsets('t', new Map()), []);
  });

  it('after a batch is stored, re-deliveries of it are neither stored nor consumed again', () => {
    const l = new OffsetLedger();
    l.add(0, { data: -1, dead: -1 });
    for (const o of [0, 1, 2]) l.consume(0, o);
    const ranges = l.takeRanges();
    l.stored(ranges);
    assert.equal(l.consume(0, 1), null);
    // A partition re-assigned to this consumer starts from what ClickHouse holds.
    assert.deepEqual(l.reassign(new Set([1])), [1]);
    assert.equal(l.holds(0), false);
    l.add(0, { data: 2, dead: 2 });
    assert.deepEqual(l.consume(0, 1), { newData: false, newDead: false, detect: false });
    assert.deepEqual(l.consume(0, 3), both);
    l.stored(new Map([[7, { first: 0, last: 9 }]])); // not held: ignored
    assert.equal(l.holds(7), false);
  });

  it('an abandoned open batch is consumed again from its first offset: stored then, but not fed to the detector twice', () => {
    const l = new OffsetLedger();
    l.add(0, { data: -1, dead: -1 });
    for (const o of [0, 1]) l.consume(0, o);
    l.stored(l.takeRanges());
    for (const o of [2, 3, 4]) l.consume(0, o);
    l.abandonOpen();
    assert.equal(l.consume(0, 1), null, 'stored before: still skipped');
    assert.deepEqual(l.consume(0, 2), { newData: true, newDead: true, detect: false });
    assert.deepEqual(l.consume(0, 4), { newData: true, newDead: true, detect: false });
    assert.deepEqual(l.consume(0, 5), both);
    assert.deepEqual([...l.takeRanges()], [[0, { first: 2, last: 5 }]]);
  });

  it('a partition assigned with a stored event time commits from it, never from scratch (the hunts\' watermark does not go back)', () => {
    const l = new OffsetLedger();
    l.add(0, { data: 9, dead: 9, eventTs: 5_000 });
    l.consume(0, 10);
    l.noteEventTime(0, 4_000); // an older request than what is stored
    const ranges = l.takeRanges();
    assert.equal(ranges.get(0)!.eventTs, 5_000);
    assert.deepEqual(commitOffsets('t', ranges)[0]!.metadata, JSON.stringify({ eventTs: 5_000 }));
  });

  it('stored offsets never go back (an older batch stored late)', () => {
    const l = new OffsetLedger();
    l.add(0, { data: 20, dead: 20 });
    l.stored(new Map([[0, { first: 5, last: 9 }]]));
    for (let o = 0; o <= 20; o++) l.consume(0, o);
    assert.deepEqual(l.consume(0, 21), both);
    l.add(1, { data: -1, dead: -1 });
    l.stored(new Map([[1, { first: 0, last: 4 }]]));
    // Stored by a batch this ledger never consumed: not stored again, and the detector has not seen it.
    assert.deepEqual(l.consume(1, 4), { newData: false, newDead: false, detect: true });
  });

  it('on reassignment keeps held partitions, drops revoked ones and names the new ones', () => {
    const l = new OffsetLedger();
    l.add(0, { data: -1, dead: -1 });
    l.add(1, { data: -1, dead: -1 });
    l.consume(1, 5);
    assert.deepEqual(l.reassign(new Set([1, 2, 3])), [2, 3]);
    assert.deepEqual(l.partitions(), [1]);
    assert.equal(l.lastOffset(1), 5, 'a kept partition keeps its position');
    assert.throws(() => l.consume(2, 0), /not assigned/);
  });

  it('names a batch by its source and offset ranges: the same ranges give the same token', () => {
    const a = batchToken('kafka:t', new Map([[0, { first: 0, last: 9 }]]));
    assert.match(a, /^kafka:t:[0-9a-f]{32}$/);
    assert.equal(batchToken('kafka:t', new Map([[0, { first: 0, last: 9 }]])), a);
    assert.notEqual(batchToken('kafka:t', new Map([[0, { first: 0, last: 10 }]])), a);
    assert.notEqual(batchToken('kafka:t', new Map([[1, { first: 0, last: 9 }]])), a, 'another partition');
    assert.ok(batchToken('kafka:u', new Map([[0, { first: 0, last: 9 }]])).startsWith('kafka:u:'));
  });

  it('has caught up once every held partition was delivered to the high watermark it reported', () => {
    const l = new OffsetLedger();
    assert.equal(l.caughtUp(), false, 'nothing held');
    l.add(0, { data: -1, dead: -1 });
    l.add(1, { data: -1, dead: -1 });
    l.consume(0, 0);
    l.consume(0, 1);
    l.noteHighWatermark(0, 2);
    assert.equal(l.caughtUp(), false, 'partition 1 never delivered');
    l.consume(1, 0);
    l.noteHighWatermark(1, 5);
    assert.equal(l.caughtUp(), false, 'partition 1 has 4 more');
    for (let o = 1; o <= 4; o++) l.consume(1, o);
    assert.equal(l.caughtUp(), true);
    l.noteHighWatermark(0, 3);
    assert.equal(l.caughtUp(), false, 'a new message in partition 0');
  });
});

/** The group's stored event-time watermark the hunt lease waits for (services/ingest/kafka/huntLease.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupStoredUpTo } from '../../../services/ingest/kafka/huntLease.ts';
import { commitOffsets, parseWatermarkMetadata, watermarkMetadata } from '../../../services/ingest/kafka/offsetLedger.ts';

const part = (partition: number, low: number, high: number, committed: number, eventTs: number | null) => ({
  partition,
  low,
  high,
  committed,
  metadata: eventTs === null ? null : watermarkMetadata(eventTs),
});

describe('group stored watermark (hunt lease)', () => {
  it('is the oldest watermark of the partitions the group has not stored to their end', () => {
    assert.equal(groupStoredUpTo([part(0, 0, 100, 50, 5_000), part(1, 0, 100, 80, 3_000), part(2, 0, 100, 100, 1_000)]), 3_000);
  });
  it('a partition with messages and nothing committed (or no watermark) holds every window back', () => {
    assert.equal(groupStoredUpTo([part(0, 0, 100, 100, 5_000), part(1, 0, 10, -1, null)]), Number.NEGATIVE_INFINITY);
    assert.equal(groupStoredUpTo([part(0, 0, 100, 50, 5_000), part(1, 0, 10, 5, null)]), Number.NEGATIVE_INFINITY);
  });
  it('empty partitions do not count; when every partition is stored to its end, the newest watermark', () => {
    assert.equal(groupStoredUpTo([part(0, 0, 100, 100, 5_000), part(1, 0, 100, 100, 7_000), part(2, 0, 0, -1, null)]), 7_000);
    assert.equal(groupStoredUpTo([]), Number.NEGATIVE_INFINITY);
  });
  it('commits carry the watermark as metadata; foreign metadata is ignored', () => {
    const [c] = commitOffsets('t', new Map([[3, { first: 0, last: 9, eventTs: 1234 }]]));
    assert.deepEqual(c, { topic: 't', partition: 3, offset: '10', metadata: '{"eventTs":1234}' });
    assert.equal(parseWatermarkMetadata(c!.metadata), 1234);
    assert.equal(parseWatermarkMetadata('something else'), null);
    assert.equal(parseWatermarkMetadata(''), null);
  });
});

import { createHash } from 'node:crypto';

/** The offsets of one partition in one batch (inclusive). */
export interface OffsetRange {
  readonly first: number;
  readonly last: number;
  /**
   * The newest event time (ms) among the requests of this partition consumed up to `last` (this batch
   * and the earlier ones since the partition was assigned); absent when none parsed. Committed with
   * the offset as its metadata, it is the partition's stored event-time watermark (the hunt lease reads it).
   */
  readonly eventTs?: number;
}

/** Highest offsets of a partition already in ClickHouse (-1: none): tile_requests and dead_letters apart. */
export interface StoredOffsets {
  readonly data: number;
  readonly dead: number;
  /** Newest event time stored in the partition up to there (ms; absent: unknown). */
  readonly eventTs?: number;
}

/** What is left to store of a delivered message (its rows may already be stored in one table and not the other). */
export interface Admission {
  /** Its requests are not in tile_requests yet. */
  readonly newData: boolean;
  /** Its dead letters are not in dead_letters yet. */
  readonly newDead: boolean;
  /** It was not fed to the detector yet (a message consumed, abandoned unstored and delivered again was). */
  readonly detect: boolean;
}

interface PartitionOffsets {
  /** Highest offset processed (held, in flight or stored): re-delivered offsets up to it are skipped. */
  lastOffset: number;
  /** Highest offset already in tile_requests / dead_letters: re-delivered offsets up to it are not stored again. */
  storedData: number;
  storedDead: number;
  /** The partition's high watermark when last delivered (null: not delivered since it was assigned). */
  highWatermark: number | null;
  /** Newest event time consumed since the partition was assigned (-Infinity: none). */
  eventTs: number;
  /** Highest offset fed to the detector (at assignment: the stored end, which the detector restore covers). */
  detected: number;
}

/**
 * Where every offset of the assigned partitions stands: consumed, in the open batch, stored. Plain
 * data, no I/O: ClickHouse is the offset store (the stored offsets come from its lineage columns at
 * assignment), and only the ranges of a stored batch are committed.
 */
export class OffsetLedger {
  private readonly parts = new Map<number, PartitionOffsets>();
  /** Offset range per partition of the batch being filled. */
  private open = new Map<number, { first: number; last: number; eventTs?: number }>();

  /** The partitions held now, ascending. */
  partitions(): number[] {
    return [...this.parts.keys()].sort((a, b) => a - b);
  }

  holds(partition: number): boolean {
    return this.parts.has(partition);
  }

  /**
   * The group assigned `mine`: partitions not in it are dropped; returns those of `mine` not held yet
   * (read their stored offsets, then {@link add} them).
   */
  reassign(mine: ReadonlySet<number>): number[] {
    for (const p of [...this.parts.keys()]) if (!mine.has(p)) this.parts.delete(p);
    return [...mine].filter((p) => !this.parts.has(p));
  }

  /** A partition joins with the highest offsets ClickHouse already holds for it. */
  add(partition: number, stored: StoredOffsets): void {
    this.parts.set(partition, { lastOffset: -1, storedData: stored.data, storedDead: stored.dead, highWatermark: null, eventTs: stored.eventTs !== undefined && stored.eventTs > 0 ? stored.eventTs : Number.NEGATIVE_INFINITY, detected: Math.max(stored.data, stored.dead) });
  }

  /**
   * A delivered message of a held partition. `null` when it was consumed before (a re-delivery up
   * to the last offset): skip it. Otherwise it joins the open batch's range and the answer says
   * which of its outputs are not stored yet.
   */
  consume(partition: number, offset: number): Admission | null {
    const ps = this.parts.get(partition);
    if (!ps) throw new Error(`partition ${partition} is not assigned`);
    if (offset <= ps.lastOffset) return null;
    const range = this.open.get(partition);
    if (range) range.last = offset;
    else this.open.set(partition, { first: offset, last: offset });
    ps.lastOffset = offset;
    const detect = offset > ps.detected;
    if (detect) ps.detected = offset;
    return { newData: offset > ps.storedData, newDead: offset > ps.storedDead, detect };
  }

  /**
   * The batch being filled is dropped unstored (a rebalance began before it was cut): its offsets
   * count as not consumed, so their delivery again (from the committed offsets, after the rejoin) is
   * stored — but not fed to the detector a second time.
   */
  abandonOpen(): void {
    for (const [p, r] of this.open) {
      const ps = this.parts.get(p);
      if (ps) ps.lastOffset = Math.min(ps.lastOffset, r.first - 1);
    }
    this.open = new Map();
  }

  /** A request of `partition` (consumed into the open batch) happened at `ts` (event time, ms). */
  noteEventTime(partition: number, ts: number): void {
    const ps = this.parts.get(partition);
    if (ps && ts > ps.eventTs) ps.eventTs = ts;
  }

  /** A delivery of `partition` said its log ends before `highWatermark` (the next offset to be written). */
  noteHighWatermark(partition: number, highWatermark: number): void {
    const ps = this.parts.get(partition);
    if (ps) ps.highWatermark = highWatermark;
  }

  /**
   * Every held partition has been delivered since its assignment and was consumed to the high
   * watermark its last delivery reported: nothing more is waiting (as far as the deliveries said).
   * A partition that was never delivered (empty ones are not) keeps this false.
   */
  caughtUp(): boolean {
    if (this.parts.size === 0) return false;
    for (const ps of this.parts.values()) if (ps.highWatermark === null || ps.lastOffset < ps.highWatermark - 1) return false;
    return true;
  }

  /** Highest offset consumed in `partition` (-1: none yet). */
  lastOffset(partition: number): number {
    return this.parts.get(partition)?.lastOffset ?? -1;
  }

  /** Closes the open batch: its offset range per partition (a new batch starts empty). */
  takeRanges(): ReadonlyMap<number, OffsetRange> {
    const ranges = this.open;
    this.open = new Map();
    for (const [p, r] of ranges) {
      const ts = this.parts.get(p)?.eventTs;
      if (ts !== undefined && Number.isFinite(ts)) r.eventTs = ts;
    }
    return ranges;
  }

  /** The batch with these ranges is stored (both tables): re-deliveries up to them are not stored again. */
  stored(ranges: ReadonlyMap<number, OffsetRange>): void {
    for (const [p, r] of ranges) {
      const ps = this.parts.get(p);
      if (!ps) continue;
      ps.storedData = Math.max(ps.storedData, r.last);
      ps.storedDead = Math.max(ps.storedDead, r.last);
    }
  }
}

/**
 * What may be committed once a batch is stored: the next offset to read (`last + 1`) of every
 * partition in it, with the partition's stored event-time watermark as metadata ({@link watermarkMetadata}).
 */
export function commitOffsets(topic: string, ranges: ReadonlyMap<number, OffsetRange>): Array<{ topic: string; partition: number; offset: string; metadata?: string }> {
  return [...ranges].map(([partition, r]) => ({ topic, partition, offset: String(r.last + 1), ...(r.eventTs !== undefined ? { metadata: watermarkMetadata(r.eventTs) } : {}) }));
}

/** The offset metadata of a commit: `{"eventTs":ms}`, the newest event time stored in the partition up to that offset. */
export function watermarkMetadata(eventTs: number): string {
  return JSON.stringify({ eventTs });
}

/** The event time a commit's metadata carries (null: none, or not tilewatch's). */
export function parseWatermarkMetadata(metadata: string | null | undefined): number | null {
  if (!metadata) return null;
  try {
    const v = (JSON.parse(metadata) as { eventTs?: unknown }).eventTs;
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** The insert deduplication token of a batch: its source and a hash of its partition offset ranges (identical on every retry). */
export function batchToken(source: string, ranges: ReadonlyMap<number, OffsetRange>): string {
  const hash = createHash('sha256')
    .update([...ranges].map(([p, r]) => `${p}:${r.first}-${r.last}`).join(','))
    .digest('hex')
    .slice(0, 32);
  return `${source}:${hash}`;
}

import type { ProducedMessage } from '../../kafka/producer.ts';
import { DeadLetterTally, type DeadLetterCategory } from '../../core/validate/deadLetterReason.ts';
import { TsvBuffer } from '../../store/tsvBuffer.ts';

/** How far a due batch may grow while the previous one is still being stored (× maxRows). */
export const BATCH_GROWTH = 4;

/**
 * A batch of at least maxRows / this is cut as soon as the consumer has caught up (nothing more is
 * waiting in its partitions) and the store is free, instead of waiting for its age: the end of a
 * backlog is stored at once. Smaller ones wait for maxMs, so a trickle still makes one insert per
 * maxMs (an insert costs the engine ≈ 0.1 s of CPU whatever its size).
 */
export const CAUGHT_UP_FRACTION = 5;

export interface BatchLimits {
  /** A batch is due when it holds this many rows or messages… */
  readonly maxRows: number;
  /** …or its first message is this old (wall clock, ms). */
  readonly maxMs: number;
  /** While the previous batch is being stored, a due batch may grow to growth × maxRows. Default {@link BATCH_GROWTH}. */
  readonly growth?: number;
}

/**
 * A run of one partition's messages in a batch, in delivery order: where its rows and dead letters
 * lie in the batch's buffers (byte offsets, end exclusive). A partition fetched several times while
 * the batch filled has several segments; the offset ranges are the ledger's (OffsetLedger.takeRanges).
 * Nothing reads them yet: they let a batch be split into one insert per partition range without
 * re-encoding (issue 16).
 */
export interface BatchSegment {
  readonly partition: number;
  readonly rows: readonly [start: number, end: number];
  readonly dead: readonly [start: number, end: number];
}

/** A closed batch: what one flush stores (one insert per table) and produces. */
export interface AssembledBatch {
  readonly messages: number;
  readonly rows: Buffer;
  readonly rowCount: number;
  readonly dead: Buffer;
  readonly deadCount: number;
  /** Its dead letters by reason category (they add up to deadCount). */
  readonly deadReasons: ReadonlyMap<DeadLetterCategory, number>;
  /** Copies of its dead letters for the dead-letter topic. */
  readonly deadLetterMessages: readonly ProducedMessage[];
  /** Its parsed requests for the re-publish topic. */
  readonly republished: readonly ProducedMessage[];
  /** Its runs of one partition each (see {@link BatchSegment}). */
  readonly segments: readonly BatchSegment[];
}

/**
 * The batch being filled (all partitions together) and when it is due: at maxRows rows or messages,
 * or maxMs after its first message. While the previous batch is still being stored, a due batch
 * keeps filling (up to growth × maxRows) and is cut when the store is free: slow inserts make fewer,
 * larger batches instead of a queue. Plain data, no I/O: the line step writes rows into
 * {@link rows} and {@link dead}.
 */
export class BatchAssembly {
  /** TSV rows for tile_requests (the line step appends to it). */
  readonly rows = new TsvBuffer(4 << 20);
  /** TSV rows for dead_letters. */
  readonly dead = new TsvBuffer(1 << 16);
  /** Each row written to {@link dead} is counted here by its reason (the line step and decode failures). */
  readonly deadReasons = new DeadLetterTally();
  private deadLetterMessages: ProducedMessage[] = [];
  /** Segment starts: partition, rows byte offset, dead byte offset (closed by the next start or take). */
  private starts: Array<{ partition: number; rows: number; dead: number }> = [];
  private republished: ProducedMessage[] = [];
  private messageCount = 0;
  private openedAt = 0;
  private readonly growth: number;

  constructor(
    private readonly limits: BatchLimits,
    private readonly now: () => number,
  ) {
    this.growth = limits.growth ?? BATCH_GROWTH;
  }

  /** The messages that follow are of `partition` (a delivered partition batch starts). */
  startSegment(partition: number): void {
    const last = this.starts[this.starts.length - 1];
    if (last && last.rows === this.rows.byteLength && last.dead === this.dead.byteLength) this.starts.pop(); // the previous one stayed empty
    const prev = this.starts[this.starts.length - 1];
    if (prev && prev.partition === partition) return; // the same partition again: one run
    this.starts.push({ partition, rows: this.rows.byteLength, dead: this.dead.byteLength });
  }

  /** A message joins the batch (the first one starts its age). */
  addMessage(): void {
    if (this.messageCount++ === 0) this.openedAt = this.now();
  }

  addDeadLetterMessage(m: ProducedMessage): void {
    this.deadLetterMessages.push(m);
  }

  addRepublished(m: ProducedMessage): void {
    this.republished.push(m);
  }

  /** Messages in the batch. */
  get messages(): number {
    return this.messageCount;
  }

  /** The batch's size: rows or messages, whichever is more. */
  held(): number {
    return Math.max(this.rows.rows, this.messageCount);
  }

  /** Due: it holds messages and is full or old enough. */
  due(): boolean {
    return this.messageCount > 0 && (this.held() >= this.limits.maxRows || this.now() - this.openedAt >= this.limits.maxMs);
  }

  /**
   * Cut it now? A due batch waits while the previous one is being stored (`storing`), unless it has
   * grown too large to wait; when the consumer has `caughtUp`, a batch of maxRows / {@link CAUGHT_UP_FRACTION}
   * or more is due at once.
   */
  shouldCut(storing: boolean, caughtUp = false): boolean {
    if (caughtUp && !storing && this.messageCount > 0 && this.held() * CAUGHT_UP_FRACTION >= this.limits.maxRows) return true;
    return this.due() && (!storing || this.held() >= this.growth * this.limits.maxRows);
  }

  /** Closes the batch (the next one starts empty). */
  take(): AssembledBatch {
    const rowsEnd = this.rows.byteLength;
    const deadEnd = this.dead.byteLength;
    const segments: BatchSegment[] = [];
    this.starts.forEach((st, i) => {
      const next = this.starts[i + 1];
      const seg: BatchSegment = { partition: st.partition, rows: [st.rows, next?.rows ?? rowsEnd], dead: [st.dead, next?.dead ?? deadEnd] };
      if (seg.rows[1] > seg.rows[0] || seg.dead[1] > seg.dead[0]) segments.push(seg);
    });
    this.starts = [];
    const batch: AssembledBatch = {
      segments,
      messages: this.messageCount,
      rowCount: this.rows.rows,
      rows: this.rows.take(),
      deadCount: this.dead.rows,
      dead: this.dead.take(),
      deadReasons: this.deadReasons.take(),
      deadLetterMessages: this.deadLetterMessages,
      republished: this.republished,
    };
    this.deadLetterMessages = [];
    this.republished = [];
    this.messageCount = 0;
    return batch;
  }
}

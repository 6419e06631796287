import type { ProducedMessage } from '../../kafka/producer.ts';
import { TsvBuffer } from '../../store/tsvBuffer.ts';

/** How far a due batch may grow while the previous one is still being stored (× maxRows). */
export const BATCH_GROWTH = 4;

export interface BatchLimits {
  /** A batch is due when it holds this many rows or messages… */
  readonly maxRows: number;
  /** …or its first message is this old (wall clock, ms). */
  readonly maxMs: number;
  /** While the previous batch is being stored, a due batch may grow to growth × maxRows. Default {@link BATCH_GROWTH}. */
  readonly growth?: number;
}

/** A closed batch: what one flush stores (one insert per table) and produces. */
export interface AssembledBatch {
  readonly messages: number;
  readonly rows: Buffer;
  readonly rowCount: number;
  readonly dead: Buffer;
  readonly deadCount: number;
  /** Copies of its dead letters for the dead-letter topic. */
  readonly deadLetterMessages: readonly ProducedMessage[];
  /** Its parsed requests for the re-publish topic. */
  readonly republished: readonly ProducedMessage[];
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
  private deadLetterMessages: ProducedMessage[] = [];
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

  /** Cut it now? A due batch waits while the previous one is being stored (`storing`), unless it has grown too large to wait. */
  shouldCut(storing: boolean): boolean {
    return this.due() && (!storing || this.held() >= this.growth * this.limits.maxRows);
  }

  /** Closes the batch (the next one starts empty). */
  take(): AssembledBatch {
    const batch: AssembledBatch = {
      messages: this.messageCount,
      rowCount: this.rows.rows,
      rows: this.rows.take(),
      deadCount: this.dead.rows,
      dead: this.dead.take(),
      deadLetterMessages: this.deadLetterMessages,
      republished: this.republished,
    };
    this.deadLetterMessages = [];
    this.republished = [];
    this.messageCount = 0;
    return batch;
  }
}

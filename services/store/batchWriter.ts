import type { ClickHouseClient } from '@clickhouse/client';
import type { Clock, Random } from '../core/clock.ts';
import { backoffDelay, type RetryPolicy } from '../core/retry.ts';
import { systemClock } from '../runtime/systemClock.ts';
import type { Store } from './openStore.ts';
import { dedupSettings, insertBisecting, isRowRejection, rejectedRowsAsDeadLetters, type RejectedRow } from './insertBisecting.ts';
import { DEAD_LETTER_COLUMNS, TILE_REQUEST_COLUMNS } from './tileRequestRows.ts';
import { tsvDateTime64, tsvString } from './tsv.ts';

/** One deterministic slice of a source: the rows of lines [firstLine, lastLine] as TSV. */
export interface Batch {
  /** Source identity (content hash) — not the path, so a renamed or gzipped log dedups too. */
  readonly sourceId: string;
  readonly file: string;
  readonly partition: number;
  readonly firstLine: number;
  readonly lastLine: number;
  readonly rows: Buffer;
  readonly rowCount: number;
  readonly deadLetters: Buffer;
  readonly deadLetterCount: number;
}

export interface BatchWriterOptions {
  readonly store: Pick<Store, 'insertRaw'>;
  /** Inserts in flight at once (ClickHouse prefers ~1 insert/s per table). Default 2. */
  readonly maxInFlight?: number;
  /** Attempts per insert before the error propagates (the run stops and nothing after it is claimed stored). Default 6 ({@link BATCH_WRITER_RETRY}). */
  readonly maxAttempts?: number;
  /** Base backoff in ms, doubled per attempt with jitter. Default 200. */
  readonly backoffMs?: number;
  /** Cap on one backoff step. Default 30 s. */
  readonly maxBackoffMs?: number;
  readonly onRetry?: (err: Error, attempt: number, batch: Batch) => void;
  /** Waits between attempts and the audit time. Default systemClock. */
  readonly clock?: Clock;
  /** Jitter of the backoff. Default Math.random. */
  readonly random?: Random;
  /** Overrides the clock's sleep (tests that need no waiting). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Wall clock for the `stored_at` / `received_at` audit columns only (never for detection). Default the clock's. */
  readonly now?: () => number;
}

/** Retries of one insert by the batch writer: 6 attempts, 200 ms doubling to 30 s, centred jitter. */
export const BATCH_WRITER_RETRY: RetryPolicy = Object.freeze({ maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 30_000, jitter: 'centred' });

/** Deduplication token of a batch: identical on every retry and every replay of the same content. */
export function batchToken(b: Pick<Batch, 'sourceId' | 'partition' | 'firstLine' | 'lastLine'>): string {
  return `${b.sourceId}:${b.partition}:${b.firstLine}-${b.lastLine}`;
}

/**
 * Writes batches idempotently: rows and dead letters are inserted with insert_deduplication_token
 * derived from the batch's source and line range, then the batch is recorded in `ingest_batches`.
 * A crash between the two leaves a batch the next run re-inserts with the same token, which
 * ClickHouse drops as a duplicate. At most `maxInFlight` inserts run at once; `write` waits
 * (backpressure) when that many are pending.
 */
export class BatchWriter {
  private readonly inFlight = new Set<Promise<void>>();
  private failure: Error | null = null;
  private readonly maxInFlight: number;
  private readonly policy: RetryPolicy;
  private readonly random: Random;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** `rejected`: rows the store refused on its own (bisected out, stored as dead letters; also counted in `deadLetters`). */
  stats = { batches: 0, rows: 0, deadLetters: 0, rejected: 0, retries: 0, insertMs: 0 };

  constructor(private readonly opts: BatchWriterOptions) {
    this.maxInFlight = opts.maxInFlight ?? 2;
    const d = BATCH_WRITER_RETRY;
    this.policy = { ...d, maxAttempts: opts.maxAttempts ?? d.maxAttempts, baseDelayMs: opts.backoffMs ?? d.baseDelayMs, maxDelayMs: opts.maxBackoffMs ?? d.maxDelayMs };
    const clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? ((ms) => clock.sleep(ms));
    this.now = opts.now ?? (() => clock.now());
  }

  async write(batch: Batch): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inFlight.size >= this.maxInFlight) {
      await Promise.race(this.inFlight);
      if (this.failure) throw this.failure;
    }
    const p = this.store(batch).catch((err: unknown) => {
      this.failure ??= err as Error;
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Waits for every pending insert; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private async store(b: Batch): Promise<void> {
    const token = batchToken(b);
    const t0 = performance.now();
    // A value the engine still refuses costs only its own row: the rest of the batch is stored.
    const rejected: RejectedRow[] =
      b.rowCount > 0 ? await insertBisecting(this.opts.store, { table: 'tile_requests', columns: TILE_REQUEST_COLUMNS, body: b.rows, token, attempt: (fn) => this.retry(b, fn) }) : [];
    const deadBody = rejected.length > 0 ? Buffer.concat([b.deadLetters, rejectedRowsAsDeadLetters(rejected, this.now())]) : b.deadLetters;
    const deadCount = b.deadLetterCount + rejected.length;
    const rowCount = b.rowCount - rejected.length;
    if (deadCount > 0) {
      await this.retry(b, () =>
        this.opts.store.insertRaw({ table: 'dead_letters', columns: DEAD_LETTER_COLUMNS, body: deadBody, format: 'TabSeparated', settings: dedupSettings(`${token}:dl`) }),
      );
    }
    const ledger =
      `${tsvString(token)}\t${tsvString(b.sourceId)}\t${tsvString(b.file)}\t${b.partition}\t${b.firstLine}\t${b.lastLine}\t` +
      `${rowCount}\t${deadCount}\t${tsvDateTime64(this.now())}\n`;
    await this.retry(b, () =>
      this.opts.store.insertRaw({
        table: 'ingest_batches',
        columns: ['token', 'source', 'file', 'partition', 'first_line', 'last_line', 'rows', 'dead_letters', 'stored_at'],
        body: Buffer.from(ledger),
        format: 'TabSeparated',
      }),
    );
    this.stats.batches++;
    this.stats.rows += rowCount;
    this.stats.deadLetters += deadCount;
    this.stats.rejected += rejected.length;
    this.stats.insertMs += performance.now() - t0;
  }

  private async retry<T>(b: Batch, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= this.policy.maxAttempts || !isRetryableStoreError(err)) throw err;
        this.stats.retries++;
        this.opts.onRetry?.(err as Error, attempt, b);
        await this.sleep(backoffDelay(attempt, this.policy, this.random));
      }
    }
  }
}

/** Syntax and type errors are bugs or bad schema, not outages: retrying them only delays the report. */
export function isRetryableStoreError(err: unknown): boolean {
  if (isRowRejection(err)) return false;
  const msg = String((err as Error)?.message ?? err);
  return !/SYNTAX_ERROR|UNKNOWN_TABLE|UNKNOWN_IDENTIFIER|CANNOT_PARSE|TYPE_MISMATCH|NO_SUCH_COLUMN|Code: (62|60|47|27|53|16)\./.test(msg);
}

/** Stored line ranges of a source, from the ledger; used to skip what a previous replay already stored. */
export async function storedRanges(client: ClickHouseClient, sourceId: string, partition = -1): Promise<Array<[number, number]>> {
  const rs = await client.query({
    query: 'SELECT first_line, last_line FROM ingest_batches FINAL WHERE source = {source:String} AND partition = {partition:Int32} ORDER BY first_line',
    query_params: { source: sourceId, partition },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ first_line: string | number; last_line: string | number }>();
  return rows.map((r) => [Number(r.first_line), Number(r.last_line)]);
}

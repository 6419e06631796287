import type { Store } from './openStore.ts';
import { tsvDateTime64, tsvString } from './tsv.ts';

/**
 * Engine errors that name bad data in the inserted rows (a value it cannot parse or store), not an
 * outage or a bug in the statement: ClickHouse codes 6 CANNOT_PARSE_TEXT, 27 CANNOT_PARSE_INPUT_ASSERTION_FAILED,
 * 38 CANNOT_PARSE_DATE, 41 CANNOT_PARSE_DATETIME, 69 ARGUMENT_OUT_OF_BOUND, 70 CANNOT_CONVERT_TYPE,
 * 72 CANNOT_PARSE_NUMBER, 117 INCORRECT_DATA, 131 TOO_LARGE_STRING_SIZE, 321 VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE,
 * 407 DECIMAL_OVERFLOW. A violated table constraint (469) is not among them: a constraint is the
 * operator's policy for the whole table (or a schema change in progress), so it is retried as an
 * outage rather than dead-lettering every row it refuses.
 */
const ROW_REJECTION = /\bCode: (6|27|38|41|69|70|72|117|131|321|407)\.|CANNOT_PARSE|VALUE_IS_OUT_OF_RANGE|INCORRECT_DATA/;

export function isRowRejection(err: unknown): boolean {
  return ROW_REJECTION.test(String((err as Error)?.message ?? err));
}

/**
 * Insert settings for an idempotent insert: the token makes ClickHouse drop a block it already stored,
 * and the materialized views deduplicate with it, so a re-inserted batch is not counted twice in the
 * aggregates either.
 */
export function dedupSettings(token: string): Record<string, string | number> {
  return { insert_deduplication_token: token, insert_deduplicate: 1, deduplicate_blocks_in_dependent_materialized_views: 1 };
}

/** A row the engine refused on its own, with the engine's reason. */
export interface RejectedRow {
  /** The TSV row as sent, without its newline. */
  readonly row: string;
  readonly reason: string;
}

export interface BisectingInsert {
  readonly table: string;
  readonly columns: readonly string[];
  /** TabSeparated rows, one per line. */
  readonly body: Buffer;
  /** Deduplication token of the whole body; halves get `token/first-last` (row indexes), the same on every retry. */
  readonly token: string;
  /** Runs one insert with the caller's outage policy (retries with backoff); must rethrow rejections. */
  readonly attempt: (fn: () => Promise<unknown>) => Promise<unknown>;
}

/**
 * Inserts TSV rows; when the engine rejects the data, splits the rows in halves and inserts each, down
 * to single rows, so the good rows are stored and each culprit is returned with the engine's reason
 * (the caller dead-letters it). k bad rows among n cost about 2·k·log2(n) inserts; a clean body costs
 * one. Deterministic: the same body splits the same way with the same tokens, so a retry after a crash
 * is deduplicated like the first attempt.
 */
export async function insertBisecting(store: Pick<Store, 'insertRaw'>, req: BisectingInsert): Promise<RejectedRow[]> {
  const rejected: RejectedRow[] = [];
  const insert = (body: Buffer, token: string): Promise<unknown> =>
    req.attempt(() =>
      store.insertRaw({
        table: req.table,
        columns: req.columns,
        body,
        format: 'TabSeparated',
        settings: dedupSettings(token),
      }),
    );
  try {
    await insert(req.body, req.token);
    return rejected;
  } catch (err) {
    if (!isRowRejection(err)) throw err;
  }
  const rows = splitRows(req.body);
  const go = async (lo: number, hi: number): Promise<void> => {
    const body = Buffer.concat(rows.slice(lo, hi));
    try {
      await insert(body, `${req.token}/${lo}-${hi - 1}`);
    } catch (err) {
      if (!isRowRejection(err)) throw err;
      if (hi - lo === 1) {
        rejected.push({ row: rows[lo]!.toString('utf8').replace(/\n$/, ''), reason: engineReason(err) });
        return;
      }
      const mid = (lo + hi) >>> 1;
      await go(lo, mid);
      await go(mid, hi);
    }
  };
  const mid = (rows.length + 1) >>> 1;
  if (rows.length === 1) {
    await go(0, 1);
  } else {
    await go(0, mid);
    await go(mid, rows.length);
  }
  return rejected;
}

/** Rows of a TSV body, each with its newline (escaped newlines inside fields are `\n` text, never a byte 0x0a). */
function splitRows(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = body.indexOf(0x0a); i !== -1; i = body.indexOf(0x0a, start)) {
    out.push(body.subarray(start, i + 1));
    start = i + 1;
  }
  if (start < body.length) out.push(body.subarray(start));
  return out;
}

/** The engine's first line, without the stack trace or the echo of the row (which the dead letter holds anyway). */
function engineReason(err: unknown): string {
  const first = String((err as Error)?.message ?? err).split('\n')[0] ?? '';
  return `rejected by the store: ${first.length > 300 ? `${first.slice(0, 300)}…` : first}`;
}

/**
 * Dead-letter rows (DEAD_LETTER_COLUMNS order) for rows the store rejected. Lineage is read from the
 * row's last three fields (source, partition, line), which tile_requests rows end with; the row text
 * is the raw evidence.
 */
export function rejectedRowsAsDeadLetters(rejected: readonly RejectedRow[], receivedAt: number): Buffer {
  let out = '';
  for (const r of rejected) {
    const f = r.row.split('\t');
    const n = f.length;
    const line = /^\d+$/.test(f[n - 1] ?? '') ? f[n - 1]! : '0';
    const partition = /^-?\d+$/.test(f[n - 2] ?? '') ? f[n - 2]! : '-1';
    // The source field is still TSV-escaped, as the dead-letter row needs it.
    out += `${tsvDateTime64(receivedAt)}\t${f[n - 3] ?? ''}\t${partition}\t${line}\t${tsvString(r.reason)}\t${tsvString(r.row)}\n`;
  }
  return Buffer.from(out);
}

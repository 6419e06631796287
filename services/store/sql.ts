/**
 * The one way code outside the store reads from (and writes single statements to) ClickHouse: typed
 * query parameters only (`{name:Type}`), never values pasted into SQL text. Every typed read returns
 * 64-bit integers as JSON numbers (exact below 2^53: counts, epoch milliseconds, offsets, line
 * numbers) and, unless it says otherwise, is bounded in time.
 *
 * Settings go in the statement's own SETTINGS clause, never in `clickhouse_settings`: on chDB the
 * latter become session-wide `SET`s that would outlive the query (a `readonly` there would stop
 * every later write of the process — the API shares one store with ingest in `serve`).
 */
import type { ClickHouseClient } from '@clickhouse/client';

export type Params = Readonly<Record<string, unknown>>;

/** A statement setting; `null` leaves it out (the server's or profile's own value applies). */
export type SettingValue = string | number | null;
export type Settings = Readonly<Record<string, SettingValue>>;

/** Per-statement settings of every typed read: 64-bit integers as numbers, at most 60 s. */
export const READ_SETTINGS = { output_format_json_quote_64bit_integers: 0, max_execution_time: 60 } as const satisfies Settings;

export interface ReadOptions {
  /** Settings on top of (or, by name, instead of) {@link READ_SETTINGS}. */
  readonly settings?: Settings;
}

/**
 * For background reads (the hunts over their whole look-back, restoring state at start) that were
 * never bounded by a per-statement time limit.
 */
export const NO_TIME_LIMIT: ReadOptions = { settings: { max_execution_time: null } };

/** `SETTINGS a = 1, b = 'x'` for the given settings (nulls left out), or '' when none remain. */
export function settingsClause(settings: Settings): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(settings)) {
    if (value === null) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid setting name ${JSON.stringify(name)}`);
    parts.push(`${name} = ${typeof value === 'number' ? String(value) : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`}`);
  }
  return parts.length === 0 ? '' : `\nSETTINGS ${parts.join(', ')}`;
}

/**
 * Reads rows as objects keyed by column name. Times travel as epoch milliseconds
 * (`fromUnixTimestamp64Milli({from:Int64})`, `toUnixTimestamp64Milli(ts)`). A column that holds NaN
 * (0/0, the median of nothing) comes back as null.
 */
export async function readRows<T>(client: ClickHouseClient, query: string, params: Params = {}, opts: ReadOptions = {}): Promise<T[]> {
  const rs = await client.query({
    query: query + settingsClause({ ...READ_SETTINGS, ...opts.settings }),
    query_params: { ...params },
    // Column names once, then positional rows: measured ~1.5× faster than JSONEachRow on the
    // exposure query's 22k rows (npm run bench:api), where formatting dominated.
    format: 'JSONCompactEachRowWithNames',
  });
  const [names, ...rows] = await rs.json<unknown[]>();
  if (names === undefined) return [];
  const keys = names as string[];
  return rows.map((row) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) o[keys[i]!] = row[i];
    return o as T;
  });
}

/**
 * The rows as ClickHouse prints them in JSONEachRow (one object a line, ClickHouse's own quoting of
 * 64-bit integers), for exports that keep the engine's text. Only the given settings apply.
 */
export async function readJsonLines(client: ClickHouseClient, query: string, params: Params = {}, opts: ReadOptions = {}): Promise<string> {
  const rs = await client.query({ query: query + settingsClause(opts.settings ?? {}), query_params: { ...params }, format: 'JSONEachRow' });
  return rs.text();
}

/** An INSERT … SELECT {params} or other single statement (no inline data: chDB's inline-data path misreads a busy stdin). */
export async function execute(client: ClickHouseClient, query: string, params: Params = {}): Promise<void> {
  await client.command({ query, query_params: { ...params } });
}

/** Resolves when the store answers a trivial query; rejects otherwise. */
export async function ping(client: ClickHouseClient): Promise<void> {
  await client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((r) => r.text());
}

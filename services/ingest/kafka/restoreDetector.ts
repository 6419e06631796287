import { NO_TIME_LIMIT, readRows } from '../../store/sql.ts';
import type { AccessRecord } from '../../core/types.ts';
import type { StreamingDetector } from '../../detector/streamingDetector.ts';
import type { Store } from '../../store/openStore.ts';
import { detectorEvent, type Normalizer } from '../normalizer.ts';

export interface RestoreOptions {
  readonly store: Store;
  /** The lineage source (`kafka:topic`), or several (the paths `tilewatch follow` stored rows under). */
  readonly source: string | readonly string[];
  readonly partitions: readonly number[];
  /** How far back (event time, from each partition's newest stored request) state matters: the detector's idle window. */
  readonly windowMs: number;
  readonly detector: StreamingDetector;
  /** Normalises the rebuilt records, which also re-learns image extents. */
  readonly normalizer: Normalizer;
}

interface Row {
  ts: string;
  ip: string;
  method: string;
  status: number;
  bytes: number;
  host: string;
  path: string;
  referer: string;
  user_agent: string;
  partition: number;
  line: string;
  source: string;
}

/**
 * Rebuilds detector state for newly assigned partitions from what ClickHouse already holds: the
 * requests of the last `windowMs` of event time per partition, in order. A scrape that spans a
 * restart or a rebalance keeps its evidence; alert ids are deterministic, so re-raised alerts carry
 * the ids (and versions) they had. Returns the number of requests replayed.
 */
export async function restoreDetector(opts: RestoreOptions): Promise<number> {
  const sources = typeof opts.source === 'string' ? [opts.source] : [...opts.source];
  if (opts.partitions.length === 0 || sources.length === 0) return 0;
  const rows = await readRows<Row>(
    opts.store.client,
    `
      WITH bounds AS (
        SELECT partition, max(ts) AS newest FROM tile_requests
        WHERE source IN {sources:Array(String)} AND partition IN {parts:Array(Int32)} GROUP BY partition)
      SELECT toUnixTimestamp64Milli(t.ts) AS ts,
             replaceRegexpOne(IPv6NumToString(t.client), '^::ffff:', '') AS ip,
             t.method AS method, t.status AS status, t.bytes AS bytes, t.host AS host, t.path AS path,
             t.referer AS referer, t.user_agent AS user_agent, t.partition AS partition, toString(t.line) AS line, toString(t.source) AS source
      FROM tile_requests AS t INNER JOIN bounds AS b ON t.partition = b.partition
      WHERE t.source IN {sources:Array(String)} AND t.partition IN {parts:Array(Int32)}
        AND t.ts >= b.newest - toIntervalMillisecond({window:UInt64})
      ORDER BY t.ts, t.partition, t.source, t.line`,
    { sources, parts: [...opts.partitions], window: opts.windowMs },
    NO_TIME_LIMIT,
  );
  for (const r of rows) {
    const rec: AccessRecord = {
      ts: Number(r.ts),
      ip: r.ip,
      method: r.method,
      target: r.path,
      status: Number(r.status),
      bytes: Number(r.bytes),
      referer: r.referer,
      userAgent: r.user_agent,
      host: r.host,
    };
    const n = opts.normalizer.normalizeRecord(rec);
    if (n.ok) opts.detector.push(detectorEvent(n, { source: r.source, line: Number(r.line), partition: Number(r.partition) }));
  }
  return rows.length;
}

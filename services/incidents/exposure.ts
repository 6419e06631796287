/**
 * Image exposure: who reached which resolution band of an image, when, and how much of it — per
 * client and for all clients together (the union is what a coordinated group could stitch).
 */
import { canonicalIp } from '../core/logformat/canonicalIp.ts';
import type { Store } from '../store/openStore.ts';
import { bandGrid, cellRowsSql, CELL_PX } from './bands.ts';
import { imageSize, type ImageSize } from './images.ts';
import type { TimeRange } from './inputs.ts';
import { iso, readRows } from './sql.ts';

export interface BandExposure {
  readonly band: number;
  readonly scale: number;
  readonly longEdge: number;
  readonly cells: number;
  readonly totalCells: number;
  /** 0..1 of the band's cells revealed. */
  readonly coverage: number;
  readonly firstRevealAt: string;
  readonly lastRevealAt: string;
  /** When coverage first reached `minCoverage`, or null. */
  readonly reachedAt: string | null;
}

export interface Evidence {
  readonly source: string;
  readonly partition: number;
  readonly line: number;
  readonly at: string;
}

export interface ClientExposure {
  readonly ip: string;
  readonly requests: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly bands: readonly BandExposure[];
  /** Long edge (px) of the best reconstruction at ≥ minCoverage; 0 when none. */
  readonly reconstructLongEdge: number;
  readonly firstEvidence: Evidence;
  readonly lastEvidence: Evidence;
}

export interface ImageExposure {
  readonly imageId: string;
  readonly size: ImageSize | null;
  readonly from: string;
  readonly to: string;
  readonly minCoverage: number;
  readonly union: { readonly bands: readonly BandExposure[]; readonly reconstructLongEdge: number };
  /** Clients ordered by reconstructable long edge, then cells. */
  readonly clients: readonly ClientExposure[];
  /** Clients with revealed cells in the range (clients may be cut to `maxClients`). */
  readonly clientCount: number;
  readonly truncated: boolean;
}

interface BandRow {
  ip: string;
  band: number;
  cells: number;
  total: number;
  first_ms: number;
  last_ms: number;
  reached_ms: number;
}

const RANGE = 'ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})';

const BAND_SQL = `WITH cells AS (
    SELECT client, band, cx, cy, min(ts) AS first_ts
    FROM (${cellRowsSql(`image_id = {image:String} AND ${RANGE}`)})
    GROUP BY client, band, cx, cy
  )
  SELECT ip, band, cells, total, first_ms, last_ms, reached_ms FROM (
    SELECT toString(client) AS ip, band, toUInt32(count()) AS cells,
      toUInt32(greatest(1, ceil({w:Float64} / (${CELL_PX} * pow(2, band)) - 0.5)) * greatest(1, ceil({h:Float64} / (${CELL_PX} * pow(2, band)) - 0.5))) AS total,
      toUInt32(greatest(1, ceil({cov:Float64} * total - 1e-9))) AS need,
      toUnixTimestamp64Milli(min(first_ts)) AS first_ms, toUnixTimestamp64Milli(max(first_ts)) AS last_ms,
      if(cells >= need, toUnixTimestamp64Milli(arraySort(groupArray(first_ts))[need]), 0) AS reached_ms
    FROM cells GROUP BY client, band
    UNION ALL
    SELECT '' AS ip, band, toUInt32(count()) AS cells,
      toUInt32(greatest(1, ceil({w:Float64} / (${CELL_PX} * pow(2, band)) - 0.5)) * greatest(1, ceil({h:Float64} / (${CELL_PX} * pow(2, band)) - 0.5))) AS total,
      toUInt32(greatest(1, ceil({cov:Float64} * total - 1e-9))) AS need,
      toUnixTimestamp64Milli(min(first_ts)) AS first_ms, toUnixTimestamp64Milli(max(first_ts)) AS last_ms,
      if(cells >= need, toUnixTimestamp64Milli(arraySort(groupArray(first_ts))[need]), 0) AS reached_ms
    FROM (SELECT band, cx, cy, min(first_ts) AS first_ts FROM cells GROUP BY band, cx, cy) GROUP BY band
  )
  ORDER BY ip = '' DESC, cells DESC, ip, band
  LIMIT {maxRows:UInt32}`;

interface ClientRow {
  ip: string;
  requests: number;
  first_ms: number;
  last_ms: number;
  f_source: string;
  f_partition: number;
  f_line: number;
  l_source: string;
  l_partition: number;
  l_line: number;
}

const CLIENT_SQL = `SELECT toString(client) AS ip, count() AS requests,
    toUnixTimestamp64Milli(min(ts)) AS first_ms, toUnixTimestamp64Milli(max(ts)) AS last_ms,
    argMin(source, (ts, line)) AS f_source, argMin(partition, (ts, line)) AS f_partition, argMin(line, (ts, line)) AS f_line,
    argMax(source, (ts, line)) AS l_source, argMax(partition, (ts, line)) AS l_partition, argMax(line, (ts, line)) AS l_line
  FROM tile_requests
  WHERE image_id = {image:String} AND ${RANGE} AND client IN {clients:Array(IPv6)}
  GROUP BY client`;

function toBand(r: BandRow, width: number, height: number): BandExposure {
  const g = bandGrid(width, height, r.band);
  return {
    band: r.band,
    scale: g.scale,
    longEdge: g.longEdge,
    cells: r.cells,
    totalCells: r.total,
    coverage: Math.min(1, Math.round((r.cells / Math.max(1, r.total)) * 10_000) / 10_000),
    firstRevealAt: iso(r.first_ms),
    lastRevealAt: iso(r.last_ms),
    reachedAt: r.reached_ms > 0 ? iso(r.reached_ms) : null,
  };
}

/** Best long edge among bands that reached the coverage threshold. */
export function reconstructLongEdge(bands: readonly BandExposure[], minLongEdge = 0): { longEdge: number; since: string | null } {
  let longEdge = 0;
  let since: string | null = null;
  for (const b of bands) {
    if (b.reachedAt === null || b.longEdge < minLongEdge) continue;
    longEdge = Math.max(longEdge, b.longEdge);
    if (since === null || b.reachedAt < since) since = b.reachedAt;
  }
  return { longEdge, since };
}

export interface ExposureQuery {
  readonly imageId: string;
  readonly range: TimeRange;
  /** Fraction of a band's cells that counts as "could reconstruct". Default 0.9. */
  readonly minCoverage: number;
  readonly maxClients: number;
}

export const displayIp = (v6: string): string => canonicalIp(v6) ?? v6;

export async function imageExposure(store: Store, q: ExposureQuery): Promise<ImageExposure> {
  const size = await imageSize(store, q.imageId);
  const base = { imageId: q.imageId, size, from: iso(q.range.from), to: iso(q.range.to), minCoverage: q.minCoverage };
  if (size === null) return { ...base, union: { bands: [], reconstructLongEdge: 0 }, clients: [], clientCount: 0, truncated: false };
  const rows = await readRows<BandRow>(store, BAND_SQL, {
    image: q.imageId,
    from: q.range.from,
    to: q.range.to,
    w: size.width,
    h: size.height,
    cov: q.minCoverage,
    maxRows: 200_000,
  });
  const unionBands = rows.filter((r) => r.ip === '').map((r) => toBand(r, size.width, size.height));
  const byClient = new Map<string, BandExposure[]>();
  for (const r of rows) {
    if (r.ip === '') continue;
    let list = byClient.get(r.ip);
    if (!list) byClient.set(r.ip, (list = []));
    list.push(toBand(r, size.width, size.height));
  }
  const ranked = [...byClient]
    .map(([ip, bands]) => ({ ip, bands: bands.sort((a, b) => a.band - b.band), best: reconstructLongEdge(bands).longEdge, cells: bands.reduce((s, b) => s + b.cells, 0) }))
    .sort((a, b) => b.best - a.best || b.cells - a.cells || (a.ip < b.ip ? -1 : 1));
  const kept = ranked.slice(0, q.maxClients);
  const details = kept.length === 0 ? [] : await readRows<ClientRow>(store, CLIENT_SQL, { image: q.imageId, from: q.range.from, to: q.range.to, clients: kept.map((k) => k.ip) });
  const detail = new Map(details.map((d) => [d.ip, d]));
  const clients: ClientExposure[] = [];
  for (const k of kept) {
    const d = detail.get(k.ip);
    if (!d) continue;
    clients.push({
      ip: displayIp(k.ip),
      requests: d.requests,
      firstSeen: iso(d.first_ms),
      lastSeen: iso(d.last_ms),
      bands: k.bands,
      reconstructLongEdge: k.best,
      firstEvidence: { source: d.f_source, partition: d.f_partition, line: d.f_line, at: iso(d.first_ms) },
      lastEvidence: { source: d.l_source, partition: d.l_partition, line: d.l_line, at: iso(d.last_ms) },
    });
  }
  return {
    ...base,
    union: { bands: unionBands.sort((a, b) => a.band - b.band), reconstructLongEdge: reconstructLongEdge(unionBands).longEdge },
    clients,
    clientCount: byClient.size,
    truncated: ranked.length > kept.length,
  };
}

/** The time extent of an image's stored requests, or null when there are none. */
export async function imageExtent(store: Store, imageId: string): Promise<{ first: number; last: number } | null> {
  const r = await readRows<{ n: number; first: number; last: number }>(
    store,
    'SELECT count() AS n, toUnixTimestamp64Milli(min(ts)) AS first, toUnixTimestamp64Milli(max(ts)) AS last FROM tile_requests WHERE image_id = {id:String}',
    { id: imageId },
  );
  return r[0] && r[0].n > 0 ? { first: r[0].first, last: r[0].last } : null;
}

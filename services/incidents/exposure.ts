/**
 * Image exposure: who reached which resolution band of an image, when, and how much of it — per
 * client and for all clients together (the union is what a coordinated group could stitch).
 */
import type { Store } from '../store/openStore.ts';
import { fromIpv6Text } from '../store/clientIp.ts';
import { bandGrid, CELL_PX, imageCellMapsSql } from './bands.ts';
import { imageSizes, type ImageSize } from './images.ts';
import type { TimeRange } from './inputs.ts';
import { readRows } from '../store/sql.ts';
import { iso } from './iso.ts';

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
  image_id: string;
  ip: string;
  band: number;
  cells: number;
  total: number;
  first_ms: number;
  last_ms: number;
  reached_ms: number;
}

const RANGE = 'ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})';

/** Cells of a band for the image on the row: its size comes in as arrays parallel to {ids}. */
const BAND_TOTAL = (axis: 'w' | 'h'): string =>
  `greatest(1, ceil({${axis}:Array(Float64)}[indexOf({ids:Array(String)}, image_id)] / (${CELL_PX} * pow(2, band)) - 0.5))`;

/**
 * Per image, client and band: revealed cells, the band's total, first/last reveal and when coverage
 * reached {cov} (the need-th earliest cell); rows with ip = '' are all clients together. With
 * {reachedOnly} = 1, only clients that reached {cov} at some band (all their bands) and the union.
 */
const BAND_SQL = `SELECT image_id, ip, band, cells, total, first_ms, last_ms, reached_ms FROM (
    SELECT image_id, ip, band, cells, total, first_ms, last_ms, reached_ms,
      max(reached_ms) OVER (PARTITION BY image_id, ip) AS client_reached_ms
    FROM (
      SELECT image_id, if(union_row = 1, '', toString(client)) AS ip, band,
        toUInt32(length(cell_map.1)) AS cells,
        toUInt32(${BAND_TOTAL('w')} * ${BAND_TOTAL('h')}) AS total,
        toUInt32(greatest(1, ceil({cov:Float64} * total - 1e-9))) AS need,
        toUnixTimestamp64Milli(arrayMin(cell_map.2)) AS first_ms, toUnixTimestamp64Milli(arrayMax(cell_map.2)) AS last_ms,
        if(cells >= need, toUnixTimestamp64Milli(arraySort(cell_map.2)[need]), 0) AS reached_ms
      FROM (${imageCellMapsSql(`image_id IN {ids:Array(String)} AND ${RANGE}`)})
    )
  )
  WHERE {reachedOnly:UInt8} = 0 OR ip = '' OR client_reached_ms > 0
  ORDER BY image_id, ip = '' DESC, cells DESC, ip, band
  LIMIT {maxRows:UInt32}`;

interface ClientRow {
  image_id: string;
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

const CLIENT_SQL = `SELECT image_id, toString(client) AS ip, count() AS requests,
    toUnixTimestamp64Milli(min(ts)) AS first_ms, toUnixTimestamp64Milli(max(ts)) AS last_ms,
    argMin(source, (ts, line)) AS f_source, argMin(partition, (ts, line)) AS f_partition, argMin(line, (ts, line)) AS f_line,
    argMax(source, (ts, line)) AS l_source, argMax(partition, (ts, line)) AS l_partition, argMax(line, (ts, line)) AS l_line
  FROM image_requests
  WHERE image_id IN {ids:Array(String)} AND ${RANGE} AND client IN {clients:Array(IPv6)}
  GROUP BY image_id, client`;

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

export async function imageExposure(store: Store, q: ExposureQuery): Promise<ImageExposure> {
  const [one] = await imageExposures(store, { ...q, imageIds: [q.imageId] });
  return one!;
}

export interface ExposuresQuery extends Omit<ExposureQuery, 'imageId'> {
  readonly imageIds: readonly string[];
  /**
   * Only clients that reached minCoverage at some band (the incident report's question); the rest
   * are neither read back nor counted in `clientCount`. Default false.
   */
  readonly reachedOnly?: boolean;
}

/**
 * Exposure of several images over one period, in one pass (three queries whatever the number of
 * images), in the order of `imageIds`.
 */
export async function imageExposures(store: Store, q: ExposuresQuery): Promise<ImageExposure[]> {
  const sizes = await imageSizes(store, q.imageIds);
  const ids = q.imageIds.filter((id) => sizes.has(id));
  const rows =
    ids.length === 0
      ? []
      : await readRows<BandRow>(store.client, BAND_SQL, {
          ids,
          w: ids.map((id) => sizes.get(id)!.width),
          h: ids.map((id) => sizes.get(id)!.height),
          from: q.range.from,
          to: q.range.to,
          cov: q.minCoverage,
          reachedOnly: q.reachedOnly === true ? 1 : 0,
          maxRows: 200_000 * ids.length,
        });
  const unionOf = new Map<string, BandExposure[]>();
  const byImage = new Map<string, Map<string, BandExposure[]>>();
  for (const r of rows) {
    const size = sizes.get(r.image_id)!;
    const band = toBand(r, size.width, size.height);
    if (r.ip === '') {
      pushTo(unionOf, r.image_id, band);
      continue;
    }
    const clients = byImage.get(r.image_id) ?? new Map<string, BandExposure[]>();
    byImage.set(r.image_id, clients);
    pushTo(clients, r.ip, band);
  }
  const ranked = new Map(
    ids.map((id) => {
      const all = [...(byImage.get(id) ?? new Map<string, BandExposure[]>())]
        .map(([ip, bands]) => ({ ip, bands: bands.sort((a, b) => a.band - b.band), best: reconstructLongEdge(bands).longEdge, cells: bands.reduce((s, b) => s + b.cells, 0) }))
        .sort((a, b) => b.best - a.best || b.cells - a.cells || (a.ip < b.ip ? -1 : 1));
      return [id, { all, kept: all.slice(0, q.maxClients) }];
    }),
  );
  const wanted = [...new Set([...ranked.values()].flatMap((r) => r.kept.map((k) => k.ip)))];
  const details =
    wanted.length === 0 ? [] : await readRows<ClientRow>(store.client, CLIENT_SQL, { ids, from: q.range.from, to: q.range.to, clients: wanted });
  const detail = new Map(details.map((d) => [`${d.image_id}\n${d.ip}`, d]));
  return q.imageIds.map((imageId): ImageExposure => {
    const size = sizes.get(imageId) ?? null;
    const base = { imageId, size, from: iso(q.range.from), to: iso(q.range.to), minCoverage: q.minCoverage };
    const r = ranked.get(imageId);
    if (size === null || r === undefined) return { ...base, union: { bands: [], reconstructLongEdge: 0 }, clients: [], clientCount: 0, truncated: false };
    const clients: ClientExposure[] = [];
    for (const k of r.kept) {
      const d = detail.get(`${imageId}\n${k.ip}`);
      if (!d) continue;
      clients.push({
        ip: fromIpv6Text(k.ip),
        requests: d.requests,
        firstSeen: iso(d.first_ms),
        lastSeen: iso(d.last_ms),
        bands: k.bands,
        reconstructLongEdge: k.best,
        firstEvidence: { source: d.f_source, partition: d.f_partition, line: d.f_line, at: iso(d.first_ms) },
        lastEvidence: { source: d.l_source, partition: d.l_partition, line: d.l_line, at: iso(d.last_ms) },
      });
    }
    const unionBands = (unionOf.get(imageId) ?? []).sort((a, b) => a.band - b.band);
    return {
      ...base,
      union: { bands: unionBands, reconstructLongEdge: reconstructLongEdge(unionBands).longEdge },
      clients,
      clientCount: r.all.length,
      truncated: r.all.length > r.kept.length,
    };
  });
}

function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** The time extent of an image's stored requests, or null when there are none. */
export async function imageExtent(store: Store, imageId: string): Promise<{ first: number; last: number } | null> {
  const r = await readRows<{ n: number; first: number; last: number }>(
    store.client,
    'SELECT count() AS n, toUnixTimestamp64Milli(min(ts)) AS first, toUnixTimestamp64Milli(max(ts)) AS last FROM image_requests WHERE image_id = {id:String}',
    { id: imageId },
  );
  return r[0] && r[0].n > 0 ? { first: r[0].first, last: r[0].last } : null;
}

/**
 * A client's timeline: requests bucketed over time, the images it touched, how its exposure grew
 * (full-resolution cells first revealed per bucket, cumulative), its alerts and its network (ASN,
 * organisation, hosting provider or not).
 */
import type { AlertNetwork } from '../core/alert.ts';
import type { Store } from '../store/openStore.ts';
import { fromIpv6Text } from '../store/clientIp.ts';
import { CELL_PX, revealedCellsSql } from './bands.ts';
import { completeRange, type ClientIp, type TimeRange } from './inputs.ts';
import { readRows } from '../store/sql.ts';
import { iso } from './iso.ts';

export const BUCKETS_S = [60, 300, 900, 3600, 6 * 3600, 86_400] as const;
export const MAX_BUCKETS = 500;

/** The smallest bucket that keeps the range within {@link MAX_BUCKETS} buckets. */
export function chooseBucket(range: TimeRange): number {
  const span = (range.to - range.from) / 1000;
  for (const b of BUCKETS_S) if (span / b <= MAX_BUCKETS) return b;
  return BUCKETS_S[BUCKETS_S.length - 1]!;
}

export interface TimelineBucket {
  readonly t: string;
  readonly requests: number;
  readonly tiles: number;
  readonly errors: number;
  readonly bytes: number;
  readonly images: number;
  /** Cells first revealed in this bucket and cumulative (all images, all bands). */
  readonly newCells: number;
  readonly cumulativeCells: number;
  /** Output megapixels revealed so far (each cell is CELL_PX² output pixels). */
  readonly revealedMegapixels: number;
}

export interface TimelineImage {
  readonly imageId: string;
  readonly protocol: string;
  readonly tiles: number;
  /** Full-resolution cells revealed (all bands; the grid of bands.ts). */
  readonly cells: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly maxScale: number;
}

export interface TimelineAlert {
  readonly id: string;
  readonly kind: string;
  readonly severity: string;
  readonly score: number;
  readonly detectedAt: string;
}

export interface ClientTimeline {
  readonly ip: string;
  readonly from: string;
  readonly to: string;
  readonly bucketSeconds: number;
  readonly totals: { readonly requests: number; readonly images: number; readonly userAgents: readonly string[] };
  readonly buckets: readonly TimelineBucket[];
  readonly images: readonly TimelineImage[];
  readonly alerts: readonly TimelineAlert[];
  /** The client's network from the store's ASN data (the asn_lookup dictionary; asn 0 and 'unknown' without data). */
  readonly network: AlertNetwork;
}

const RANGE = 'ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})';

export async function clientExtent(store: Store, ip: ClientIp): Promise<{ first: number; last: number } | null> {
  const r = await readRows<{ n: number; first: number; last: number }>(
    store.client,
    'SELECT count() AS n, toUnixTimestamp64Milli(min(ts)) AS first, toUnixTimestamp64Milli(max(ts)) AS last FROM tile_requests WHERE client = {ip:IPv6}',
    { ip: ip.v6 },
  );
  return r[0] && r[0].n > 0 ? { first: r[0].first, last: r[0].last } : null;
}

/** null when the client has no stored requests. */
export async function clientTimeline(
  store: Store,
  q: { ip: ClientIp; range: Partial<TimeRange>; maxSpanMs: number; bucketSeconds?: number; maxImages: number },
): Promise<ClientTimeline | null> {
  const extent = await clientExtent(store, q.ip);
  if (extent === null) return null;
  const range = completeRange(q.range, extent, q.maxSpanMs);
  const bucket = q.bucketSeconds ?? chooseBucket(range);
  const p = { ip: q.ip.v6, ipText: q.ip.text, from: range.from, to: range.to, b: bucket, maxImages: q.maxImages };
  const cellsSql = revealedCellsSql(`client = {ip:IPv6} AND ${RANGE}`, ['image_id'], 'tile_requests');
  const [buckets, cellCounts, images, alerts, uas, nets] = await Promise.all([
    readRows<{ t: number; requests: number; tiles: number; errors: number; bytes: number; images: number }>(
      store.client,
      `SELECT toUnixTimestamp(toStartOfInterval(ts, toIntervalSecond({b:UInt32}))) * 1000 AS t, count() AS requests,
         countIf(kind IN ('tile', 'region', 'full')) AS tiles, countIf(status >= 400) AS errors, sum(bytes) AS bytes,
         uniqExactIf(image_id, image_id != '') AS images
       FROM tile_requests WHERE client = {ip:IPv6} AND ${RANGE} GROUP BY t ORDER BY t`,
      p,
    ),
    // Revealed cells by the bucket of their first reveal (exposure growth) and by image, in one pass.
    readRows<{ image_id: string; t: number; cells: number; per_image: number }>(
      store.client,
      `SELECT image_id, t, count() AS cells, grouping(t) AS per_image FROM (
         SELECT image_id, toUnixTimestamp(toStartOfInterval(first_ts, toIntervalSecond({b:UInt32}))) * 1000 AS t FROM (${cellsSql})
       )
       GROUP BY GROUPING SETS ((t), (image_id))`,
      p,
    ),
    readRows<{ image_id: string; protocol: string; tiles: number; first_ms: number; last_ms: number; max_scale: number }>(
      store.client,
      `SELECT image_id, any(protocol) AS protocol, sum(tiles) AS tiles,
         toUnixTimestamp64Milli(min(first_ts)) AS first_ms, toUnixTimestamp64Milli(max(last_ts)) AS last_ms, round(max(max_scale), 4) AS max_scale
       FROM client_image_hour
       WHERE client = {ip:IPv6} AND hour >= toStartOfHour(fromUnixTimestamp64Milli({from:Int64})) AND hour < fromUnixTimestamp64Milli({to:Int64})
       GROUP BY image_id ORDER BY tiles DESC, image_id LIMIT {maxImages:UInt32}`,
      p,
    ),
    readRows<{ id: string; kind: string; severity: string; score: number; detected_ms: number }>(
      store.client,
      `SELECT id, kind, severity, round(score, 2) AS score, toUnixTimestamp64Milli(detected_at) AS detected_ms FROM alerts FINAL
       WHERE client = {ip:IPv6} OR has(client_ips, {ipText:String}) ORDER BY detected_at LIMIT 1000`,
      p,
    ),
    readRows<{ user_agent: string; requests: number }>(
      store.client,
      `SELECT toString(user_agent) AS user_agent, count() AS requests FROM tile_requests WHERE client = {ip:IPv6} AND ${RANGE}
       GROUP BY user_agent ORDER BY requests DESC LIMIT 10`,
      p,
    ),
    readRows<{ asn: number; org: string; hosting: number; provider: string }>(
      store.client,
      `SELECT dictGetOrDefault('asn_lookup', 'asn', c, toUInt32(0)) AS asn, dictGetOrDefault('asn_lookup', 'org', c, '') AS org,
         dictGetOrDefault('asn_lookup', 'hosting', c, toUInt8(0)) AS hosting, dictGetOrDefault('asn_lookup', 'provider', c, '') AS provider
       FROM (SELECT toIPv6({ip:String}) AS c)`,
      p,
    ),
  ]);
  const net = nets[0];
  const network: AlertNetwork =
    !net || net.asn === 0
      ? { asn: 0, org: '', kind: 'unknown' }
      : net.hosting === 1
        ? { asn: net.asn, org: net.org, kind: 'hosting', provider: net.provider }
        : { asn: net.asn, org: net.org, kind: 'residential/other' };
  const growth = cellCounts.filter((c) => c.per_image === 0);
  const newCells = new Map(growth.map((g) => [g.t, g.cells]));
  const cellsOf = new Map(cellCounts.filter((c) => c.per_image === 1).map((c) => [c.image_id, c.cells]));
  let cumulative = 0;
  const times = [...new Set([...buckets.map((b) => b.t), ...growth.map((g) => g.t)])].sort((a, b) => a - b);
  const byT = new Map(buckets.map((b) => [b.t, b]));
  const out: TimelineBucket[] = times.map((t) => {
    const b = byT.get(t);
    const n = newCells.get(t) ?? 0;
    cumulative += n;
    return {
      t: iso(t),
      requests: b?.requests ?? 0,
      tiles: b?.tiles ?? 0,
      errors: b?.errors ?? 0,
      bytes: b?.bytes ?? 0,
      images: b?.images ?? 0,
      newCells: n,
      cumulativeCells: cumulative,
      revealedMegapixels: Math.round((cumulative * CELL_PX * CELL_PX) / 10_000) / 100,
    };
  });
  return {
    ip: fromIpv6Text(q.ip.v6),
    from: iso(range.from),
    to: iso(range.to),
    bucketSeconds: bucket,
    totals: { requests: buckets.reduce((s, b) => s + b.requests, 0), images: images.length, userAgents: uas.map((u) => u.user_agent) },
    buckets: out,
    images: images.map((i) => ({ imageId: i.image_id, protocol: i.protocol, tiles: i.tiles, cells: cellsOf.get(i.image_id) ?? 0, firstSeen: iso(i.first_ms), lastSeen: iso(i.last_ms), maxScale: i.max_scale })),
    alerts: alerts.map((a) => ({ id: a.id, kind: a.kind, severity: a.severity, score: a.score, detectedAt: iso(a.detected_ms) })),
    network,
  };
}

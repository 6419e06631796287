/**
 * The hunts' SQL. Parameterised only ({name:Type} placeholders bound through query_params); runs on
 * chDB and ClickHouse servers alike. Each function reads one event-time window [from, to) and returns
 * plain rows for the pure hunt core (services/core/hunts).
 *
 * Coverage is computed from the stored full-resolution rectangles: at one band (scale rounded to a
 * power of two) the tiles of a pyramid partition the image, so the summed area of a client's distinct
 * rectangles over the image's area is its coverage there (IIIF regions that overlap are capped at 1).
 * Image sizes come from the `images` table, else from the extents of every request in the window.
 *
 * Band has one meaning everywhere (the detector's cells, the incident queries, these hunts):
 * band = round(log2(1/scale)), 0 = full resolution, 1 = half, 2 = quarter …; larger is coarser, and a
 * band b reveals the image at scale 2^-b (long edge × 2^-b, pixels × 4^-b). No table stores a band:
 * it is computed here from the stored `scale` column. Unlike the incident queries (services/incidents/
 * bands.ts), the hunts do not clamp it to 0..MAX_BAND: an upscaled request (scale > 1) keeps its
 * negative band, as it always has in the hunts.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { parseCidr } from '../core/logformat/cidr.ts';
import { fromIpv6Text, ipv4ToIpv6Text } from '../store/clientIp.ts';
import { NO_TIME_LIMIT, readRows, type Params } from '../store/sql.ts';
import { CELL_BUCKET_MS } from '../core/hunts/huntCells.ts';
import type { CampaignCandidateRow, CampaignMemberRow, ClientImageCoverageRow, ImageContributorRow, ImageExposureRow, SlowClientRow } from '../core/hunts/findings.ts';

export interface HuntWindow {
  readonly from: number;
  readonly to: number;
  /**
   * hunt_cells holds every bucket from this time on (epoch ms; older day partitions were dropped, see
   * 009_hunt_cells_retention.sql). A window starting earlier reads tile_requests. Default: complete.
   */
  readonly cellsSince?: number;
  /** Start of the last hunt step: only images/clients active in [recentFrom, to) are re-examined. Default `from`. */
  readonly recentFrom?: number;
}

/** Clients never hunted: allow-listed CIDRs and user-agent patterns (RE2). */
export interface HuntExclusions {
  readonly cidrs: readonly string[];
  readonly userAgentPatterns: readonly string[];
}

export interface HuntParams {
  readonly protectedScale: number;
  readonly openDataLongEdge: number;
}

/** Epoch ms as a DateTime64(3) parameter value. */
export function ts(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** IPv6 range bounds (IPv4 as IPv4-mapped) of each CIDR, for `client BETWEEN lo AND hi`. */
export function cidrBounds(cidrs: readonly string[]): { lo: string[]; hi: string[] } {
  const lo: string[] = [];
  const hi: string[] = [];
  for (const text of cidrs) {
    const c = parseCidr(text);
    if (c.family === 4) {
      const size = 2 ** (32 - c.prefix);
      lo.push(ipv4ToIpv6Text(c.network));
      hi.push(ipv4ToIpv6Text(c.network + size - 1));
    } else {
      const low = c.groups.slice();
      const high = c.groups.map((g, i) => {
        const bits = Math.max(0, Math.min(16, c.prefix - i * 16));
        return g | (bits === 16 ? 0 : 0xffff >>> bits);
      });
      lo.push(low.map((g) => g.toString(16)).join(':'));
      hi.push(high.map((g) => g.toString(16)).join(':'));
    }
  }
  return { lo, hi };
}

/** Catalogue sizes, newest entry per image. */
const IMG_CAT = `img_cat AS (
  SELECT image_id, argMax(width, updated_at) AS cw, argMax(height, updated_at) AS ch, argMax(open_data_long_edge, updated_at) AS cod
  FROM images GROUP BY image_id
),`;

/**
 * Image sizes (the catalogue's, else the largest extent requested in `req`) and `prot`: the rows of
 * `req` at high-resolution bands beyond the open-data edge, with their image's size and band edge.
 */
const imgAndProt = (extentsOf = 'req'): string => `img AS (
  SELECT l.image_id AS image_id,
         if(c.cw > 0, toUInt64(c.cw), l.lw) AS w, if(c.ch > 0, toUInt64(c.ch), l.lh) AS h,
         if(c.cod > 0, toFloat64(c.cod), toFloat64({openData:UInt32})) AS od
  FROM (SELECT image_id, max(toUInt64(rect_x) + rect_w) AS lw, max(toUInt64(rect_y) + rect_h) AS lh FROM ${extentsOf} GROUP BY image_id) AS l
  LEFT JOIN img_cat AS c ON c.image_id = l.image_id
),
prot AS (
  SELECT r.*, i.w AS w, i.h AS h, i.od AS od, greatest(i.w, i.h) * pow(2, -r.band) AS edge
  FROM req AS r INNER JOIN img AS i ON i.image_id = r.image_id
  WHERE r.band <= {protectedBand:Int8} AND greatest(i.w, i.h) * pow(2, -r.band) > i.od AND i.w > 0 AND i.h > 0
)`;
const IMG_AND_PROT = imgAndProt();

/** Leaves out allow-listed clients ({allowLo}/{allowHi} address ranges, {allowUa} RE2 patterns); a condition on `client` and `user_agent`. */
export const NOT_EXCLUDED = `NOT arrayExists((lo, hi) -> client >= lo AND client <= hi, {allowLo:Array(IPv6)}, {allowHi:Array(IPv6)})
    AND NOT multiMatchAny(toString(user_agent), {allowUa:Array(String)})`;

/**
 * Shared CTEs: the window's successful image requests by non-excluded clients, and image sizes.
 * `scope` restricts the window to what the last hunt step touched (images or clients active since
 * {recentFrom}): evidence that did not grow since the last run cannot raise a new finding, and the
 * restriction keeps each run proportional to recent traffic rather than to the look-back.
 */
function windowCtes(scope: 'images' | 'clients' | 'all', w?: HuntWindow, slowSuspects = false): string {
  // What the last step touched: from hunt_cells (ordered by its 10-minute bucket) when the step is
  // whole buckets — the same images and clients (every request with an image id is in it) — else
  // from tile_requests, where a time range scans the partition (it is ordered by client).
  const recentFrom = w?.recentFrom ?? w?.from;
  const inCells =
    w !== undefined && recentFrom !== undefined && recentFrom % CELL_BUCKET_MS === 0 && w.to % CELL_BUCKET_MS === 0 && recentFrom >= (w.cellsSince ?? Number.NEGATIVE_INFINITY);
  const touched = (column: string): string =>
    inCells
      ? `SELECT DISTINCT ${column} FROM hunt_cells WHERE bucket >= toDateTime({recentFrom:DateTime64(3, 'UTC')}) AND bucket < toDateTime({to:DateTime64(3, 'UTC')})`
      : `SELECT DISTINCT ${column} FROM tile_requests WHERE ts >= {recentFrom:DateTime64(3, 'UTC')} AND ts < {to:DateTime64(3, 'UTC')} AND image_id != ''`;
  if (slowSuspects) {
    // Low-and-slow over whole buckets: its gates (distinct high-resolution tiles, active hours) are
    // first counted per touched client in hunt_cells, and only the clients that may pass them are read
    // from tile_requests (by client, its first key column). `suspects` is a superset of the clients
    // that pass (it does not apply the open-data edge), and image extents come from the same
    // hunt_cells rows `req` would have held, so the result is the same.
    return `
${IMG_CAT}
cells AS (
  SELECT client, image_id, band, rect_x, rect_y, rect_w, rect_h, bucket
  FROM hunt_cells
  WHERE bucket >= toDateTime({from:DateTime64(3, 'UTC')}) AND bucket < toDateTime({to:DateTime64(3, 'UTC')}) AND hunted = 1
    AND ${NOT_EXCLUDED}
    AND client IN (${touched('client')})
),
suspects AS (
  SELECT client FROM cells WHERE band <= {protectedBand:Int8} GROUP BY client
  HAVING uniqExact(image_id, band, rect_x, rect_y, rect_w, rect_h) >= {minTiles:UInt32} AND uniqExact(toStartOfHour(bucket)) >= {minHours:UInt32}
),
${reqCte('AND client IN (SELECT client FROM suspects)')},
${imgAndProt('cells')}`;
  }
  const recent = scope === 'images' ? `AND image_id IN (${touched('image_id')})` : scope === 'clients' ? `AND client IN (${touched('client')})` : '';
  return `
${IMG_CAT}
${reqCte(recent)},
${IMG_AND_PROT}`;
}

/** The window's successful image requests by non-excluded clients (tile_requests), with `restriction` added. */
function reqCte(restriction: string): string {
  return `req AS (
  SELECT ts, client, user_agent, referer, image_id, level, toInt8(round(-log2(greatest(scale, 1e-6)))) AS band, rect_x, rect_y, rect_w, rect_h,
         toUInt64(rect_w) * rect_h AS area
  FROM tile_requests
  WHERE ts >= {from:DateTime64(3, 'UTC')} AND ts < {to:DateTime64(3, 'UTC')}
    AND kind IN ('tile', 'region', 'full') AND scale > 0 AND image_id != '' AND status < 400
    AND ${NOT_EXCLUDED}
    ${restriction}
)`;
}

/**
 * Where the look-back of a scope-'all' measurement is read: `auto` = hunt_cells when the window is
 * whole buckets (the same rows, summarised), else tile_requests; `tile_requests` always (the
 * equivalence test compares the two).
 */
export type HuntSource = 'auto' | 'tile_requests';

/** Whether a window's bounds are whole buckets of hunt_cells, so that it can be read from there exactly. */
function inWholeBuckets(w: HuntWindow, source: HuntSource = 'auto'): boolean {
  return (
    source === 'auto' &&
    w.from % CELL_BUCKET_MS === 0 &&
    w.to % CELL_BUCKET_MS === 0 &&
    (w.recentFrom ?? w.from) % CELL_BUCKET_MS === 0 &&
    w.from >= (w.cellsSince ?? Number.NEGATIVE_INFINITY)
  );
}

/**
 * The CTEs of {@link windowCtes} (scope 'all') over hunt_cells instead of tile_requests, for windows
 * of whole buckets: `req` has one row per (bucket, client, user agent, image, band, level, rectangle)
 * with its number of `requests` and first and last time, so counts become sums of `requests`. Read as
 * a range of the bucket (the table's first key column): the cost is the look-back, not the history.
 */
function cellCtes(onlyImages = false): string {
  // Image sizes come from each image's own rows (all clients), so restricting to given images is exact.
  const images = onlyImages ? 'AND image_id IN {images:Array(String)}' : '';
  return `
${IMG_CAT}
req AS (
  SELECT bucket, client, user_agent, image_id, level, band, rect_x, rect_y, rect_w, rect_h, toUInt64(rect_w) * rect_h AS area,
         requests, first_ts, last_ts
  FROM hunt_cells
  WHERE bucket >= toDateTime({from:DateTime64(3, 'UTC')}) AND bucket < toDateTime({to:DateTime64(3, 'UTC')}) AND hunted = 1 ${images}
    AND ${NOT_EXCLUDED}
),
${IMG_AND_PROT}`;
}

function baseParams(w: HuntWindow, ex: HuntExclusions, p: HuntParams): Record<string, unknown> {
  const { lo, hi } = cidrBounds(ex.cidrs);
  return {
    from: ts(w.from),
    to: ts(w.to),
    recentFrom: ts(w.recentFrom ?? w.from),
    allowLo: lo,
    allowHi: hi,
    allowUa: [...ex.userAgentPatterns],
    openData: p.openDataLongEdge,
    // Coarsest protected band (bands 0 … this are high resolution): protectedScale 0.5 → 1. Written
    // −round(log2(s)), not round(log2(1/s)), so a scale exactly between two bands still resolves to
    // the finer one as before; `0 −` keeps a negative zero out of the parameter.
    protectedBand: 0 - Math.round(Math.log2(p.protectedScale)),
  };
}

/**
 * The store's typed read (64-bit integers as numbers; columns are named as the row fields, in their
 * order). Hunts run in the background over their whole look-back, so their statements carry no time
 * limit (as always).
 */
function rows<T>(client: ClickHouseClient, query: string, params: Params): Promise<T[]> {
  return readRows<T>(client, query, params, NO_TIME_LIMIT);
}

// ---------------------------------------------------------------- low-and-slow



/** Clients with many distinct high-resolution tiles spread over several hours in the window. */
export async function slowClients(
  client: ClickHouseClient,
  w: HuntWindow,
  ex: HuntExclusions,
  p: HuntParams,
  gates: { minTiles: number; minActiveHours: number },
  source: HuntSource = 'auto',
): Promise<SlowClientRow[]> {
  const q = `WITH ${windowCtes('clients', w, inWholeBuckets(w, source))},
deep AS (
  SELECT client, argMin(toString(user_agent), (ts, toString(user_agent))) AS ua,
         uniqExact(image_id, band, rect_x, rect_y, rect_w, rect_h) AS deep_tiles, count() AS deep_requests,
         uniqExact(toStartOfHour(ts)) AS active_hours, min(ts) AS first_ts, max(ts) AS last_ts,
         countIf(referer = '') / count() AS no_ref,
         arrayDifference(arraySort(groupArray(toUnixTimestamp64Milli(ts)))) AS gaps
  FROM prot GROUP BY client
  HAVING deep_tiles >= {minTiles:UInt32} AND active_hours >= {minHours:UInt32}
),
allreq AS (SELECT client, count() AS tile_requests FROM req WHERE client IN (SELECT client FROM deep) GROUP BY client)
SELECT IPv6NumToString(d.client) AS client, d.ua AS userAgent, d.deep_tiles AS deepTiles, d.deep_requests AS deepRequests,
       a.tile_requests AS tileRequests, d.active_hours AS activeHours,
       toUnixTimestamp64Milli(d.first_ts) AS firstTs, toUnixTimestamp64Milli(d.last_ts) AS lastTs, d.no_ref AS noRefererFraction,
       arrayReduce('median', arraySlice(d.gaps, 2)) AS medianGapMs,
       arrayReduce('median', arrayMap(g -> abs(g - medianGapMs), arraySlice(d.gaps, 2))) AS madGapMs
FROM deep AS d INNER JOIN allreq AS a ON a.client = d.client`;
  // The gap statistics are NaN (null in JSON) for a client with a single deep request: Number() makes them 0.
  type Row = Omit<SlowClientRow, 'medianGapMs' | 'madGapMs'> & { medianGapMs: number | null; madGapMs: number | null };
  const out = await rows<Row>(client, q, { ...baseParams(w, ex, p), minTiles: gates.minTiles, minHours: gates.minActiveHours });
  return out.map((r) => ({ ...r, client: fromIpv6Text(r.client), medianGapMs: Number(r.medianGapMs), madGapMs: Number(r.madGapMs) }));
}

/** Distinct event-time hours with high-resolution tiles, per client (population baseline): value → clients. */
export async function activeHoursHistogram(client: ClickHouseClient, w: HuntWindow, ex: HuntExclusions, p: HuntParams, source: HuntSource = 'auto'): Promise<Array<{ hours: number; clients: number }>> {
  // A bucket lies within one hour: the hours of a client's buckets are the hours of its requests.
  const q = inWholeBuckets(w, source)
    ? `WITH ${cellCtes()}
SELECT hours, count() AS clients FROM (SELECT client, uniqExact(toStartOfHour(bucket)) AS hours FROM prot GROUP BY client) GROUP BY hours ORDER BY hours`
    : `WITH ${windowCtes('all')}
SELECT hours, count() AS clients FROM (SELECT client, uniqExact(toStartOfHour(ts)) AS hours FROM prot GROUP BY client) GROUP BY hours ORDER BY hours`;
  return rows<{ hours: number; clients: number }>(client, q, baseParams(w, ex, p));
}

/** Coverage of each image at each high-resolution band for the given clients. */
export async function clientImageCoverage(
  client: ClickHouseClient,
  w: HuntWindow,
  ex: HuntExclusions,
  p: HuntParams,
  clients: readonly string[],
  source: HuntSource = 'auto',
): Promise<ClientImageCoverageRow[]> {
  if (clients.length === 0) return [];
  const cells = inWholeBuckets(w, source);
  const q = `WITH ${cells ? cellCtes() : windowCtes('all')},
rects AS (
  SELECT client, image_id, band, rect_x, rect_y, rect_w, rect_h, any(area) AS area, any(w) AS w, any(h) AS h, any(edge) AS edge,
         ${cells ? 'sum(requests)' : 'count()'} AS n
  FROM prot WHERE client IN {clients:Array(IPv6)}
  GROUP BY client, image_id, band, rect_x, rect_y, rect_w, rect_h
)
SELECT IPv6NumToString(client) AS client, image_id AS imageId, band, least(1, sum(area) / (any(w) * any(h))) AS coverage,
       any(edge) AS longEdge, coverage * any(w) * any(h) * pow(4, -band) AS revealedPixels, sum(n) AS requests
FROM rects GROUP BY client, image_id, band`;
  const out = await rows<ClientImageCoverageRow>(client, q, { ...baseParams(w, ex, p), clients: [...clients] });
  return out.map((r) => ({ ...r, client: fromIpv6Text(r.client) }));
}

// ---------------------------------------------------------------- campaigns



/**
 * The campaign group of a client in a hosting / cloud network: `asn:<n>` from the store's ASN data
 * (the asn_lookup dictionary, services/network/asnStore.ts), '' for every other client. Residential
 * and other networks never form a group: one ISP's AS holds thousands of unrelated viewers.
 */
export const HOSTING_ASN_GROUP = `if(dictGetOrDefault('asn_lookup', 'hosting_asn', client, toUInt32(0)) > 0,
             concat('asn:', toString(dictGetOrDefault('asn_lookup', 'hosting_asn', client, toUInt32(0)))), '')`;

/**
 * (image, band, group) triples where several clients sharing a /24 (/48), a hosting network's AS
 * (`asn:<n>`) or a user agent jointly covered much of the image at high resolution.
 */
export async function campaignCandidates(
  client: ClickHouseClient,
  w: HuntWindow,
  ex: HuntExclusions,
  p: HuntParams,
  gates: { minMembers: number; minUnionCoverage: number },
): Promise<CampaignCandidateRow[]> {
  const q = `WITH ${windowCtes('images', w)},
grouped AS (
  SELECT image_id, band, rect_x, rect_y, rect_w, rect_h, area, w, h, edge, client,
         arrayFilter(g -> g != '', [if(IPv6NumToString(client) LIKE '::ffff:%.%',
             concat('net:', IPv6NumToString(tupleElement(IPv6CIDRToRange(client, 120), 1)), '/24'),
             concat('net:', IPv6NumToString(tupleElement(IPv6CIDRToRange(client, 48), 1)), '/48')),
          concat('ua:', toString(user_agent)),
          ${HOSTING_ASN_GROUP}]) AS groups
  FROM prot
),
rects AS (
  SELECT image_id, band, grp, rect_x, rect_y, rect_w, rect_h, any(area) AS area, any(w) AS w, any(h) AS h, any(edge) AS edge,
         groupUniqArray(client) AS cl
  FROM grouped ARRAY JOIN groups AS grp
  GROUP BY image_id, band, grp, rect_x, rect_y, rect_w, rect_h
)
SELECT image_id AS imageId, band, grp AS group, arrayMap(c -> IPv6NumToString(c), groupUniqArrayArray(cl)) AS members,
       least(1, sum(area) / (any(w) * any(h))) AS unionCoverage,
       sum(area * length(cl)) / sum(area) AS overlap, any(edge) AS longEdge,
       unionCoverage * any(w) * any(h) * pow(4, -band) AS unionPixels
FROM rects GROUP BY image_id, band, grp
HAVING length(members) >= {minMembers:UInt32} AND unionCoverage >= {minUnion:Float64}`;
  // overlap is NaN (null in JSON) when the rectangles have no area: Number() makes it 0.
  const out = await rows<Omit<CampaignCandidateRow, 'overlap'> & { overlap: number | null }>(client, q, {
    ...baseParams(w, ex, p),
    minMembers: gates.minMembers,
    minUnion: gates.minUnionCoverage,
  });
  return out.map((r) => ({ ...r, group: groupText(r.group), members: r.members.map(fromIpv6Text).sort(), overlap: Number(r.overlap) }));
}

/** `net:<network>/<bits>` with the network as people write it (a mapped /24 as `net:a.b.c.0/24`); `ua:…` unchanged. */
export function groupText(group: string): string {
  const m = /^net:(.*)\/(\d+)$/.exec(group);
  return m ? `net:${fromIpv6Text(m[1]!)}/${m[2]!}` : group;
}

/**
 * Per client and image (the given images; the given clients, or every client): depth profile (share
 * of its requests at high resolution, levels between its coarsest and finest request), distinct area
 * revealed at high resolution, activity span. Campaign members and image-exposure contributors alike.
 */
async function clientImageProfiles(
  client: ClickHouseClient,
  w: HuntWindow,
  ex: HuntExclusions,
  p: HuntParams,
  images: readonly string[],
  clients: readonly string[] | null,
  source: HuntSource,
): Promise<Array<CampaignMemberRow & { bandSpan: number }>> {
  const onlyClients = clients ? 'AND client IN {clients:Array(IPv6)}' : '';
  // Over hunt_cells a row stands for `requests` requests: counts are sums, times its first and last.
  const cells = inWholeBuckets(w, source);
  const n = cells ? 'sum(m.requests)' : 'count()';
  const deepN = cells ? 'sumIf(m.requests, m.band <= {protectedBand:Int8})' : 'countIf(m.band <= {protectedBand:Int8})';
  const q = `WITH ${cells ? cellCtes(true) : windowCtes('all')},
mine AS (SELECT * FROM req WHERE image_id IN {images:Array(String)} ${onlyClients}),
deep AS (
  SELECT client, image_id, sum(area) AS covered FROM (
    SELECT client, image_id, band, rect_x, rect_y, rect_w, rect_h, any(area) AS area
    FROM prot WHERE image_id IN {images:Array(String)} ${onlyClients}
    GROUP BY client, image_id, band, rect_x, rect_y, rect_w, rect_h
  ) GROUP BY client, image_id
)
SELECT IPv6NumToString(m.client) AS client, m.image_id AS imageId, min(toString(m.user_agent)) AS userAgent,
       ${deepN} / ${n} AS deepFraction, greatest(max(m.band) - min(m.band), max(m.level) - min(m.level)) AS bandSpan,
       any(d.covered) AS coveredArea, ${n} AS requests,
       toUnixTimestamp64Milli(min(${cells ? 'm.first_ts' : 'm.ts'})) AS firstTs, toUnixTimestamp64Milli(max(${cells ? 'm.last_ts' : 'm.ts'})) AS lastTs
FROM mine AS m LEFT JOIN deep AS d ON d.client = m.client AND d.image_id = m.image_id
GROUP BY m.client, m.image_id`;
  const out = await rows<CampaignMemberRow & { bandSpan: number }>(client, q, {
    ...baseParams(w, ex, p),
    images: [...images],
    ...(clients ? { clients: [...clients] } : {}),
  });
  return out.map((r) => ({ ...r, client: fromIpv6Text(r.client) }));
}

/** Per member and image: depth profile, share of the band's area, activity span. */
export async function campaignMembers(
  client: ClickHouseClient,
  w: HuntWindow,
  ex: HuntExclusions,
  p: HuntParams,
  clients: readonly string[],
  images: readonly string[],
  source: HuntSource = 'auto',
): Promise<CampaignMemberRow[]> {
  if (clients.length === 0 || images.length === 0) return [];
  return clientImageProfiles(client, w, ex, p, images, clients, source);
}

// ---------------------------------------------------------------- image exposure


/** Images whose union coverage over all (non-excluded) clients at a high-resolution band reached a level. */
export async function exposedImages(
  client: ClickHouseClient,
  w: HuntWindow,
  ex: HuntExclusions,
  p: HuntParams,
  gates: { minUnionCoverage: number; minEdgeRatio: number },
): Promise<ImageExposureRow[]> {
  const q = `WITH ${windowCtes('images', w)},
rects AS (
  SELECT image_id, band, rect_x, rect_y, rect_w, rect_h, any(area) AS a, any(w) AS iw, any(h) AS ih, any(edge) AS e, any(od) AS o,
         groupUniqArray(client) AS cl, min(ts) AS first_ts, max(ts) AS last_ts
  FROM prot WHERE prot.edge >= prot.od * {minEdgeRatio:Float64}
  GROUP BY image_id, band, rect_x, rect_y, rect_w, rect_h
)
SELECT image_id AS imageId, band, least(1, sum(a) / (any(iw) * any(ih))) AS unionCoverage, any(iw) * any(ih) AS imageArea, any(e) AS longEdge,
       any(o) AS openDataLongEdge, length(groupUniqArrayArray(cl)) AS clients,
       toUnixTimestamp64Milli(min(first_ts)) AS firstTs, toUnixTimestamp64Milli(max(last_ts)) AS lastTs
FROM rects GROUP BY image_id, band
HAVING unionCoverage >= {minUnion:Float64}`;
  return rows<ImageExposureRow>(client, q, { ...baseParams(w, ex, p), minUnion: gates.minUnionCoverage, minEdgeRatio: gates.minEdgeRatio });
}

/** Every client that revealed part of the given images at high resolution: how it fetched them, how much it revealed. */
export async function imageContributors(
  client: ClickHouseClient,
  w: HuntWindow,
  ex: HuntExclusions,
  p: HuntParams,
  images: readonly string[],
  source: HuntSource = 'auto',
): Promise<ImageContributorRow[]> {
  if (images.length === 0) return [];
  return (await clientImageProfiles(client, w, ex, p, images, null, source)).filter((r) => r.coveredArea > 0);
}

/** Every address an alert (other than image exposure) names and whose episode overlaps the window. */
export async function accusedClients(client: ClickHouseClient, w: HuntWindow): Promise<string[]> {
  const q = `SELECT DISTINCT arrayJoin(if(empty(client_ips), [IPv6NumToString(client)], client_ips)) AS ip FROM alerts FINAL
WHERE kind != 'image-exposure' AND last_seen >= {from:DateTime64(3, 'UTC')} AND detected_at < {to:DateTime64(3, 'UTC')}`;
  const out = await rows<{ ip: string }>(client, q, { from: ts(w.from), to: ts(w.to) });
  return out.map((r) => fromIpv6Text(r.ip));
}

// ---------------------------------------------------------------- baselines

/** Tiles per client per hour, by hour of day (0–23), from the client_minute aggregate. */
export async function hourlyTilesByHourOfDay(client: ClickHouseClient, w: HuntWindow): Promise<Array<{ hourOfDay: number; tiles: number[] }>> {
  const q = `SELECT toHour(hour) AS hourOfDay, groupArray(tiles) AS tiles FROM (
  SELECT client, toStartOfHour(minute) AS hour, sum(tiles) AS tiles FROM client_minute
  WHERE minute >= toDateTime({from:DateTime64(3, 'UTC')}) AND minute < toDateTime({to:DateTime64(3, 'UTC')})
  GROUP BY client, hour HAVING tiles > 0
) GROUP BY hourOfDay ORDER BY hourOfDay`;
  return rows<{ hourOfDay: number; tiles: number[] }>(client, q, { from: ts(w.from), to: ts(w.to) });
}

/** Tiles per hour of each given client in the window (peak hour), for comparison with the baseline. */
export async function clientPeakHours(client: ClickHouseClient, w: HuntWindow, clients: readonly string[]): Promise<Array<{ client: string; hour: number; tiles: number }>> {
  if (clients.length === 0) return [];
  const q = `SELECT IPv6NumToString(client) AS client, toUnixTimestamp(argMax(hour, tiles)) * 1000 AS peakHour, max(tiles) AS peakTiles FROM (
  SELECT client, toStartOfHour(minute) AS hour, sum(tiles) AS tiles FROM client_minute
  WHERE minute >= toDateTime({from:DateTime64(3, 'UTC')}) AND minute < toDateTime({to:DateTime64(3, 'UTC')}) AND client IN {clients:Array(IPv6)}
  GROUP BY client, hour
) GROUP BY client`;
  const out = await rows<{ client: string; peakHour: number; peakTiles: number }>(client, q, { from: ts(w.from), to: ts(w.to), clients: [...clients] });
  return out.map((r) => ({ client: fromIpv6Text(r.client), hour: r.peakHour, tiles: r.peakTiles }));
}

/** Alert ids and clients of alerts (any kind in `kinds`) whose episode overlaps the window. */
export async function alertedClients(client: ClickHouseClient, w: HuntWindow, kinds: readonly string[]): Promise<string[]> {
  const q = `SELECT DISTINCT IPv6NumToString(client) AS client FROM alerts FINAL
WHERE kind IN {kinds:Array(String)} AND last_seen >= {from:DateTime64(3, 'UTC')} AND detected_at < {to:DateTime64(3, 'UTC')}`;
  const out = await rows<{ client: string }>(client, q, { from: ts(w.from), to: ts(w.to), kinds: [...kinds] });
  return out.map((r) => fromIpv6Text(r.client));
}

/** Newest version of every alert of the given kinds (hunt alerts are reconciled against these). */
export async function huntAlertBodies(client: ClickHouseClient, kinds: readonly string[]): Promise<string[]> {
  const q = `SELECT body FROM alerts FINAL WHERE kind IN {kinds:Array(String)}`;
  const out = await rows<{ body: string }>(client, q, { kinds: [...kinds] });
  return out.map((r) => r.body);
}

/**
 * Start times (epoch ms) of the grid steps of `everyMs` that hold stored requests in [from, to), from
 * the per-minute aggregate (ordered by minute): what a hunt schedule needs to skip empty stretches.
 */
export async function activeSteps(client: ClickHouseClient, everyMs: number, from: number, to: number): Promise<number[]> {
  const q = `SELECT DISTINCT intDiv(toUnixTimestamp(minute) * 1000, {every:UInt64}) * {every:UInt64} AS step FROM traffic_minute
  WHERE minute >= toDateTime({from:DateTime64(3, 'UTC')}) AND minute < toDateTime({to:DateTime64(3, 'UTC')}) ORDER BY step`;
  const out = await rows<{ step: number }>(client, q, { every: everyMs, from: ts(from), to: ts(to) });
  return out.map((r) => r.step);
}

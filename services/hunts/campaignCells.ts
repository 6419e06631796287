/**
 * Reads of `hunt_cells` (schemas/clickhouse/008_hunt_cells.sql) for the incremental hunts (campaigns, image exposure):
 * the rows of a range of 10-minute buckets, their extents, the images active in a step, and the
 * catalogue sizes of those images. Every read is a range of the table's first key column, so its cost
 * is the size of the buckets read, whatever the history stored. Parameterised only.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { BucketExtent, CatalogueSize, HuntCellRow } from '../core/hunts/huntCells.ts';
import type { ProfileRow } from '../core/hunts/profileState.ts';
import { fromIpv6Text } from '../store/clientIp.ts';
import { NO_TIME_LIMIT, readRows } from '../store/sql.ts';
import { cidrBounds, groupText, NOT_EXCLUDED, ts, type HuntExclusions } from './huntQueries.ts';

function exclusionParams(ex: HuntExclusions): Record<string, unknown> {
  const { lo, hi } = cidrBounds(ex.cidrs);
  return { allowLo: lo, allowHi: hi, allowUa: [...ex.userAgentPatterns] };
}



/** A half-open range of event time [from, to), epoch ms, on bucket boundaries. */
export interface BucketRange {
  readonly from: number;
  readonly to: number;
}

/** What one hunt window reads of hunt_cells: rows that entered and left its look-back, extents of those that entered, the images active in its last step. */
export interface CellDelta {
  readonly added: HuntCellRow[];
  readonly extents: BucketExtent[];
  readonly gone: HuntCellRow[];
  readonly active: string[];
}

/**
 * One round trip (a UNION ALL, each part a range of the table's first key column): the hunted rows at
 * bands ≤ protectedBand of `enter` and of `leave`, one per (bucket, image, band, client, user agent,
 * rectangle), excluded clients left out; the per-bucket extents of every band of `enter`; and the
 * images with any request (hunted or not, any client: the SQL hunt's "active in the last step") in
 * `active`. An empty range reads nothing.
 */
export async function cellDelta(
  client: ClickHouseClient,
  ranges: { readonly enter: BucketRange; readonly leave: BucketRange; readonly active: BucketRange },
  ex: HuntExclusions,
  protectedBand: number,
  hostingAsnOf?: (client: string) => number,
): Promise<CellDelta> {
  const inRange = (name: string): string =>
    `bucket >= toDateTime({${name}From:DateTime64(3, 'UTC')}) AND bucket < toDateTime({${name}To:DateTime64(3, 'UTC')})`;
  const rows = (name: string, part: number): string => `
SELECT ${part} AS part, toUnixTimestamp(bucket) * 1000 AS bucketMs, image_id AS imageId, band, IPv6NumToString(client) AS clientText,
       if(IPv6NumToString(client) LIKE '::ffff:%.%',
          concat('net:', IPv6NumToString(tupleElement(IPv6CIDRToRange(client, 120), 1)), '/24'),
          concat('net:', IPv6NumToString(tupleElement(IPv6CIDRToRange(client, 48), 1)), '/48')) AS netRaw,
       toString(user_agent) AS userAgent, rect_x AS rectX, rect_y AS rectY, rect_w AS rectW, rect_h AS rectH, toUInt64(0) AS width, toUInt64(0) AS height,
       toUnixTimestamp64Milli(min(first_ts)) AS firstTs, toUnixTimestamp64Milli(max(last_ts)) AS lastTs,
       ${hostingAsnOf ? 'toUInt32(0)' : "dictGetOrDefault('asn_lookup', 'hosting_asn', client, toUInt32(0))"} AS hostingAsn
FROM hunt_cells
WHERE ${inRange(name)} AND hunted = 1 AND band <= {protectedBand:Int8} AND ${NOT_EXCLUDED}
GROUP BY bucket, image_id, band, client, user_agent, rect_x, rect_y, rect_w, rect_h`;
  const parts: string[] = [];
  const params: Record<string, unknown> = { ...exclusionParams(ex), protectedBand };
  const use = (name: string, r: BucketRange): boolean => {
    if (!(r.to > r.from)) return false;
    params[`${name}From`] = ts(r.from);
    params[`${name}To`] = ts(r.to);
    return true;
  };
  if (use('enter', ranges.enter)) {
    parts.push(rows('enter', 0));
    parts.push(`
SELECT 2 AS part, toUnixTimestamp(bucket) * 1000 AS bucketMs, image_id AS imageId, toInt8(0) AS band, '' AS clientText, '' AS netRaw, '' AS userAgent,
       toUInt32(0) AS rectX, toUInt32(0) AS rectY, toUInt32(0) AS rectW, toUInt32(0) AS rectH,
       max(toUInt64(rect_x) + rect_w) AS width, max(toUInt64(rect_y) + rect_h) AS height, toInt64(0) AS firstTs, toInt64(0) AS lastTs,
       toUInt32(0) AS hostingAsn
FROM hunt_cells WHERE ${inRange('enter')} AND hunted = 1 AND ${NOT_EXCLUDED} GROUP BY bucket, image_id`);
  }
  if (use('leave', ranges.leave)) parts.push(rows('leave', 1));
  if (use('active', ranges.active))
    parts.push(`
SELECT DISTINCT 3 AS part, toUInt64(0) AS bucketMs, image_id AS imageId, toInt8(0) AS band, '' AS clientText, '' AS netRaw, '' AS userAgent,
       toUInt32(0) AS rectX, toUInt32(0) AS rectY, toUInt32(0) AS rectW, toUInt32(0) AS rectH, toUInt64(0) AS width, toUInt64(0) AS height,
       toInt64(0) AS firstTs, toInt64(0) AS lastTs, toUInt32(0) AS hostingAsn
FROM hunt_cells WHERE ${inRange('active')}`);
  const out: CellDelta = { added: [], extents: [], gone: [], active: [] };
  if (parts.length === 0) return out;
  type Raw = Omit<HuntCellRow, 'bucket' | 'client' | 'net'> & { part: number; bucketMs: number; clientText: string; netRaw: string; width: number; height: number };
  const raw = await readRows<Raw>(client, parts.join('\nUNION ALL'), params, NO_TIME_LIMIT);
  const clients = new Map<string, string>();
  const nets = new Map<string, string>();
  const hosting = new Map<string, number>();
  for (const r of raw) {
    if (r.part === 2) out.extents.push({ bucket: r.bucketMs, imageId: r.imageId, width: r.width, height: r.height });
    else if (r.part === 3) out.active.push(r.imageId);
    else {
      let c = clients.get(r.clientText);
      if (c === undefined) {
        clients.set(r.clientText, (c = fromIpv6Text(r.clientText)));
        if (hostingAsnOf) hosting.set(c, hostingAsnOf(c));
      }
      let n = nets.get(r.netRaw);
      if (n === undefined) nets.set(r.netRaw, (n = groupText(r.netRaw)));
      const row = { bucket: r.bucketMs, imageId: r.imageId, band: r.band, client: c, net: n, userAgent: r.userAgent, rectX: r.rectX, rectY: r.rectY, rectW: r.rectW, rectH: r.rectH, firstTs: r.firstTs, lastTs: r.lastTs, hostingAsn: hostingAsnOf ? hosting.get(c)! : r.hostingAsn };
      (r.part === 0 ? out.added : out.gone).push(row);
    }
  }
  return out;
}

/** Per (bucket, image, client) of the buckets in [from, to): the sums of the members' profiles over every band (hunted rows, excluded clients left out). */
export async function profileRows(client: ClickHouseClient, range: BucketRange, ex: HuntExclusions, protectedBand: number): Promise<ProfileRow[]> {
  if (!(range.to > range.from)) return [];
  type Raw = Omit<ProfileRow, 'bucket' | 'client' | 'requests'> & { bucketMs: number; clientText: string; allRequests: number };
  const raw = await readRows<Raw>(
    client,
    `SELECT toUnixTimestamp(bucket) * 1000 AS bucketMs, image_id AS imageId, IPv6NumToString(client) AS clientText, min(toString(user_agent)) AS userAgent,
       sum(requests) AS allRequests, sumIf(requests, band <= {protectedBand:Int8}) AS deepRequests, min(band) AS minBand, max(band) AS maxBand,
       min(level) AS minLevel, max(level) AS maxLevel, toUnixTimestamp64Milli(min(first_ts)) AS firstTs, toUnixTimestamp64Milli(max(last_ts)) AS lastTs
     FROM hunt_cells
     WHERE bucket >= toDateTime({from:DateTime64(3, 'UTC')}) AND bucket < toDateTime({to:DateTime64(3, 'UTC')}) AND hunted = 1 AND ${NOT_EXCLUDED}
     GROUP BY bucket, image_id, client`,
    { ...exclusionParams(ex), from: ts(range.from), to: ts(range.to), protectedBand },
    NO_TIME_LIMIT,
  );
  const clients = new Map<string, string>();
  return raw.map((r) => {
    let c = clients.get(r.clientText);
    if (c === undefined) clients.set(r.clientText, (c = fromIpv6Text(r.clientText)));
    return {
      bucket: r.bucketMs,
      imageId: r.imageId,
      client: c,
      userAgent: r.userAgent,
      requests: r.allRequests,
      deepRequests: r.deepRequests,
      minBand: r.minBand,
      maxBand: r.maxBand,
      minLevel: r.minLevel,
      maxLevel: r.maxLevel,
      firstTs: r.firstTs,
      lastTs: r.lastTs,
    };
  });
}

/** Catalogue sizes (newest entry per image) of the given images. */
export async function catalogueSizes(client: ClickHouseClient, images: readonly string[]): Promise<Map<string, CatalogueSize>> {
  if (images.length === 0) return new Map();
  const out = await readRows<{ imageId: string } & CatalogueSize>(
    client,
    `SELECT image_id AS imageId, argMax(width, updated_at) AS width, argMax(height, updated_at) AS height, argMax(open_data_long_edge, updated_at) AS openDataLongEdge
     FROM images WHERE image_id IN {images:Array(String)} GROUP BY image_id`,
    { images: [...images] },
    NO_TIME_LIMIT,
  );
  return new Map(out.map((r) => [r.imageId, { width: r.width, height: r.height, openDataLongEdge: r.openDataLongEdge }]));
}

/**
 * Reads of `hunt_cells` (schemas/clickhouse/008_hunt_cells.sql) for the incremental campaign hunt:
 * the rows of a range of 10-minute buckets, their extents, the images active in a step, and the
 * catalogue sizes of those images. Every read is a range of the table's first key column, so its cost
 * is the size of the buckets read, whatever the history stored. Parameterised only.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { BucketExtent, CampaignCellRow, CatalogueSize } from '../core/hunts/campaignState.ts';
import { fromIpv6Text } from '../store/clientIp.ts';
import { NO_TIME_LIMIT, readRows } from '../store/sql.ts';
import { cidrBounds, type HuntExclusions } from './huntQueries.ts';

/** The buckets of hunt_cells: ten minutes of event time. */
export const CELL_BUCKET_MS = 10 * 60_000;

function ts(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function exclusionParams(ex: HuntExclusions): Record<string, unknown> {
  const { lo, hi } = cidrBounds(ex.cidrs);
  return { allowLo: lo, allowHi: hi, allowUa: [...ex.userAgentPatterns] };
}

const NOT_EXCLUDED = `NOT arrayExists((lo, hi) -> client >= lo AND client <= hi, {allowLo:Array(IPv6)}, {allowHi:Array(IPv6)})
    AND NOT multiMatchAny(toString(user_agent), {allowUa:Array(String)})`;

/** `net:<network>/<bits>` as people write it (a mapped /24 as `net:a.b.c.0/24`), like the SQL hunt's group names. */
function netText(raw: string): string {
  const m = /^net:(.*)\/(\d+)$/.exec(raw);
  return m ? `net:${fromIpv6Text(m[1]!)}/${m[2]!}` : raw;
}

/**
 * Hunted rows of the buckets in [from, to) at bands ≤ protectedBand, one per (bucket, image, band,
 * client, user agent, rectangle), excluded clients left out, and the per-bucket extents of every band.
 */
export async function cellRows(
  client: ClickHouseClient,
  from: number,
  to: number,
  ex: HuntExclusions,
  protectedBand: number,
): Promise<{ rows: CampaignCellRow[]; extents: BucketExtent[] }> {
  if (!(to > from)) return { rows: [], extents: [] };
  const params = { ...exclusionParams(ex), from: ts(from), to: ts(to), protectedBand };
  const range = `bucket >= toDateTime({from:DateTime64(3, 'UTC')}) AND bucket < toDateTime({to:DateTime64(3, 'UTC')}) AND hunted = 1`;
  type Raw = Omit<CampaignCellRow, 'bucket' | 'client' | 'net'> & { bucketMs: number; clientText: string; netRaw: string };
  const raw = await readRows<Raw>(
    client,
    `SELECT toUnixTimestamp(bucket) * 1000 AS bucketMs, image_id AS imageId, band, IPv6NumToString(client) AS clientText,
       if(IPv6NumToString(client) LIKE '::ffff:%.%',
          concat('net:', IPv6NumToString(tupleElement(IPv6CIDRToRange(client, 120), 1)), '/24'),
          concat('net:', IPv6NumToString(tupleElement(IPv6CIDRToRange(client, 48), 1)), '/48')) AS netRaw,
       toString(user_agent) AS userAgent, rect_x AS rectX, rect_y AS rectY, rect_w AS rectW, rect_h AS rectH
     FROM hunt_cells
     WHERE ${range} AND band <= {protectedBand:Int8} AND ${NOT_EXCLUDED}
     GROUP BY bucket, image_id, band, client, user_agent, rect_x, rect_y, rect_w, rect_h`,
    params,
    NO_TIME_LIMIT,
  );
  const clients = new Map<string, string>();
  const nets = new Map<string, string>();
  const rows = raw.map((r): CampaignCellRow => {
    let c = clients.get(r.clientText);
    if (c === undefined) clients.set(r.clientText, (c = fromIpv6Text(r.clientText)));
    let n = nets.get(r.netRaw);
    if (n === undefined) nets.set(r.netRaw, (n = netText(r.netRaw)));
    return { bucket: r.bucketMs, imageId: r.imageId, band: r.band, client: c, net: n, userAgent: r.userAgent, rectX: r.rectX, rectY: r.rectY, rectW: r.rectW, rectH: r.rectH };
  });
  const extents = await readRows<Omit<BucketExtent, 'bucket'> & { bucketMs: number }>(
    client,
    `SELECT toUnixTimestamp(bucket) * 1000 AS bucketMs, image_id AS imageId, max(toUInt64(rect_x) + rect_w) AS width, max(toUInt64(rect_y) + rect_h) AS height
     FROM hunt_cells WHERE ${range} AND ${NOT_EXCLUDED} GROUP BY bucket, image_id`,
    params,
    NO_TIME_LIMIT,
  );
  return { rows, extents: extents.map((e) => ({ bucket: e.bucketMs, imageId: e.imageId, width: e.width, height: e.height })) };
}

/** Images with any request (hunted or not, any client) in the buckets of [from, to): the SQL hunt's "active in the last step". */
export async function activeImages(client: ClickHouseClient, from: number, to: number): Promise<string[]> {
  const out = await readRows<{ imageId: string }>(
    client,
    `SELECT DISTINCT image_id AS imageId FROM hunt_cells
     WHERE bucket >= toDateTime({from:DateTime64(3, 'UTC')}) AND bucket < toDateTime({to:DateTime64(3, 'UTC')})`,
    { from: ts(from), to: ts(to) },
    NO_TIME_LIMIT,
  );
  return out.map((r) => r.imageId);
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

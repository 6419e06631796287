/** Search for clients by IP, CIDR block, user agent (substring, case-insensitive) or image. */
import type { Store } from '../store/openStore.ts';
import { fromIpv6Text } from '../store/clientIp.ts';
import type { ClientIp, IpRange, TimeRange } from './inputs.ts';
import { readRows } from '../store/sql.ts';
import { iso } from './iso.ts';

export type SearchBy = { readonly ip: ClientIp } | { readonly cidr: IpRange } | { readonly userAgent: string } | { readonly image: string };

export interface SearchHit {
  readonly ip: string;
  readonly requests: number;
  readonly tiles: number;
  readonly images: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly userAgents: readonly string[];
  readonly alerts: number;
}

const RANGE = 'ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})';

function whereOf(by: SearchBy): string {
  if ('ip' in by) return 'client = {ip:IPv6}';
  if ('cidr' in by) return 'client >= {lo:IPv6} AND client <= {hi:IPv6}';
  if ('userAgent' in by) return 'positionCaseInsensitiveUTF8(user_agent, {ua:String}) > 0';
  // The image's clients come from the image-ordered copy, so the client-ordered table is read by key.
  return `image_id = {image:String} AND client IN (SELECT DISTINCT client FROM image_requests WHERE image_id = {image:String} AND ${RANGE})`;
}

export async function searchClients(store: Store, by: SearchBy, range: TimeRange, limit: number): Promise<{ hits: SearchHit[]; truncated: boolean }> {
  const params = {
    ip: 'ip' in by ? by.ip.v6 : '::',
    lo: 'cidr' in by ? by.cidr.lo : '::',
    hi: 'cidr' in by ? by.cidr.hi : '::',
    ua: 'userAgent' in by ? by.userAgent : '',
    image: 'image' in by ? by.image : '',
    from: range.from,
    to: range.to,
    limit: limit + 1,
  };
  const rows = await readRows<{ ip: string; requests: number; tiles: number; images: number; first_ms: number; last_ms: number; uas: string[] }>(
    store.client,
    `SELECT toString(client) AS ip, count() AS requests, countIf(kind IN ('tile', 'region', 'full')) AS tiles,
       uniqExactIf(image_id, image_id != '') AS images, toUnixTimestamp64Milli(min(ts)) AS first_ms, toUnixTimestamp64Milli(max(ts)) AS last_ms,
       arrayMap(x -> toString(x), topK(3)(user_agent)) AS uas
     FROM tile_requests WHERE ${whereOf(by)} AND ${RANGE}
     GROUP BY client ORDER BY requests DESC, client LIMIT {limit:UInt32}`,
    params,
  );
  const kept = rows.slice(0, limit);
  const alertCounts =
    kept.length === 0
      ? []
      : await readRows<{ ip: string; n: number }>(store.client, 'SELECT toString(client) AS ip, count() AS n FROM alerts FINAL WHERE client IN {ips:Array(IPv6)} GROUP BY client', {
          ips: kept.map((r) => r.ip),
        });
  const alerts = new Map(alertCounts.map((a) => [a.ip, a.n]));
  return {
    hits: kept.map((r) => ({
      ip: fromIpv6Text(r.ip),
      requests: r.requests,
      tiles: r.tiles,
      images: r.images,
      firstSeen: iso(r.first_ms),
      lastSeen: iso(r.last_ms),
      userAgents: r.uas,
      alerts: alerts.get(r.ip) ?? 0,
    })),
    truncated: rows.length > limit,
  };
}

/** End of the newest stored minute (epoch ms; 0 when the store is empty), from the small traffic_minute aggregate. */
export async function newestDataTime(store: Store): Promise<number> {
  const r = await readRows<{ n: number; last: number }>(store.client, 'SELECT count() AS n, toUnixTimestamp(max(minute)) * 1000 + 60000 AS last FROM traffic_minute');
  return r[0] && r[0].n > 0 ? r[0].last : 0;
}

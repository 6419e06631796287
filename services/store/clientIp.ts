/**
 * Client addresses between their text form and the `IPv6` columns (`tile_requests.client`,
 * `alerts.client`, …): IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`), IPv6 as itself. The one place
 * either direction is written; SQL that must run in the engine (grouping by a mapped /24, say) says
 * so where it stands.
 */
import { canonicalIp } from '../core/logformat/canonicalIp.ts';
import { formatIpv4 } from '../core/logformat/parseIp.ts';

/** IPv4-mapped prefix of the IPv6 column text. */
const MAPPED = '::ffff:';

/** An address as `IPv6` column text (a query parameter of type IPv6, an inserted value): IPv4 as `::ffff:a.b.c.d`. */
export function toIpv6Text(ip: string): string {
  return ip.includes(':') ? ip : `${MAPPED}${ip}`;
}

/** An IPv4 address given as its 32-bit number, as `IPv6` column text. */
export function ipv4ToIpv6Text(n: number): string {
  return `${MAPPED}${formatIpv4(n)}`;
}

/**
 * `IPv6` column text (as `toString(client)` / `IPv6NumToString` print it) back to the address as
 * people write it: IPv4-mapped addresses as their IPv4 dotted quad, IPv6 in RFC 5952 form (which is
 * how ClickHouse prints it). Text that is no address is returned unchanged.
 */
export function fromIpv6Text(stored: string): string {
  return canonicalIp(stored) ?? stored;
}

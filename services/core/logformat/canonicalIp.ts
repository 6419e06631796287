import { formatIpv4, formatIpv6, isIpv4Mapped, parseIpv4, parseIpv6 } from './parseIp.ts';

/**
 * Validates and canonicalises a client address.
 *
 * - IPv4: dotted quad, no leading zeros (`010.0.0.1` is rejected as ambiguous); returned unchanged.
 * - IPv6: returned in RFC 5952 form (lower case, longest zero run compressed, zone id dropped).
 * - IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`) becomes the IPv4 text `1.2.3.4`.
 *
 * @returns the canonical text, or null when `text` is not an IP address.
 */
export function canonicalIp(text: string): string | null {
  if (text.indexOf(':') === -1) return parseIpv4(text) >= 0 ? text : null;
  const groups = parseIpv6(text);
  if (groups === null) return null;
  if (isIpv4Mapped(groups)) return formatIpv4(((groups[6] ?? 0) * 65536 + (groups[7] ?? 0)) >>> 0);
  return formatIpv6(groups);
}

import { formatIpv4, formatIpv6, isIpv4Mapped, parseIpv4, parseIpv6 } from './parseIp.ts';

/** A parsed CIDR block. IPv4-mapped IPv6 blocks (`::ffff:10.0.0.0/104`) are normalised to IPv4. */
export type Cidr =
  | { readonly family: 4; readonly prefix: number; /** Network address, host bits cleared, unsigned 32-bit. */ readonly network: number }
  | { readonly family: 6; readonly prefix: number; /** Network address as eight 16-bit groups, host bits cleared. */ readonly groups: readonly number[] };

/**
 * Parses `a.b.c.d/n`, `x:y::z/n`, or a bare address (a /32 or /128 single host).
 * Host bits set below the prefix are cleared (as nginx `set_real_ip_from` does).
 *
 * @throws Error with a message naming the offending text when it is not a valid CIDR
 * (configuration errors are exceptions).
 */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addr = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash === -1 ? '' : trimmed.slice(slash + 1);
  if (slash !== -1 && !/^\d{1,3}$/.test(prefixText)) throw new Error(`invalid CIDR "${text}": bad prefix length`);
  const v4 = addr.indexOf(':') === -1 ? parseIpv4(addr) : -1;
  if (v4 >= 0) {
    const prefix = slash === -1 ? 32 : Number(prefixText);
    if (prefix > 32) throw new Error(`invalid CIDR "${text}": IPv4 prefix length must be 0..32`);
    return { family: 4, prefix, network: (v4 & maskV4(prefix)) >>> 0 };
  }
  const groups = addr.indexOf(':') === -1 ? null : parseIpv6(addr);
  if (groups === null || addr.indexOf('%') !== -1) throw new Error(`invalid CIDR "${text}": not an IPv4 or IPv6 address`);
  const prefix = slash === -1 ? 128 : Number(prefixText);
  if (prefix > 128) throw new Error(`invalid CIDR "${text}": IPv6 prefix length must be 0..128`);
  if (isIpv4Mapped(groups) && prefix >= 96) {
    const v = ((groups[6] ?? 0) * 65536 + (groups[7] ?? 0)) >>> 0;
    return { family: 4, prefix: prefix - 96, network: (v & maskV4(prefix - 96)) >>> 0 };
  }
  return { family: 6, prefix, groups: maskGroups(groups, prefix) };
}

function maskV4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function maskGroups(groups: readonly number[], prefix: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    out.push((groups[i] ?? 0) & mask);
  }
  return out;
}

/**
 * Compiles CIDR strings once into a membership test.
 *
 * The returned function accepts any address text (IPv4, IPv6 in any form, IPv4-mapped IPv6 —
 * which is tested against the IPv4 blocks) and returns false for non-addresses. With no CIDRs
 * it always returns false.
 *
 * @throws Error (from {@link parseCidr}) when any entry is invalid.
 */
export function compileCidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const v4Net: number[] = [];
  const v4Mask: number[] = [];
  const v6: Cidr[] = [];
  for (const text of cidrs) {
    const c = parseCidr(text);
    if (c.family === 4) {
      v4Net.push(c.network);
      v4Mask.push(maskV4(c.prefix));
    } else {
      v6.push(c);
    }
  }
  const n4 = v4Net.length;
  const n6 = v6.length;
  if (n4 + n6 === 0) return () => false;
  const matchV4 = (v: number): boolean => {
    for (let i = 0; i < n4; i++) if (((v & v4Mask[i]!) >>> 0) === v4Net[i]) return true;
    return false;
  };
  return (ip: string): boolean => {
    if (ip.indexOf(':') === -1) {
      const v = parseIpv4(ip);
      return v >= 0 && n4 > 0 && matchV4(v);
    }
    const groups = parseIpv6(ip);
    if (groups === null) return false;
    if (isIpv4Mapped(groups)) return n4 > 0 && matchV4(((groups[6] ?? 0) * 65536 + (groups[7] ?? 0)) >>> 0);
    outer: for (let k = 0; k < n6; k++) {
      const c = v6[k]!;
      if (c.family !== 6) continue;
      for (let i = 0; i < 8; i++) {
        const bits = Math.max(0, Math.min(16, c.prefix - i * 16));
        if (bits === 0) break;
        const mask = (0xffff << (16 - bits)) & 0xffff;
        if (((groups[i] ?? 0) & mask) !== c.groups[i]) continue outer;
      }
      return true;
    }
    return false;
  };
}

/**
 * The client's network for per-subnet aggregation: the /24 for IPv4 (`203.0.113.0/24`) and the
 * /48 for IPv6 (`2001:db8:1::/48`, RFC 5952 text). IPv4-mapped IPv6 counts as IPv4.
 *
 * @returns the subnet text, or '' when `ip` is not an IP address.
 */
export function subnetOf(ip: string): string {
  if (ip.indexOf(':') === -1) {
    const v = parseIpv4(ip);
    return v < 0 ? '' : `${formatIpv4((v & 0xffffff00) >>> 0)}/24`;
  }
  const groups = parseIpv6(ip);
  if (groups === null) return '';
  if (isIpv4Mapped(groups)) {
    const v = ((groups[6] ?? 0) * 65536 + (groups[7] ?? 0)) >>> 0;
    return `${formatIpv4((v & 0xffffff00) >>> 0)}/24`;
  }
  return `${formatIpv6([groups[0] ?? 0, groups[1] ?? 0, groups[2] ?? 0, 0, 0, 0, 0, 0])}/48`;
}

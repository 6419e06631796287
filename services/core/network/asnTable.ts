/**
 * An IP-to-ASN table in memory: inclusive address ranges, each with its autonomous system number and
 * organisation, held as sorted typed arrays and searched by bisection (IPv4 in one array of 32-bit
 * starts, IPv6 in 4 × 32-bit words per address). Pure: loaders (services/network/asnSources.ts) hand
 * the ranges in; the lookup takes client text as the store writes it (IPv4, IPv6, IPv4-mapped IPv6).
 *
 * Ranges must not overlap; a range that overlaps the previous one (after sorting by start) is clipped
 * to what lies after it, or dropped when nothing does, and counted in {@link AsnTable.clipped}.
 */
import { isIpv4Mapped, parseIpv4, parseIpv6 } from '../logformat/parseIp.ts';

/** Not found. */
export const NO_ENTRY = -1;

const TWO32 = 2n ** 32n;
const MAX128 = 2n ** 128n - 1n;

/** Collects ranges; {@link build} sorts them into a table. */
export class AsnTableBuilder {
  private readonly v4: Array<[number, number, number, number]> = [];
  private readonly v6: Array<[bigint, bigint, number, number]> = [];
  private readonly orgs: string[] = [];
  private readonly orgIndex = new Map<string, number>();

  private org(name: string): number {
    let i = this.orgIndex.get(name);
    if (i === undefined) {
      i = this.orgs.length;
      this.orgs.push(name);
      this.orgIndex.set(name, i);
    }
    return i;
  }

  /** An IPv4 range [start, end] of 32-bit unsigned numbers. */
  addV4(start: number, end: number, asn: number, org: string): void {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= 0xffffffff && start <= end)) {
      throw new RangeError(`invalid IPv4 range ${start}–${end}`);
    }
    if (!(Number.isInteger(asn) && asn >= 0 && asn <= 0xffffffff)) throw new RangeError(`invalid ASN ${asn}`);
    this.v4.push([start, end, asn, this.org(org)]);
  }

  /** An IPv6 range [start, end] of 128-bit unsigned numbers. */
  addV6(start: bigint, end: bigint, asn: number, org: string): void {
    if (!(start >= 0n && end <= MAX128 && start <= end)) throw new RangeError(`invalid IPv6 range ${start}–${end}`);
    if (!(Number.isInteger(asn) && asn >= 0 && asn <= 0xffffffff)) throw new RangeError(`invalid ASN ${asn}`);
    this.v6.push([start, end, asn, this.org(org)]);
  }

  get ranges(): number {
    return this.v4.length + this.v6.length;
  }

  build(): AsnTable {
    let clipped = 0;
    this.v4.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const v4: Array<[number, number, number, number]> = [];
    for (const r of this.v4) {
      const prev = v4[v4.length - 1];
      if (prev && r[0] <= prev[1]) {
        clipped++;
        if (r[1] <= prev[1]) continue;
        v4.push([prev[1] + 1, r[1], r[2], r[3]]);
      } else v4.push(r);
    }
    this.v6.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const v6: Array<[bigint, bigint, number, number]> = [];
    for (const r of this.v6) {
      const prev = v6[v6.length - 1];
      if (prev && r[0] <= prev[1]) {
        clipped++;
        if (r[1] <= prev[1]) continue;
        v6.push([prev[1] + 1n, r[1], r[2], r[3]]);
      } else v6.push(r);
    }
    const start4 = new Uint32Array(v4.length);
    const end4 = new Uint32Array(v4.length);
    const asn = new Uint32Array(v4.length + v6.length);
    const org = new Uint32Array(v4.length + v6.length);
    v4.forEach((r, i) => {
      start4[i] = r[0];
      end4[i] = r[1];
      asn[i] = r[2];
      org[i] = r[3];
    });
    const start6 = new Uint32Array(v6.length * 4);
    const end6 = new Uint32Array(v6.length * 4);
    v6.forEach((r, i) => {
      writeWords(start6, i, r[0]);
      writeWords(end6, i, r[1]);
      asn[v4.length + i] = r[2];
      org[v4.length + i] = r[3];
    });
    return new AsnTable(start4, end4, start6, end6, asn, org, this.orgs.slice(), clipped);
  }
}

function writeWords(into: Uint32Array, i: number, n: bigint): void {
  for (let k = 3; k >= 0; k--) {
    into[i * 4 + k] = Number(n % TWO32);
    n /= TWO32;
  }
}

function readWords(from: Uint32Array, i: number): bigint {
  let n = 0n;
  for (let k = 0; k < 4; k++) n = n * TWO32 + BigInt(from[i * 4 + k]!);
  return n;
}

/** One range of the table, as {@link AsnTable.ranges} lists it. */
export interface AsnRangeEntry {
  readonly family: 4 | 6;
  /** IPv4: 32-bit number; IPv6: 128-bit number. */
  readonly start: bigint;
  readonly end: bigint;
  readonly asn: number;
  readonly org: string;
}

export class AsnTable {
  /** Scratch words of the IPv6 address being looked up (no allocation per lookup). */
  private readonly key = new Uint32Array(4);

  constructor(
    private readonly start4: Uint32Array,
    private readonly end4: Uint32Array,
    private readonly start6: Uint32Array,
    private readonly end6: Uint32Array,
    private readonly asns: Uint32Array,
    private readonly orgIds: Uint32Array,
    private readonly orgs: readonly string[],
    /** Ranges clipped or dropped because they overlapped an earlier one. */
    readonly clipped = 0,
  ) {}

  /** An empty table: every address unknown. */
  static empty(): AsnTable {
    return new AsnTableBuilder().build();
  }

  get size(): number {
    return this.asns.length;
  }

  /** Bytes held by the typed arrays (the organisation strings come on top). */
  get bytes(): number {
    return this.start4.byteLength + this.end4.byteLength + this.start6.byteLength + this.end6.byteLength + this.asns.byteLength + this.orgIds.byteLength;
  }

  asnAt(entry: number): number {
    return this.asns[entry]!;
  }

  orgAt(entry: number): string {
    return this.orgs[this.orgIds[entry]!]!;
  }

  /** Entry holding an IPv4 address given as its 32-bit number, or {@link NO_ENTRY}. */
  findV4(x: number): number {
    const s = this.start4;
    let lo = 0;
    let hi = s.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! <= x) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at >= 0 && this.end4[at]! >= x ? at : NO_ENTRY;
  }

  /** Entry holding the IPv6 address in {@link key}, or {@link NO_ENTRY}. */
  private findV6(): number {
    const s = this.start6;
    const k = this.key;
    let lo = 0;
    let hi = s.length / 4 - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(s, mid, k) <= 0) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at >= 0 && compare(this.end6, at, k) >= 0 ? this.start4.length + at : NO_ENTRY;
  }

  /**
   * Entry holding the address (`203.0.113.7`, `2001:db8::1`, `::ffff:203.0.113.7`), or
   * {@link NO_ENTRY} when no range holds it or the text is no address.
   */
  find(ip: string): number {
    if (ip.indexOf(':') === -1) {
      const v = parseIpv4(ip);
      return v < 0 ? NO_ENTRY : this.findV4(v);
    }
    const g = parseIpv6(ip);
    if (g === null) return NO_ENTRY;
    if (isIpv4Mapped(g)) return this.findV4(((g[6]! << 16) | g[7]!) >>> 0);
    const k = this.key;
    k[0] = ((g[0]! << 16) | g[1]!) >>> 0;
    k[1] = ((g[2]! << 16) | g[3]!) >>> 0;
    k[2] = ((g[4]! << 16) | g[5]!) >>> 0;
    k[3] = ((g[6]! << 16) | g[7]!) >>> 0;
    return this.findV6();
  }

  /** Every range, IPv4 first, in address order. */
  *ranges(): Generator<AsnRangeEntry> {
    for (let i = 0; i < this.start4.length; i++) {
      yield { family: 4, start: BigInt(this.start4[i]!), end: BigInt(this.end4[i]!), asn: this.asns[i]!, org: this.orgAt(i) };
    }
    const n4 = this.start4.length;
    for (let i = 0; i < this.start6.length / 4; i++) {
      yield { family: 6, start: readWords(this.start6, i), end: readWords(this.end6, i), asn: this.asns[n4 + i]!, org: this.orgAt(n4 + i) };
    }
  }
}

/** Compares the 4-word address at `i` of `arr` with `k`: <0, 0, >0. */
function compare(arr: Uint32Array, i: number, k: Uint32Array): number {
  const b = i * 4;
  for (let w = 0; w < 4; w++) {
    const a = arr[b + w]!;
    const c = k[w]!;
    if (a !== c) return a < c ? -1 : 1;
  }
  return 0;
}

/**
 * The CIDR prefixes that exactly cover [start, end] of a `bits`-wide address space (32 or 128), as
 * (network, prefix length) pairs, fewest first-to-last.
 */
export function rangeToPrefixes(start: bigint, end: bigint, bits: 32 | 128): Array<[bigint, number]> {
  const out: Array<[bigint, number]> = [];
  let cur = start;
  while (cur <= end) {
    // Largest block aligned at cur that stays within end.
    let size = 0;
    while (size < bits) {
      const block = 1n << BigInt(size + 1);
      if (cur % block !== 0n || cur + block - 1n > end) break;
      size++;
    }
    out.push([cur, bits - size]);
    cur += 1n << BigInt(size);
  }
  return out;
}

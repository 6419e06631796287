/**
 * A minimal MaxMind DB (.mmdb) writer for tests: an IPv6 search tree (IPv4 networks under ::/96, as
 * GeoLite2 files hold them) with 24-bit records, ASN records as the GeoLite2-ASN format has them
 * (`autonomous_system_number`, `autonomous_system_organization`), and the metadata readers require.
 * Written from the format's specification; the product reads such files with mmdb-lib.
 */

export interface MmdbNetwork {
  /** `a.b.c.d/len` or `x:y::/len`. */
  readonly cidr: string;
  readonly asn: number;
  readonly org: string;
}

function ctrl(type: number, size: number): Buffer {
  const head: number[] = [];
  let extra: number[] = [];
  let s = size;
  if (size >= 29 + 256 + 65536) throw new Error('too large');
  if (size >= 285) {
    s = 30;
    const v = size - 285;
    extra = [v >> 8, v & 255];
  } else if (size >= 29) {
    s = 29;
    extra = [size - 29];
  }
  if (type <= 7) head.push((type << 5) | s);
  else head.push(s, type - 7);
  return Buffer.from([...head, ...extra]);
}

function uint(type: number, v: bigint | number): Buffer {
  let n = BigInt(v);
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 255n));
    n >>= 8n;
  }
  return Buffer.concat([ctrl(type, bytes.length), Buffer.from(bytes)]);
}

type Value = string | { u16: number } | { u32: number } | { u64: number } | Value[] | { [k: string]: Value };

function encode(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([ctrl(2, b.length), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([ctrl(11, v.length), ...v.map(encode)]);
  if ('u16' in v && typeof v.u16 === 'number') return uint(5, v.u16);
  if ('u32' in v && typeof v.u32 === 'number') return uint(6, v.u32);
  if ('u64' in v && typeof v.u64 === 'number') return uint(9, v.u64);
  const entries = Object.entries(v);
  return Buffer.concat([ctrl(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

function prefixBits(cidr: string): { bits: bigint; len: number } {
  const [addr, lenText] = cidr.split('/') as [string, string];
  const len = Number(lenText);
  if (!addr.includes(':')) {
    const n = addr.split('.').reduce((a, p) => a * 256n + BigInt(Number(p)), 0n);
    return { bits: n, len: 96 + len };
  }
  const [head, tail = ''] = addr.split('::') as [string, string?];
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { bits: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n), len };
}

/** The bytes of an .mmdb file holding the networks (which must not nest). */
export function writeAsnMmdb(networks: readonly MmdbNetwork[], buildEpoch = 1_700_000_000): Buffer {
  // Data section: one record per network.
  const records: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const n of networks) {
    const b = encode({ autonomous_system_number: { u32: n.asn }, autonomous_system_organization: n.org });
    offsets.push(at);
    records.push(b);
    at += b.length;
  }
  // Search tree: node i = [left, right]; -1 = empty, -(2 + k) = data record k, ≥ 0 = node.
  const nodes: Array<[number, number]> = [[-1, -1]];
  networks.forEach((n, k) => {
    const { bits, len } = prefixBits(n.cidr);
    let node = 0;
    for (let d = 0; d < len; d++) {
      const bit = Number((bits >> BigInt(127 - d)) & 1n);
      if (d === len - 1) {
        nodes[node]![bit as 0 | 1] = -(2 + k);
        break;
      }
      let next = nodes[node]![bit]!;
      if (next < 0) {
        next = nodes.length;
        nodes.push([-1, -1]);
        nodes[node]![bit as 0 | 1] = next;
      }
      node = next;
    }
  });
  const nodeCount = nodes.length;
  const value = (r: number): number => (r >= 0 ? r : r === -1 ? nodeCount : nodeCount + 16 + offsets[-r - 2]!);
  const tree = Buffer.alloc(nodeCount * 6);
  nodes.forEach(([l, r], i) => {
    tree.writeUIntBE(value(l), i * 6, 3);
    tree.writeUIntBE(value(r), i * 6 + 3, 3);
  });
  const metadata = encode({
    node_count: { u32: nodeCount },
    record_size: { u16: 24 },
    ip_version: { u16: 6 },
    database_type: 'Test-ASN',
    languages: ['en'],
    binary_format_major_version: { u16: 2 },
    binary_format_minor_version: { u16: 0 },
    build_epoch: { u64: buildEpoch },
    description: { en: 'tilewatch test ASN database' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...records, Buffer.from('ABCDEF4D61784D696E642E636F6D', 'hex'), metadata]);
}

/**
 * Loads the IP-to-ASN table once per process (services/core/network/asnTable.ts) from one of:
 * - `auto` (default): the optional npm package `@ip-location-db/asn` when it is installed (its
 *   `asn-ipv4-num.csv` and `asn-ipv6-num.csv`, RouteViews + RIR + DB-IP data, CC BY 4.0), else nothing;
 * - a `.csv` file in the same format (`start,end,asn,organisation`, addresses as text or as numbers),
 *   or a directory holding `asn-ipv4*.csv` / `asn-ipv6*.csv` (a newer release of the same data);
 * - a MaxMind-format `.mmdb` ASN file (GeoLite2-ASN, DB-IP ASN Lite, ip-location-db's asn-mmdb), read
 *   with mmdb-lib: its networks are enumerated once into the same table, so lookups in the process
 *   and in SQL (the store's `asn_lookup` dictionary) give the same answers;
 * - `none`: no data; every address is 'unknown'.
 * docs/network-context.md says where the data comes from, its licence and how to update it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Reader, type AsnResponse } from 'mmdb-lib';
import { AsnTableBuilder, type AsnTable } from '../core/network/asnTable.ts';
import { hostingClassifier } from '../core/network/hostingNetworks.ts';
import { createNetworkContext, DEFAULT_NETWORK_SETTINGS, noNetworkContext, type NetworkContext, type NetworkSettings, type NetworkSource } from '../core/network/networkContext.ts';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../core/logformat/parseIp.ts';

export const ASN_PACKAGE = '@ip-location-db/asn';

export class AsnDataError extends Error {
  readonly code = 'ASN_DATA_INVALID';
}

const CC_BY = 'CC BY 4.0';
const PACKAGE_ATTRIBUTION = 'IP to ASN data: RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com), CC BY 4.0, via ip-location-db';

/** The installed package's directory, or null. */
export function asnPackageDir(): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${ASN_PACKAGE}/package.json`));
  } catch {
    return null;
  }
}

/** Loads the network context the settings name (once per process: the caller keeps it). */
export function loadNetworkContext(settings: NetworkSettings = DEFAULT_NETWORK_SETTINGS): Promise<NetworkContext> {
  // Once per process and settings: the store copy and the alert outputs of one command share it.
  const key = JSON.stringify([settings.asnDatabase, [...settings.hostingAsns]]);
  let p = loaded.get(key);
  if (p === undefined) {
    p = readNetworkContext(settings);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}
const loaded = new Map<string, Promise<NetworkContext>>();

async function readNetworkContext(settings: NetworkSettings): Promise<NetworkContext> {
  const classifier = hostingClassifier(settings.hostingAsns);
  const db = settings.asnDatabase;
  if (db === 'none') return noNetworkContext();
  if (db === 'auto') {
    const dir = asnPackageDir();
    if (dir === null) return noNetworkContext();
    const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    const table = await readCsvFiles([join(dir, 'asn-ipv4-num.csv'), join(dir, 'asn-ipv6-num.csv')]);
    return createNetworkContext(table, { name: `${ASN_PACKAGE}@${version}`, version: `${ASN_PACKAGE}@${version}`, licence: CC_BY, attribution: PACKAGE_ATTRIBUTION }, classifier);
  }
  if (!existsSync(db)) throw new AsnDataError(`ASN database ${db} does not exist`);
  const st = statSync(db);
  if (st.isDirectory()) {
    const files = readdirSync(db)
      .filter((f) => /^asn-ipv[46](-num)?\.csv$/.test(f))
      .sort();
    // The numeric files when both forms are there (no address parsing).
    const chosen = ['4', '6'].map((v) => files.find((f) => f === `asn-ipv${v}-num.csv`) ?? files.find((f) => f === `asn-ipv${v}.csv`)).filter((f): f is string => f !== undefined);
    if (chosen.length === 0) throw new AsnDataError(`ASN database directory ${db} holds no asn-ipv4*.csv or asn-ipv6*.csv`);
    const table = await readCsvFiles(chosen.map((f) => join(db, f)));
    return createNetworkContext(table, fileSource(db, st.mtimeMs, CC_BY), classifier);
  }
  if (db.endsWith('.mmdb')) {
    const { table, buildEpoch, type } = readMmdb(db);
    return createNetworkContext(
      table,
      { name: basename(db), version: `${basename(db)}:${type}:${buildEpoch}`, licence: 'see the file’s provider', attribution: `IP to ASN data: ${type} (${basename(db)})` },
      classifier,
    );
  }
  if (db.endsWith('.csv')) return createNetworkContext(await readCsvFiles([db]), fileSource(db, st.mtimeMs, 'see the file’s provider'), classifier);
  throw new AsnDataError(`ASN database ${db}: expected a .mmdb file, a .csv file, a directory of asn-ipv4/asn-ipv6 CSVs, "auto" or "none"`);
}

function fileSource(path: string, mtimeMs: number, licence: string): NetworkSource {
  return { name: path, version: `${basename(path)}@${Math.round(mtimeMs)}`, licence, attribution: `IP to ASN data: ${basename(path)}` };
}

/** Splits `start,end,asn,organisation` (organisation optionally double-quoted with "" escapes). */
export function parseAsnCsvLine(line: string): [string, string, string, string] | null {
  const a = line.indexOf(',');
  const b = a < 0 ? -1 : line.indexOf(',', a + 1);
  const c = b < 0 ? -1 : line.indexOf(',', b + 1);
  if (c < 0) return null;
  let org = line.slice(c + 1);
  if (org.startsWith('"') && org.endsWith('"') && org.length >= 2) org = org.slice(1, -1).replace(/""/g, '"');
  return [line.slice(0, a), line.slice(a + 1, b), line.slice(b + 1, c), org];
}

/** An address as text or as a decimal number, as a number (IPv4) or bigint (IPv6); null when neither. */
function addressValue(text: string): { family: 4; n: number } | { family: 6; n: bigint } | null {
  if (/^\d+$/.test(text)) {
    // Up to 15 digits is exact as a double; longer numbers are IPv6.
    if (text.length <= 15) {
      const v = Number(text);
      return v <= 0xffffffff ? { family: 4, n: v } : { family: 6, n: BigInt(text) };
    }
    return { family: 6, n: BigInt(text) };
  }
  if (!text.includes(':')) {
    const v = parseIpv4(text);
    return v < 0 ? null : { family: 4, n: v };
  }
  const g = parseIpv6(text);
  if (g === null) return null;
  let n = 0n;
  for (const x of g) n = (n << 16n) | BigInt(x);
  return { family: 6, n };
}

/**
 * Reads ip-location-db style CSVs into one table. The numeric IPv6 file holds small numbers only for
 * addresses below 2^32 (none in practice): a file's family is that of its name (`ipv6` → 6) when it
 * says, else each row's.
 */
export async function readCsvFiles(paths: readonly string[]): Promise<AsnTable> {
  const b = new AsnTableBuilder();
  for (const path of paths) {
    const v6File = /ipv6/i.test(basename(path));
    // Whole files (the package's largest is 21 MB) split by hand: several times faster than readline.
    const text = await readFile(path, 'utf8');
    let n = 0;
    for (let at = 0; at < text.length; ) {
      let nl = text.indexOf('\n', at);
      if (nl < 0) nl = text.length;
      const line = text.charCodeAt(nl - 1) === 13 ? text.slice(at, nl - 1) : text.slice(at, nl);
      at = nl + 1;
      n++;
      if (line === '' || line.startsWith('#')) continue;
      const f = parseAsnCsvLine(line);
      const s = f && addressValue(f[0]);
      const e = f && addressValue(f[1]);
      const asn = f ? Number(f[2]) : NaN;
      if (!f || !s || !e || !Number.isInteger(asn) || asn < 0) throw new AsnDataError(`${path}:${n}: not an ASN range (start,end,asn,organisation): ${line.slice(0, 120)}`);
      const six = v6File || s.family === 6 || e.family === 6;
      try {
        if (six) b.addV6(BigInt(s.n), BigInt(e.n), asn, f[3]);
        else b.addV4(s.n as number, e.n as number, asn, f[3]);
      } catch (err) {
        throw new AsnDataError(`${path}:${n}: ${(err as Error).message}`);
      }
    }
  }
  return b.build();
}

/**
 * Enumerates an .mmdb ASN file's networks with its reader (`getWithPrefixLength` from the lowest
 * address, jumping past each network it answers for) into a table. IPv4 is read as IPv4; IPv6 skips
 * the ranges that are aliases of IPv4 in such files (::/8, which holds ::/96 and ::ffff:0:0/96, and 6to4 2002::/16).
 */
export function readMmdb(path: string): { table: AsnTable; buildEpoch: number; type: string } {
  let reader: Reader<AsnResponse>;
  try {
    reader = new Reader<AsnResponse>(readFileSync(path));
  } catch (err) {
    throw new AsnDataError(`${path}: not a MaxMind DB file (${(err as Error).message})`);
  }
  const b = new AsnTableBuilder();
  const add = (family: 4 | 6, start: bigint, end: bigint, rec: Partial<AsnResponse> | null): void => {
    const asn = rec?.autonomous_system_number;
    if (typeof asn !== 'number' || asn <= 0) return;
    const org = rec?.autonomous_system_organization ?? '';
    if (family === 4) b.addV4(Number(start), Number(end), asn, org);
    else b.addV6(start, end, asn, org);
  };
  for (let x = 0n; x <= 0xffffffffn; ) {
    const [rec, len] = reader.getWithPrefixLength(formatIpv4(Number(x)));
    // The reader answers an IPv4 address from the tree's IPv4 subtree: the length is within 0..32.
    const size = 1n << BigInt(32 - len);
    add(4, x, x + size - 1n, rec);
    x += size;
  }
  if (reader.metadata.ipVersion === 6) {
    const MAX = (1n << 128n) - 1n;
    const skip: Array<[bigint, bigint]> = [
      [0n, (1n << 120n) - 1n],
      [0x2002n << 112n, ((0x2002n + 1n) << 112n) - 1n],
    ];
    for (let x = 0n; x <= MAX; ) {
      const s = skip.find(([lo, hi]) => x >= lo && x <= hi);
      if (s) {
        x = s[1] + 1n;
        continue;
      }
      const groups: number[] = [];
      for (let i = 7; i >= 0; i--) groups.push(Number((x >> BigInt(i * 16)) & 0xffffn));
      const [rec, len] = reader.getWithPrefixLength(formatIpv6(groups));
      const size = 1n << BigInt(128 - len);
      add(6, x, x + size - 1n, rec);
      x += size;
    }
  }
  return { table: b.build(), buildEpoch: Number(reader.metadata.buildEpoch?.getTime?.() ?? 0), type: String(reader.metadata.databaseType ?? 'mmdb') };
}

/**
 * The IP-to-ASN data in the store, for SQL (dashboards, the campaign hunt, the client timeline):
 * `asn_prefixes` (schemas/clickhouse/011_asn_prefixes.sql) holds the table as CIDR prefixes and the
 * `asn_lookup` dictionary (layout ip_trie, made by the same migration) answers `dictGetOrDefault('asn_lookup', 'asn', client,
 * toUInt32(0))` for the `IPv6` client columns. Written at start (after the migrations) only when the
 * data's version — the package version or the file's name and time, with a digest of the hosting
 * list — differs from the one `asn_data` records, so a normal start costs one small read. Without ASN
 * data the table is empty and every lookup answers 0 ('unknown'), so SQL that uses it still runs.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { rangeToPrefixes } from '../core/network/asnTable.ts';
import { HOSTING_ASNS, HOSTING_ORG_PATTERNS } from '../core/network/hostingNetworks.ts';
import type { NetworkContext, NetworkSettings } from '../core/network/networkContext.ts';
import type { Store } from '../store/openStore.ts';
import { NO_TIME_LIMIT, readRows } from '../store/sql.ts';
import { tsvString } from '../store/tsv.ts';
import { ASN_PACKAGE, asnPackageDir, loadNetworkContext } from './asnSources.ts';

export const ASN_DICTIONARY = 'asn_lookup';

/** What identifies the data the settings give, without reading it: '' when there is none. */
export function networkDataVersion(settings: NetworkSettings): string {
  let data: string;
  const db = settings.asnDatabase;
  if (db === 'none') return '';
  if (db === 'auto') {
    const dir = asnPackageDir();
    if (dir === null) return '';
    data = `${ASN_PACKAGE}@${(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version}`;
  } else {
    try {
      const st = statSync(db);
      data = `${basename(db)}@${Math.round(st.mtimeMs)}:${st.size}`;
    } catch {
      data = `${basename(db)}@missing`;
    }
  }
  const rule = createHash('sha256')
    .update(JSON.stringify([HOSTING_ASNS, HOSTING_ORG_PATTERNS.map(String), [...settings.hostingAsns].sort((a, b) => a - b)]))
    .digest('hex')
    .slice(0, 12);
  return `${data}|hosting:${rule}`;
}

/** An IPv4-mapped or IPv6 prefix as ip_trie takes it. */
function prefixText(family: 4 | 6, net: bigint, len: number): string {
  if (family === 4) {
    const n = Number(net);
    return `::ffff:${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${96 + len}`;
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((net >> BigInt(i * 16)) & 0xffffn).toString(16));
  return `${groups.join(':')}/${len}`;
}

export interface AsnStoreResult {
  /** Whether the data was (re)written. */
  readonly loaded: boolean;
  readonly version: string;
  readonly prefixes: number;
  readonly ms: number;
}

/**
 * Brings `asn_prefixes` and the dictionary up to the data the settings name. `network` is the
 * process's loaded context when it has one (otherwise it is loaded here, only if the data changed).
 */
export async function syncAsnData(store: Store, settings: NetworkSettings, network?: NetworkContext, cluster?: string): Promise<AsnStoreResult> {
  // On a cluster (untested here: no cluster runs in this repository's tests) the local tables are
  // truncated and the dictionary reloaded on every node; rows go in through the Distributed table.
  const onCluster = cluster ? ` ON CLUSTER '${cluster.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : '';
  const t0 = performance.now();
  const version = networkDataVersion(settings);
  const [have] = await readRows<{ version: string }>(store.client, 'SELECT version FROM asn_data FINAL WHERE id = 1', {}, NO_TIME_LIMIT);
  if ((have?.version ?? '') === version) return { loaded: false, version, prefixes: -1, ms: performance.now() - t0 };
  await store.client.command({ query: cluster ? `TRUNCATE TABLE IF EXISTS asn_prefixes_local${onCluster}` : 'TRUNCATE TABLE IF EXISTS asn_prefixes' });
  const insert = (body: Buffer): Promise<void> =>
    store.insertRaw({ table: 'asn_prefixes', columns: ['prefix', 'asn', 'org', 'hosting', 'hosting_asn', 'provider'], format: 'TabSeparated', body });
  const cached = readPrefixCache(version);
  if (cached !== null) {
    // The same data version was turned into prefixes before (another data directory): insert that.
    await insert(cached.body);
    await finish(store, cluster, onCluster, version, cached.meta);
    return { loaded: true, version, prefixes: cached.meta.prefixes, ms: performance.now() - t0 };
  }
  const ctx = network ?? (await loadNetworkContext(settings));
  let prefixes = 0;
  let ranges = 0;
  let chunk: string[] = [];
  const bodies: Buffer[] = [];
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const body = Buffer.from(chunk.join(''));
    bodies.push(body);
    await insert(body);
    chunk = [];
  };
  const classify = ctx.classifier;
  for (const r of ctx.table.ranges()) {
    ranges++;
    const c = classify.classify(r.asn, r.org);
    const hosting = c.kind === 'hosting' ? 1 : 0;
    const tail = `\t${r.asn}\t${tsvString(r.org)}\t${hosting}\t${hosting ? r.asn : 0}\t${tsvString(c.provider)}\n`;
    if (r.family === 4) {
      // IPv4 in plain numbers (exact below 2^53): most of the data, several times faster than bigint.
      for (let cur = Number(r.start), end = Number(r.end); cur <= end; ) {
        let size = 1;
        let bits = 0;
        while (bits < 32 && cur % (size * 2) === 0 && cur + size * 2 - 1 <= end) {
          size *= 2;
          bits++;
        }
        chunk.push(`::ffff:${Math.floor(cur / 16777216) & 255}.${Math.floor(cur / 65536) & 255}.${Math.floor(cur / 256) & 255}.${cur & 255}/${128 - bits}`, tail);
        prefixes++;
        cur += size;
      }
    } else {
      for (const [net, len] of rangeToPrefixes(r.start, r.end, 128)) {
        chunk.push(prefixText(6, net, len), tail);
        prefixes++;
      }
    }
    if (chunk.length >= 200_000) await flush();
  }
  await flush();
  const src = ctx.source;
  const meta: PrefixMeta = { source: src?.name ?? 'none', licence: src?.licence ?? '', attribution: src?.attribution ?? '', ranges, prefixes };
  writePrefixCache(version, bodies, meta);
  await finish(store, cluster, onCluster, version, meta);
  return { loaded: true, version, prefixes, ms: performance.now() - t0 };
}

interface PrefixMeta {
  readonly source: string;
  readonly licence: string;
  readonly attribution: string;
  readonly ranges: number;
  readonly prefixes: number;
}

/** Reloads the dictionary if it is loaded and records the version the store now holds. */
async function finish(store: Store, cluster: string | undefined, onCluster: string, version: string, meta: PrefixMeta): Promise<void> {
  // A dictionary not loaded yet loads the new rows at its first use (lazily: a process that never
  // looks an address up in SQL never holds it); one already loaded is reloaded now.
  const [state] = await readRows<{ status: string }>(
    store.client,
    'SELECT toString(status) AS status FROM system.dictionaries WHERE name = {name:String} AND database = currentDatabase()',
    { name: ASN_DICTIONARY },
    NO_TIME_LIMIT,
  );
  if (cluster || (state !== undefined && state.status !== 'NOT_LOADED')) await store.client.command({ query: `SYSTEM RELOAD DICTIONARY ${ASN_DICTIONARY}${onCluster}` });
  await store.client.command({
    query: `INSERT INTO asn_data SELECT 1, {version:String}, {source:String}, {licence:String}, {attribution:String}, {ranges:UInt64}, {prefixes:UInt64}, now64(3)`,
    query_params: { version, ...meta },
  });
}

/**
 * The prefixes of one data version, as inserted, kept in a per-user cache directory
 * (`TILEWATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/tilewatch`, else `~/.cache/tilewatch`; ~45 MB for the
 * npm package's data): turning 515 k ranges into 732 k prefixes takes seconds, inserting them again
 * a fraction of that, and every new data directory needs them. The file is named by a digest of the
 * version (data and hosting rule), so a new release or rule never reads an old file.
 */
function prefixCachePaths(version: string): { tsv: string; meta: string } {
  const dir = process.env.TILEWATCH_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tilewatch');
  const name = `asn-prefixes-${createHash('sha256').update(version).digest('hex').slice(0, 16)}`;
  return { tsv: join(dir, `${name}.tsv`), meta: join(dir, `${name}.json`) };
}

function readPrefixCache(version: string): { body: Buffer; meta: PrefixMeta } | null {
  const p = prefixCachePaths(version);
  try {
    const meta = JSON.parse(readFileSync(p.meta, 'utf8')) as PrefixMeta & { version?: string };
    if (meta.version !== version) return null;
    return { body: readFileSync(p.tsv), meta };
  } catch {
    return null;
  }
}

/** Best effort: a cache that cannot be written (read-only home) only costs the next data directory the conversion. */
function writePrefixCache(version: string, bodies: readonly Buffer[], meta: PrefixMeta): void {
  const p = prefixCachePaths(version);
  try {
    mkdirSync(dirname(p.tsv), { recursive: true });
    const tmp = `${p.tsv}.tmp-${process.pid}`;
    writeFileSync(tmp, Buffer.concat(bodies));
    renameSync(tmp, p.tsv);
    // The metadata last: a reader that finds it finds the whole prefix file.
    writeFileSync(`${p.meta}.tmp-${process.pid}`, JSON.stringify({ version, ...meta }));
    renameSync(`${p.meta}.tmp-${process.pid}`, p.meta);
  } catch {
    // Not cached.
  }
}

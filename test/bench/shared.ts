/**
 * Helpers shared by the replay benchmark (`npm run bench`) and its child processes.
 * Children print one `BENCH_JSON {…}` line on stdout; the orchestrator parses it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
export const JSON_PREFIX = 'BENCH_JSON ';

/** Prints the child's result for the orchestrator (last line of stdout). */
export function emit(value: unknown): void {
  process.stdout.write(`\n${JSON_PREFIX}${JSON.stringify(value)}\n`);
}

/** `--name value` / `--flag` argument lookup for the children. */
export function argValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export function requireArg(args: readonly string[], name: string): string {
  const v = argValue(args, name);
  if (v === undefined) throw new Error(`missing ${name}`);
  return v;
}

/**
 * Preloaded into measured children (as a data: URL, so no extra file for the TS toolchain): at exit, writes
 * the process's own peak RSS and CPU time to $BENCH_RSS_OUT.
 */
export const RUSAGE_HOOK =
  'data:text/javascript,' +
  encodeURIComponent(
    "import { writeFileSync } from 'node:fs';" +
      'const out = process.env.BENCH_RSS_OUT;' +
      'if (out) process.on("exit", () => { const u = process.resourceUsage();' +
      ' writeFileSync(out, JSON.stringify({ maxRssKb: u.maxRSS, userMs: u.userCPUTime / 1000, systemMs: u.systemCPUTime / 1000 })); });',
  );

export interface ChildUsage {
  readonly maxRssKb: number;
  readonly userMs: number;
  readonly systemMs: number;
}

export interface ChildRun {
  readonly wallMs: number;
  readonly stdout: string;
  readonly usage: ChildUsage | null;
  /** Parsed `BENCH_JSON` line, if the child printed one. */
  readonly json: unknown;
}

/**
 * Runs `node [nodeArgs] [script args]` in the repo root with the rusage hook preloaded, stderr passed through.
 * Wall time is from spawn to exit, so startup (loader, TS transpile, chDB init, migrations) is included.
 */
export async function runNode(nodeArgs: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ChildRun> {
  const tmp = mkdtempSync(join(tmpdir(), 'tw-bench-'));
  const rssOut = join(tmp, 'rusage.json');
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', RUSAGE_HOOK, ...nodeArgs], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env, BENCH_RSS_OUT: rssOut },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    stdout += s;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const wallMs = performance.now() - t0;
  let usage: ChildUsage | null;
  try {
    usage = JSON.parse(readFileSync(rssOut, 'utf8')) as ChildUsage;
  } catch {
    usage = null;
  }
  rmSync(tmp, { recursive: true, force: true });
  if (code !== 0) {
    throw new Error(`child failed (exit ${String(code)}): node ${nodeArgs.join(' ')}\n${stdout.slice(-4000)}`);
  }
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(JSON_PREFIX));
  return { wallMs, stdout, usage, json: line ? (JSON.parse(line.slice(JSON_PREFIX.length)) as unknown) : null };
}

/** A bench child script under test/bench, run through tsx. */
export function benchScript(name: string, args: readonly string[], extraNodeArgs: readonly string[] = []): string[] {
  return [...extraNodeArgs, '--import', 'tsx', join(BENCH_DIR, name), ...args];
}

/** The embedded chDB client for the bench's own probes (bare engine, storage), built as openStore builds it. */
export async function openChdb(dataDir: string): Promise<{ client: ClickHouseClient }> {
  const { createChdbConnection } = await import('chdb/connection');
  const connection = createChdbConnection({ path: dataDir });
  const client = createClient({ connection: connection as unknown as ClickHouseClientConfigOptions['connection'] });
  return { client };
}

export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
}

export async function chdbVersion(client: ClickHouseClient): Promise<string> {
  const rows = await queryRows<{ v: string }>(client, 'SELECT version() AS v');
  return rows[0]?.v ?? '?';
}

export interface TableStorage {
  readonly table: string;
  readonly parts: number;
  readonly rows: number;
  readonly compressed: number;
  readonly uncompressed: number;
  readonly onDisk: number;
  /** Projection parts (stored in addition to the table's own columns). */
  readonly projections: ReadonlyArray<{ name: string; rows: number; compressed: number; uncompressed: number }>;
  /** Data-skipping indexes (stored in addition to the columns). */
  readonly indices: ReadonlyArray<{ name: string; type: string; compressed: number; uncompressed: number }>;
  /** Top columns by compressed bytes. */
  readonly columns: ReadonlyArray<{ name: string; compressed: number; uncompressed: number }>;
}

/** Active-part sizes from system.parts / system.projection_parts / system.columns. */
export async function tableStorage(client: ClickHouseClient, tables: readonly string[], topColumns = 10): Promise<TableStorage[]> {
  const list = tables.map((t) => `'${t.replace(/'/g, "\\'")}'`).join(', ');
  const parts = await queryRows<{ table: string; parts: string; rows: string; c: string; u: string; d: string }>(
    client,
    `SELECT table, count() AS parts, sum(rows) AS rows, sum(data_compressed_bytes) AS c, sum(data_uncompressed_bytes) AS u,
            sum(bytes_on_disk) AS d
     FROM system.parts WHERE active AND database = currentDatabase() AND table IN (${list}) GROUP BY table`,
  );
  let projections: Array<{ table: string; name: string; rows: string; c: string; u: string }>;
  try {
    projections = await queryRows(
      client,
      `SELECT table, name, sum(rows) AS rows, sum(data_compressed_bytes) AS c, sum(data_uncompressed_bytes) AS u
       FROM system.projection_parts WHERE active AND database = currentDatabase() AND table IN (${list}) GROUP BY table, name`,
    );
  } catch {
    projections = [];
  }
  let indices: Array<{ table: string; name: string; type: string; c: string; u: string }>;
  try {
    indices = await queryRows(
      client,
      `SELECT table, name, type, data_compressed_bytes AS c, data_uncompressed_bytes AS u
       FROM system.data_skipping_indices WHERE database = currentDatabase() AND table IN (${list})`,
    );
  } catch {
    indices = [];
  }
  const out: TableStorage[] = [];
  for (const table of tables) {
    const p = parts.find((r) => r.table === table);
    const columns = await queryRows<{ name: string; c: string; u: string }>(
      client,
      `SELECT name, data_compressed_bytes AS c, data_uncompressed_bytes AS u FROM system.columns
       WHERE database = currentDatabase() AND table = '${table.replace(/'/g, "\\'")}' ORDER BY data_compressed_bytes DESC LIMIT ${topColumns}`,
    );
    out.push({
      table,
      parts: Number(p?.parts ?? 0),
      rows: Number(p?.rows ?? 0),
      compressed: Number(p?.c ?? 0),
      uncompressed: Number(p?.u ?? 0),
      onDisk: Number(p?.d ?? 0),
      projections: projections
        .filter((r) => r.table === table)
        .map((r) => ({ name: r.name, rows: Number(r.rows), compressed: Number(r.c), uncompressed: Number(r.u) })),
      indices: indices
        .filter((r) => r.table === table)
        .map((r) => ({ name: r.name, type: r.type, compressed: Number(r.c), uncompressed: Number(r.u) })),
      columns: columns.map((c) => ({ name: c.name, compressed: Number(c.c), uncompressed: Number(c.u) })),
    });
  }
  return out;
}

/** OPTIMIZE … FINAL each table (merges to one part per partition: the steady-state size). */
export async function optimizeFinal(client: ClickHouseClient, tables: readonly string[]): Promise<number> {
  const t0 = performance.now();
  for (const t of tables) await client.command({ query: `OPTIMIZE TABLE ${t} FINAL` });
  return performance.now() - t0;
}

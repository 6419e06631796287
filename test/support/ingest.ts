/**
 * `tilewatch ingest` as a child process for the Kafka tests: start it, read its metrics, wait for
 * it, stop it, and read what it stored.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { openStore } from '../../services/store/openStore.ts';
import { BIN, REPO_ROOT, childEnv } from './cli.ts';
import { freePort, waitFor } from './kafka.ts';

/** A raster sweep line: client `ip` fetching tile (col, row) of a 40×32-tile DZI level at time t. */
export function tileLine(ip: string, t: number, col: number, row: number, ua = 'python-requests/2.31.0'): string {
  const d = new Date(t);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const ts = `${pad(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
  return `${ip} - - [${ts}] "GET /dz/painting_files/14/${col}_${row}.jpg HTTP/1.1" 200 31000 "-" "${ua}"`;
}

/** Many clients, each a few tiles: plenty of keyed messages spread over every partition. */
export function background(n: number, t0: number, net = '198.51'): Array<{ key: string; value: string }> {
  return Array.from({ length: n }, (_, i) => {
    const ip = `${net}.${(i >> 8) & 255}.${i & 255}`;
    return { key: ip, value: tileLine(ip, t0 + i * 10, i % 7, i % 5, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36') };
  });
}

/** `background(n)` with a 40×32-tile raster scrape by `scraper` interleaved (one tile per second of event time). */
export function withScrape(n: number, t0: number, scraper: string, every = 9): Array<{ key: string; value: string }> {
  const msgs = background(n, t0);
  let i = 0;
  for (let row = 0; row < 32; row++) for (let col = 0; col < 40; col++, i++) msgs.splice(i * every, 0, { key: scraper, value: tileLine(scraper, t0 + i * 1000, col, row) });
  return msgs;
}

export interface Ingest {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface IngestArgs {
  readonly bootstrap: string;
  readonly topic: string;
  readonly group: string;
  readonly data: string;
  readonly alertsOut?: string;
  /** More CLI flags. */
  readonly extra?: readonly string[];
}

export async function startIngest(a: IngestArgs): Promise<Ingest> {
  const port = await freePort();
  const args = [BIN, 'ingest', '--brokers', a.bootstrap, '--topic', a.topic, '--group', a.group, '--data', a.data, '--http-port', String(port), '--quiet'];
  if (a.alertsOut) args.push('--alerts-out', a.alertsOut);
  args.push('--max-batch-ms', '300', '--session-timeout-ms', '3000', '--log-level', 'warn', ...(a.extra ?? []));
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, port, stderr: () => err, exited };
}

/** Sum of a metric's samples (all label sets) from the child's /metrics. */
export async function metric(port: number, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) if ((line.startsWith(`${name} `) || line.startsWith(`${name}{`)) && !line.startsWith('#')) sum += Number(line.split(' ').pop());
  return sum;
}

/** Waits until the ingest answers /readyz (consuming, store writable). */
export async function waitReady(ing: Ingest, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await fetch(`http://127.0.0.1:${ing.port}/readyz`).catch(() => null))?.status === 200, timeoutMs, `ingest /readyz (stderr: ${ing.stderr().slice(-300)})`, 200);
}

/** The child's JSON log lines (it logs at `--log-level info` or lower) whose message starts with `msg`. */
export function loggedLines(ing: Ingest, msg: string): Array<{ time: number; windowEnd?: string } & Record<string, unknown>> {
  return ing
    .stderr()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}`))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { time: number; windowEnd?: string }];
      } catch {
        return []; // a line still being written
      }
    });
}

/**
 * Waits until the child (run with `--log-level info`) has hunted the window ending at `windowEnd`
 * (epoch ms): it logged a window run ending at or after it, or resumed after it (an earlier process
 * ran it: hunt_runs). Ingest hunts on the member holding the hunt lease, which waits one session
 * timeout after taking it: a test that stops an ingest as soon as its data is committed waits here
 * first for the hunts it asserts.
 */
export async function waitHunted(ing: Ingest, windowEnd: number, timeoutMs = 60_000): Promise<void> {
  const at = (iso: unknown): number => (typeof iso === 'string' ? Date.parse(iso) : Number.NaN);
  const done = (): boolean =>
    loggedLines(ing, 'hunt window run').some((l) => at(l.windowEnd) >= windowEnd) || loggedLines(ing, 'hunts resumed').some((l) => at(l.after) >= windowEnd);
  await waitFor(done, timeoutMs, `the hunt window ending ${new Date(windowEnd).toISOString()}`, 200).catch((err: Error) => {
    const hunts = loggedLines(ing, 'hunt').slice(-3).map((l) => JSON.stringify(l));
    throw new Error(`${err.message}; last hunt log lines: ${hunts.join(' ') || 'none'}; stderr: ${ing.stderr().slice(-500)}`, { cause: err });
  });
}

export async function stopGracefully(ing: Ingest): Promise<void> {
  ing.child.kill('SIGTERM');
  const r = await ing.exited;
  assert.equal(r.code, 0, `graceful stop exits 0 (stderr: ${ing.stderr().slice(-800)})`);
}

/** Every stored Kafka (partition, offset) of a store, and the dead letters by reason. */
export async function storedLineage(data: string): Promise<{ pairs: string[]; deadReasons: Record<string, number>; alertIds: string[] }> {
  const store = await openStore({ kind: 'embedded', dataDir: data });
  try {
    const rows = await (await store.client.query({ query: "SELECT partition, toString(line) AS line FROM tile_requests WHERE source LIKE 'kafka:%'", format: 'JSONEachRow' })).json<{ partition: number; line: string }>();
    const dl = await (await store.client.query({ query: 'SELECT reason, count() AS n FROM dead_letters GROUP BY reason', format: 'JSONEachRow' })).json<{ reason: string; n: string }>();
    const al = await (await store.client.query({ query: 'SELECT DISTINCT id FROM alerts', format: 'JSONEachRow' })).json<{ id: string }>();
    return { pairs: rows.map((r) => `${r.partition}/${r.line}`), deadReasons: Object.fromEntries(dl.map((x) => [x.reason, Number(x.n)])), alertIds: al.map((a) => a.id) };
  } finally {
    await store.close();
  }
}

/** The (partition/offset) pairs a topic holds, from its watermarks (every offset low..high-1). */
export function expectedPairs(marks: ReadonlyMap<number, { low: number; high: number }>): string[] {
  const out: string[] = [];
  for (const [p, m] of marks) for (let o = m.low; o < m.high; o++) out.push(`${p}/${o}`);
  return out;
}

/** Asserts stored pairs equal the expected ones exactly: count, set, no duplicates. */
export function assertExact(stored: readonly string[], expected: readonly string[], what: string): void {
  const set = new Set(stored);
  assert.equal(stored.length - set.size, 0, `${what}: no message stored twice`);
  assert.equal(stored.length, expected.length, `${what}: every produced message stored`);
  const missing = expected.filter((e) => !set.has(e));
  assert.deepEqual(missing.slice(0, 10), [], `${what}: missing (partition/offset)`);
}

/** Alert lines of an --alerts-out file. */
export function alertLines(file: string): Array<{ id: string; version: number; client: { ip: string } }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; version: number; client: { ip: string } });
}

/** Undoes the TSV escaping of an HTTP query parameter (chDB's binder escapes it again). */
function tsvUnescape(s: string): string {
  const map: Record<string, string> = { '\\': '\\', '0': '\0', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', "'": "'" };
  return s.replace(/\\(.)/gs, (m, c: string) => map[c] ?? m);
}

/** URL parameters of ClickHouse's HTTP interface that are not settings. */
const NOT_SETTINGS = new Set(['query', 'query_id', 'database', 'session_id', 'user', 'password', 'default_format', 'enable_http_compression', 'wait_end_of_query']);

export interface SharedStore {
  /** `--clickhouse-url` for the children. */
  readonly url: string;
  readonly requests: () => number;
  /**
   * Fault injection: from now on every INSERT INTO tile_requests waits `ms` before the engine runs it
   * (a slow store: the rows are neither visible nor acknowledged meanwhile). 0 (the default) turns it off.
   */
  delayInserts(ms: number): void;
  close(): Promise<void>;
}

/**
 * One embedded store for several `tilewatch` processes: chDB binds a data directory to one process,
 * so this process opens it and serves ClickHouse's HTTP interface over it (as much of it as
 * @clickhouse/client uses: /ping; POST with the statement in the body, or `query=` in the URL and the
 * insert's data in the body; `param_*` query parameters; other URL parameters as settings). Errors
 * answer 500 with the engine's message, as a server does. Test-only: no auth, no compression.
 */
export async function startSharedStore(dataDir: string): Promise<SharedStore> {
  const { createServer } = await import('node:http');
  const { createChdbConnection } = await import('chdb/connection');
  const conn = createChdbConnection({ path: dataDir });
  let served = 0;
  let insertDelayMs = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        served++;
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/ping') {
          res.end('Ok.\n');
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        const inUrl = url.searchParams.get('query');
        const sql = inUrl === null ? body : body.length > 0 ? `${inUrl}\n${body}` : inUrl;
        const query_params: Record<string, string> = {};
        const clickhouse_settings: Record<string, string> = {};
        for (const [k, v] of url.searchParams) {
          if (k.startsWith('param_')) query_params[k.slice(6)] = tsvUnescape(v);
          else if (!NOT_SETTINGS.has(k)) clickhouse_settings[k] = v;
        }
        const format = url.searchParams.get('default_format');
        if (format) clickhouse_settings.default_format = format;
        if (insertDelayMs > 0 && /^\s*INSERT\s+INTO\s+[`"]?tile_requests\b/i.test(sql)) await new Promise((r) => setTimeout(r, insertDelayMs));
        try {
          const r = await conn.exec({ query: sql, query_params, clickhouse_settings, query_id: url.searchParams.get('query_id') ?? undefined } as never);
          const out: Buffer[] = [];
          for await (const c of (r as { stream: AsyncIterable<Buffer> }).stream) out.push(Buffer.from(c));
          res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-summary': '{}' });
          res.end(Buffer.concat(out));
        } catch (err) {
          const msg = String((err as Error).message ?? err);
          const code = /Code: (\d+)/.exec(msg)?.[1] ?? '1000';
          res.writeHead(500, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': code });
          res.end(/Code: \d+\./.test(msg) ? msg : `Code: ${code}. DB::Exception: ${msg}. (UNKNOWN_EXCEPTION)`);
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests: () => served,
    delayInserts(ms: number) {
      insertDelayMs = ms;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await conn.close();
    },
  };
}

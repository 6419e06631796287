/**
 * Incident API benchmark (`npm run bench:api`): a generated store of ≥ 10 M requests (20,000 background
 * clients over 2,000 IIIF images and 30 days, plus one scraper sweeping 50 images whole), then
 *  1. the median time of a client timeline, an image exposure and an incident report (5 images),
 *     each run 7 times through the HTTP routes (app.inject: query + serialisation);
 *  2. autocannon load runs on loopback (bounded: 4 connections, 10 s each) on the timeline and the
 *     image exposure routes, with p50/p99 latency, requests/s and errors.
 * Run it once at a time: the machine is shared. Report: .tilewatch-tmp/bench/last-api-bench.md.
 *   --rows N   background rows (default 10,000,000)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pino from 'pino';
import { DEFAULT_API_CONFIG } from '../../services/api/apiConfig.ts';
import { startApiServer } from '../../services/api/server.ts';
import { createToken } from '../../services/incidents/tokens.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';
import { argValue, REPO_ROOT } from './shared.ts';

interface AutocannonResult {
  latency: { p50: number; p99: number; average: number; max: number };
  requests: { average: number; total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const ROWS = Number(argValue(process.argv, '--rows') ?? 10_000_000);
const CLIENTS = 20_000;
const IMAGES = 2_000;
const T0 = Date.UTC(2026, 1, 1);
const SPAN = 30 * 86_400_000;
const SCRAPER = '203.0.113.66';
const SWEPT = 50;
const CHUNK = 1_000_000;

const out = join(REPO_ROOT, '.tilewatch-tmp', 'bench');
const dataDir = join(out, 'api-data');
rmSync(dataDir, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const store = await openStore({ kind: 'embedded', dataDir });
await migrate(store.client);
const log = (s: string): boolean => process.stderr.write(`${s}\n`);

const COLS = `ts, client, client_key, method, status, bytes, host, path, referer, user_agent, protocol, kind, image_id, level, tile_x, tile_y,
  rect_x, rect_y, rect_w, rect_h, scale, source, partition, line`;
const t = performance.now();
for (let start = 0; start < ROWS; start += CHUNK) {
  const n = Math.min(CHUNK, ROWS - start);
  await store.client.command({
    query: `INSERT INTO tile_requests (${COLS})
      SELECT fromUnixTimestamp64Milli(toInt64({t0:Int64} + intHash64(number) % {span:Int64})),
        toIPv6(IPv4NumToString(toUInt32(1681915904 + cityHash64(number, 1) % {clients:UInt32}))),
        IPv4NumToString(toUInt32(1681915904 + cityHash64(number, 1) % {clients:UInt32})), 'GET', 200, 20000, 'img.example', '/iiif/2/x', '',
        'Mozilla/5.0 bench', 'iiif2', 'tile', concat('bench-', toString(cityHash64(number, 2) % {images:UInt32})), -1, -1, -1,
        (number % 23) * 256, (cityHash64(number, 3) % 16) * 256, 256, 256, 1, 'bench', -1, number + 1
      FROM numbers({start:UInt64}, {n:UInt64})`,
    query_params: { t0: T0, span: SPAN, clients: CLIENTS, images: IMAGES, start, n },
  });
  log(`  ${start + n} rows (${((performance.now() - t) / 1000).toFixed(0)} s)`);
}
// The scraper: 50 images swept whole at full resolution, one tile per second, from day 10.
await store.client.command({
  query: `INSERT INTO tile_requests (${COLS})
    SELECT fromUnixTimestamp64Milli(toInt64({t0:Int64} + 10 * 86400000 + number * 1000)), toIPv6({ip:String}), {ip:String}, 'GET', 200, 20000,
      'img.example', '/iiif/2/x', '', 'python-requests/2.31.0', 'iiif2', 'tile', concat('bench-', toString(intDiv(number, 368))), -1, -1, -1,
      (number % 368 % 23) * 256, intDiv(number % 368, 23) * 256, 256, 256, 1, 'bench-scraper', -1, number + 1
    FROM numbers({n:UInt64})`,
  query_params: { t0: T0, ip: `::ffff:${SCRAPER}`, n: SWEPT * 368 },
});
await store.client.command({
  query: `INSERT INTO images SELECT 'iiif2', concat('bench-', toString(number)), 6000, 4000, 256, 0, -1, 0, 'catalog', now64(3) FROM numbers({n:UInt32})`,
  query_params: { n: IMAGES },
});
const loadS = (performance.now() - t) / 1000;
const [{ rows }] = (await (await store.client.query({ query: 'SELECT count() AS rows FROM tile_requests', format: 'JSONEachRow' })).json<{ rows: string }>()) as [{ rows: string }];
log(`stored ${rows} rows in ${loadS.toFixed(0)} s`);

const token = (await createToken(store, { name: 'bench', role: 'analyst', createdBy: 'bench', now: Date.now() })).token;
const auth = { authorization: `Bearer ${token}` };
const server = await startApiServer(
  { store, logger: pino({ level: 'silent' }), clock: { now: () => Date.now() }, config: { ...DEFAULT_API_CONFIG, rateLimitPerMinute: 10_000_000 } },
  { host: '127.0.0.1', port: 0 },
);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const background = '100.64.0.7';
const cases: Array<{ name: string; req: { method: 'GET' | 'POST'; url: string; payload?: object } }> = [
  { name: 'client timeline (scraper, 18,400 requests)', req: { method: 'GET', url: `/api/v1/clients/${SCRAPER}/timeline` } },
  { name: 'client timeline (background client, ~500 requests over 30 days)', req: { method: 'GET', url: `/api/v1/clients/${background}/timeline` } },
  { name: 'image exposure (swept image, ~5,000 background requests)', req: { method: 'GET', url: '/api/v1/images/exposure?image=bench-7' } },
  {
    name: 'incident report (5 images, 30 days, ≥ 3000 px)',
    req: { method: 'POST', url: '/api/v1/reports', payload: { images: ['bench-1', 'bench-2', 'bench-3', 'bench-4', 'bench-5'], from: '2026-02-01T00:00:00Z', to: '2026-03-03T00:00:00Z', minLongEdge: 3000 } },
  },
];
const timings: Array<{ name: string; median: number; min: number; max: number; status: number }> = [];
for (const c of cases) {
  const ms: number[] = [];
  let status = 0;
  for (let i = 0; i < 7; i++) {
    const s = performance.now();
    const res = await server.app.inject({ ...c.req, headers: auth });
    ms.push(performance.now() - s);
    status = res.statusCode;
    if (res.statusCode !== 200) log(`${c.name}: ${res.statusCode} ${res.body.slice(0, 200)}`);
  }
  timings.push({ name: c.name, median: median(ms), min: Math.min(...ms), max: Math.max(...ms), status });
  log(`${c.name}: median ${median(ms).toFixed(0)} ms`);
}

const loads: Array<{ name: string; r: AutocannonResult }> = [];
for (const [name, path] of [
  ['background-client timeline', `/api/v1/clients/${background}/timeline`],
  ['image exposure', '/api/v1/images/exposure?image=bench-7'],
] as const) {
  const r = await autocannon({ url: `${server.url}${path}`, headers: auth, connections: 4, duration: 10 });
  loads.push({ name, r });
  log(`autocannon ${name}: p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${r.requests.average} req/s, errors ${r.errors}, non-2xx ${r.non2xx}`);
}
await server.close();
await store.close();

const report = [
  '# Incident API benchmark',
  '',
  `Store: ${Number(rows).toLocaleString('en')} rows in tile_requests (${CLIENTS.toLocaleString('en')} background clients × ${IMAGES.toLocaleString('en')} images over 30 days + one scraper sweeping ${SWEPT} images), generated and stored in ${loadS.toFixed(0)} s, embedded chDB.`,
  '',
  '| query (HTTP route, 7 runs) | median ms | min | max |',
  '|---|---:|---:|---:|',
  ...timings.map((x) => `| ${x.name} | ${x.median.toFixed(0)} | ${x.min.toFixed(0)} | ${x.max.toFixed(0)} |`),
  '',
  ...loads.map(
    ({ name, r }) =>
      `Load (autocannon, loopback, 4 connections, 10 s, ${name}): p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${r.requests.average} req/s average, ${r.requests.total} requests, errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}.`,
  ),
  '',
];
writeFileSync(join(out, 'last-api-bench.md'), report.join('\n'));
process.stdout.write(report.join('\n'));
rmSync(dataDir, { recursive: true, force: true });

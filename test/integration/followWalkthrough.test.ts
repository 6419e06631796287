/**
 * README "Follow a live log", run as written (issue 17, Done when): the block after the
 * `<!-- walkthrough: follow` marker is read from README.md, its four settings (LOGS, STORE, API,
 * OPS_PORT) get this test's values, and its commands run through bash with `tilewatch` on PATH:
 * the token line, the `serve … &` line (started, stopped with SIGTERM and started again in the
 * middle), the curl lines. Meanwhile this test writes a growing nginx log with an IIIF scraper at five
 * tiles a second among three viewers (services/sim generators, paced in wall time), rotates it
 * by rename, and checks:
 * - the scraper's alert appears (alerts.jsonl, as written by serve) within 5 s of the line that
 *   crossed the threshold (its evidence names the line; the test knows when it appended it);
 * - the API (the README's search curl) and a dashboard query (client.json "Volume", expanded as
 *   Grafana does, over ClickHouse's HTTP interface) count a just-appended line within 2 s;
 * - after the restart and the rotation, every line written is stored once: rows plus dead letters
 *   equal the lines, identified by a per-line number in the size field.
 * Two stores: embedded (`--data`; no dashboard, which needs a server) and a ClickHouse HTTP interface
 * over chDB (`--clickhouse-url`; test/support/ingest.ts startSharedStore), which the dashboard query reads.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createClient } from '@clickhouse/client';
import { openStore } from '../../services/store/openStore.ts';
import { computeMaxK, type CatalogImage } from '../../services/sim/catalog.ts';
import { humanActor } from '../../services/sim/benign.ts';
import type { SimEvent } from '../../services/sim/events.ts';
import { CombinedFormatter } from '../../services/sim/logformat.ts';
import { Rng } from '../../services/sim/rng.ts';
import { raster1s } from '../../services/sim/threats.ts';
import { BIN, REPO_ROOT, childEnv } from '../support/cli.ts';
import { expandGrafanaSql } from '../support/grafanaSql.ts';
import { startSharedStore } from '../support/ingest.ts';
import { freePort, waitFor } from '../support/kafka.ts';

const SCRAPER = '203.0.113.9';

interface Walkthrough {
  readonly settings: readonly string[];
  readonly token: string;
  readonly serve: string;
  readonly curls: readonly string[];
}

/** The README block, split into its settings and its commands; fails when the README no longer has them. */
function readWalkthrough(): Walkthrough {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- walkthrough: follow');
  assert.ok(at >= 0, 'README.md has the follow walk-through marker');
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, 'a ```sh block follows the marker');
  const lines = m[1]!.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const settings = lines.filter((l) => /^(LOGS|STORE|API|OPS_PORT)=/.test(l)).map((l) => l.split('=')[0]!);
  assert.deepEqual([...settings].sort(), ['API', 'LOGS', 'OPS_PORT', 'STORE'], 'the block sets LOGS, STORE, API and OPS_PORT');
  const commands = lines.filter((l) => !/^(LOGS|STORE|API|OPS_PORT)=/.test(l));
  const token = commands.find((l) => l.startsWith('TOKEN='));
  const serve = commands.find((l) => l.startsWith('tilewatch serve') && l.endsWith('&'));
  const curls = commands.filter((l) => l.startsWith('curl '));
  assert.ok(token && serve && curls.length >= 3, `token, serve … & and curl lines in the block: ${commands.join(' | ')}`);
  return { settings, token, serve: serve.slice(0, -1).trim(), curls };
}

const q = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;

/** The test's IIIF images: 6144 × 4096, 512-px tiles (96 at full resolution), open data up to 1200 px. */
const IMAGE: CatalogImage = {
  id: 'ms-walkthrough-1',
  protocol: 'iiif3',
  width: 6144,
  height: 4096,
  tileSize: 512,
  overlap: 0,
  openDataLongEdge: 1200,
  item: 4711,
  maxK: computeMaxK('iiif3', 6144, 4096, 512),
  bytesPerPixel: 0.25,
  salient: [
    { x: 2000, y: 1500 },
    { x: 4200, y: 2600 },
  ],
};

/** Traffic paced in wall time: each tick the scraper fetches one tile, each viewer maybe one request; event time = now. */
class Traffic {
  private readonly fmt = new CombinedFormatter();
  private readonly scraper: Generator<SimEvent>;
  private readonly viewers: Array<Generator<SimEvent>>;
  private readonly rng = new Rng('walkthrough');
  seq = 0;
  /** When each line of the first access.log was appended, by line number (until the rotation). */
  readonly appended = new Map<number, number>();
  private rotated = false;
  readonly written: number[] = [];
  scraperLines = 0;
  private lineNo = 0;
  file: string;

  constructor(private readonly logs: string) {
    this.file = join(logs, 'access.log');
    const t0 = Date.now();
    // Image after image, as scrapers do: the detector re-scores a client every 25 tiles, so the first
    // image (96 tiles) is seen whole at the 100th tile, a few tiles into the second.
    const images = [1, 2, 3].map((n) => ({ ...IMAGE, id: `ms-walkthrough-${n}`, item: 4710 + n }));
    this.scraper = raster1s(new Rng('scraper'), { ip: SCRAPER, ua: 'python-requests/2.31.0', proto: 'HTTP/1.1' }, t0, images, false);
    this.viewers = [1, 2, 3].map((i) => humanActor(new Rng(`viewer${i}`), { ip: `198.51.100.${20 + i}`, ua: `Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.${i}`, proto: 'HTTP/2.0' }, t0, [IMAGE]));
  }

  tick(): void {
    const now = Date.now();
    const events: SimEvent[] = [];
    const s = this.scraper.next();
    if (!s.done) events.push(s.value);
    for (const v of this.viewers) {
      if (this.rng.chance(0.4)) {
        const e = v.next();
        if (!e.done) events.push(e.value);
      }
    }
    let text = '';
    for (const e of events) {
      const seq = this.seq++;
      // The size field carries the line's number: stored rows name the lines they came from.
      text += `${this.fmt.format({ ...e, t: now, bytes: 100_000 + seq })}\n`;
      this.written.push(100_000 + seq);
      if (!this.rotated) this.appended.set(++this.lineNo, now);
      if (e.ip === SCRAPER) this.scraperLines++;
    }
    appendFileSync(this.file, text);
  }

  /** logrotate without copytruncate: rename; nginx writes a moment longer to the renamed file, then reopens a new one. */
  async rotate(): Promise<void> {
    const name = this.file;
    this.file = join(this.logs, 'access.log.1');
    renameSync(name, this.file);
    this.rotated = true;
    this.tick();
    await sleep(200);
    this.tick();
    this.file = name;
    writeFileSync(this.file, '');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function walkthrough(kind: 'embedded' | 'server'): Promise<void> {
  const w = readWalkthrough();
  const dir = mkdtempSync(join(tmpdir(), `tw-walk-${kind}-`));
  dirs.push(dir);
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'tilewatch'), `#!/bin/sh\nexec ${q(process.execPath)} ${q(BIN)} "$@"\n`);
  chmodSync(join(bin, 'tilewatch'), 0o755);
  const shared = kind === 'server' ? await startSharedStore(join(dir, 'shared')) : null;
  const apiPort = await freePort();
  const opsPort = await freePort();
  const values: Record<string, string> = {
    LOGS: logs,
    STORE: shared ? `--clickhouse-url ${shared.url}` : `--data ${join(dir, 'data')}`,
    API: `127.0.0.1:${apiPort}`,
    OPS_PORT: String(opsPort),
  };
  const env = { ...childEnv(), PATH: `${bin}:${process.env.PATH ?? ''}` };
  let token = '';
  const prelude = (): string => `${Object.entries(values).map(([k, v]) => `${k}=${q(v)}`).join('; ')}; TOKEN=${q(token)}; `;
  const bash = (cmd: string): Promise<{ code: number | null; out: string; err: string }> =>
    new Promise((resolve) => {
      const c = spawn('bash', ['-c', prelude() + cmd], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString()));
      c.stderr.on('data', (b: Buffer) => (err += b.toString()));
      c.on('close', (code) => resolve({ code, out, err }));
    });

  const traffic = new Traffic(logs);
  for (let i = 0; i < 5; i++) traffic.tick();

  const t = await bash(`${w.token}; printf '%s' "$TOKEN"`);
  assert.equal(t.code, 0, t.err);
  token = t.out.trim();
  assert.match(token, /^tw_/, `a token from the README's token line: ${t.out} ${t.err}`);

  let serveOut = '';
  const startServe = async (): Promise<ChildProcess> => {
    const c = spawn('bash', ['-c', `${prelude()}exec ${w.serve}`], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (b: Buffer) => (serveOut += b.toString()));
    c.stderr!.on('data', (b: Buffer) => (serveOut += b.toString()));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => null))?.status === 200, 90_000, `serve ready (output: ${serveOut.slice(-800)})`, 100);
    return c;
  };
  const stopServe = async (c: ChildProcess): Promise<number | null> => {
    const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    c.kill('SIGTERM');
    return exited;
  };
  const alertsFile = join(dir, 'alerts.jsonl');
  const scraperAlert = (): { evidence: { source: string; lastLine: number }; kind: string } | null => {
    if (!existsSync(alertsFile)) return null;
    for (const l of readFileSync(alertsFile, 'utf8').split('\n')) {
      if (!l) continue;
      const a = JSON.parse(l) as { client: { ip: string }; version: number; kind: string; evidence: { source: string; lastLine: number } };
      if (a.client.ip === SCRAPER && a.version === 1) return a;
    }
    return null;
  };
  const apiRequests = async (): Promise<number> => {
    const r = await bash(w.curls.find((c) => c.includes('/api/v1/search'))!);
    const body = JSON.parse(r.out) as { hits?: Array<{ ip: string; requests: number | string }> };
    return Number(body.hits?.find((c) => c.ip === SCRAPER)?.requests ?? 0);
  };
  const dashboard = createClient({ url: shared?.url ?? 'http://127.0.0.1:1' });
  const dashboardRequests = async (): Promise<number> => {
    const panel = (JSON.parse(readFileSync(join(REPO_ROOT, 'dashboards/grafana/client.json'), 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ rawSql: string }> }> }).panels.find(
      (p) => p.title === 'Volume',
    )!;
    const sql = expandGrafanaSql(panel.targets![0]!.rawSql, { range: { fromMs: Date.now() - 3_600_000, toMs: Date.now() + 60_000 }, intervalMs: 60_000, variables: { client: [SCRAPER] } });
    const rows = await (await dashboard.query({ query: sql, format: 'JSONEachRow' })).json<{ requests: string | number }>();
    return Number(rows[0]?.requests ?? 0);
  };

  let serve = await startServe();
  let stopped = false;
  try {
    // 1. The scraper until its alert; the rename rotation on the way.
    let alertSeen = 0;
    let alert: ReturnType<typeof scraperAlert> = null;
    for (let i = 0; i < 600 && !alert; i++) {
      traffic.tick();
      await sleep(200);
      alert = scraperAlert();
      alertSeen = Date.now();
    }
    assert.ok(alert, `the scraper is alerted (serve output: ${serveOut.slice(-1500)})`);
    assert.equal(alert.evidence.source, join(logs, 'access.log'));
    const crossedAt = traffic.appended.get(alert.evidence.lastLine);
    assert.ok(crossedAt, `the alert's evidence names a line this test wrote: ${JSON.stringify(alert.evidence)}`);
    const alertLatency = alertSeen - crossedAt;
    assert.ok(alertLatency <= 5000, `alert ${alertLatency} ms after the line that crossed the threshold (≤ 5 s)`);
    assert.match(serveOut, new RegExp(`\\] ${alert.kind} ${SCRAPER.replace(/\./g, '\\.')}`), 'the alert is printed by serve too');
    const alerts = await bash(w.curls.find((c) => c.includes('/api/v1/alerts'))!);
    assert.match(alerts.out, /"kind"/, `the README's alerts curl lists the alert: ${alerts.out.slice(0, 300)}`);

    // 2. The API and the dashboard count a line just appended, within 2 s.
    traffic.tick();
    const appendedAt = Date.now();
    const expected = traffic.scraperLines;
    await waitFor(async () => (await apiRequests()) >= expected, 2000, `the API counts the scraper's ${expected} requests within 2 s`, 50);
    const apiLatency = Date.now() - appendedAt;
    let dashLatency = -1;
    if (shared) {
      traffic.tick();
      const at = Date.now();
      const n = traffic.scraperLines;
      await waitFor(async () => (await dashboardRequests()) >= n, 2000, `the dashboard counts the scraper's ${n} requests within 2 s`, 50);
      dashLatency = Date.now() - at;
    }
    const metrics = await bash(w.curls.find((c) => c.includes('/metrics'))!);
    assert.match(metrics.out, /^tilewatch_follow_rows_total \d+/m, metrics.out.slice(0, 300));

    // 3. A rename rotation, then a restart in the middle: stopped, lines keep coming, started again with the same command.
    await traffic.rotate();
    for (let i = 0; i < 5; i++) {
      traffic.tick();
      await sleep(100);
    }
    assert.equal(await stopServe(serve), 0, serveOut.slice(-1500));
    for (let i = 0; i < 10; i++) {
      traffic.tick();
      await sleep(100);
    }
    serve = await startServe();
    for (let i = 0; i < 10; i++) {
      traffic.tick();
      await sleep(200);
    }
    await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
        return /^tilewatch_follow_unread_bytes 0$/m.test(text);
      },
      30_000,
      'serve reads everything',
      200,
    );
    assert.equal(await stopServe(serve), 0, serveOut.slice(-1500));
    stopped = true;
    process.stdout.write(`# walkthrough ${kind}: alert ${alertLatency} ms after its line; API ${apiLatency} ms; dashboard ${dashLatency} ms; ${traffic.written.length} lines\n`);
  } finally {
    if (!stopped) serve.kill('SIGKILL');
    await dashboard.close();
  }

  // 4. Every line once: rows and dead letters, by the number in their size field.
  const store = shared ? { client: createClient({ url: shared.url }), close: async () => undefined } : await openStore({ kind: 'embedded', dataDir: join(dir, 'data') });
  try {
    const rows = await (await store.client.query({ query: 'SELECT bytes FROM tile_requests', format: 'JSONEachRow' })).json<{ bytes: number }>();
    const dead = await (await store.client.query({ query: 'SELECT raw FROM dead_letters', format: 'JSONEachRow' })).json<{ raw: string }>();
    const got = [...rows.map((r) => Number(r.bytes)), ...dead.map((d) => Number(/" \d{3} (\d+) "/.exec(d.raw)?.[1] ?? -1))].sort((a, b) => a - b);
    if (got.length !== traffic.written.length) {
      const dups = await (
        await store.client.query({
          query: 'SELECT bytes, groupArray(source) AS s, groupArray(line) AS l, count() AS c FROM tile_requests GROUP BY bytes HAVING c > 1 ORDER BY bytes',
          format: 'JSONEachRow',
        })
      ).json<{ bytes: number; s: string[]; l: number[] }>();
      const batches = await (await store.client.query({ query: 'SELECT file_key, start_offset, end_offset, first_line, next_line, token FROM follow_batches ORDER BY written_at', format: 'JSONEachRow' })).json();
      process.stdout.write(`# duplicates: ${dups.length}: ${JSON.stringify(dups.slice(0, 3))} … ${JSON.stringify(dups.slice(-3))}\n# batches ${JSON.stringify(batches)}\n# serve: ${serveOut.split('\n').filter((l) => /follow starting|rotat|copy|truncat|left|unconfirmed|again/.test(l)).join('\n# ')}\n`);
    }
    assert.equal(got.length, traffic.written.length, `one stored row or dead letter per line (${rows.length} rows, ${dead.length} dead letters)`);
    assert.deepEqual(got, [...traffic.written].sort((a, b) => a - b));
  } finally {
    if ('close' in store) await store.close();
    await shared?.close();
  }
}

test('README "Follow a live log" as written, embedded store: alert within 5 s, API within 2 s, restart, every line once', { timeout: 300_000 }, () => walkthrough('embedded'));

test('README "Follow a live log" as written, on a ClickHouse HTTP interface: the dashboard query within 2 s too', { timeout: 300_000 }, () => walkthrough('server'));

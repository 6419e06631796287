/**
 * Real stores for incident/API tests: the generated scraper scenario (one python-requests client
 * sweeping three 6000 × 4000 IIIF images row by row over a few viewer-like browsers), replayed by
 * the real CLI into a fresh data directory, then opened in this process; and a crafted triage store
 * (requests, catalogue rows and alert versions with incidents written directly) whose incidents and
 * exposures are known by construction.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../services/api/buildApp.ts';
import { DEFAULT_API_CONFIG, type ApiConfig } from '../../services/api/apiConfig.ts';
import type { Clock } from '../../services/api/deps.ts';
import { createToken } from '../../services/incidents/tokens.ts';
import type { Role } from '../../services/incidents/roles.ts';
import { alertRow } from '../../services/alerting/alertsTable.ts';
import type { Alert } from '../../services/core/alert.ts';
import { migrate } from '../../services/store/migrate.ts';
import { jsonEachRow, openStore, type Store } from '../../services/store/openStore.ts';
import { makeAlert } from './alerts.ts';
import { runCliOk, tempDir } from './cli.ts';
import { scraperScenario, type ScraperScenario } from './logs.ts';

export interface IncidentFixture {
  readonly dir: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly scenario: ScraperScenario;
}

/** Replays the scenario with the CLI (store closed again when this resolves). */
export async function replayScenario(t: TestContext): Promise<IncidentFixture> {
  const dir = tempDir(t, 'incidents');
  const logPath = join(dir, 'access.log');
  const scenario = scraperScenario(3);
  writeFileSync(logPath, scenario.lines.map((l) => `${l}\n`).join(''));
  const dataDir = join(dir, 'data');
  await runCliOk(['replay', logPath, '--data', dataDir, '--quiet']);
  return { dir, dataDir, logPath, scenario };
}

/** A wall clock the test moves by hand. */
export function manualClock(start = Date.UTC(2026, 3, 1)): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

/** First millisecond of the crafted store's main day, 2026-03-10 (UTC). */
export const TRIAGE_DAY = Date.UTC(2026, 2, 10);
const HOUR = 3_600_000;

/**
 * The crafted triage store, by construction:
 * - incident `critical` (open): a critical bulk-harvest by 198.51.100.21 and a high campaign naming
 *   198.51.100.21 and .22 (one incident, two alerts); the two scripted clients took the full-resolution
 *   tiles of `art/harvested` (4096², open data 1024 px) between them on the day, .21 the top nine rows;
 * - incident `high` (open): a bulk-harvest of 203.0.113.9 stored before incidents (no incident in its body);
 * - incident `medium` (resolved): a low-and-slow of 198.51.100.30, who took all of `art/earlier` the day before;
 * - incident `low` (open, newest activity): an image-exposure-like alert naming 192.0.2.50 and .51;
 * - incident `olderLow` (open, older activity): a low full-download of 203.0.113.77;
 * - `art/viewed` (4096², no open-data edge in the catalogue: 2048 px by default) covered on the day by
 *   eight browser clients (192.0.2.60–.67, 32 tiles each) no alert names;
 * - `art/coarse` covered on the day at half resolution only (2048 px: not beyond a 2048 px policy);
 * - `art/earlier` requested again (a few tiles) on the day: exposed before it.
 */
export interface TriageStore {
  readonly dataDir: string;
  readonly alerts: { readonly critical: Alert; readonly campaign: Alert; readonly high: Alert; readonly medium: Alert; readonly low: Alert; readonly olderLow: Alert };
  /** Incident ids by severity (two low ones). */
  readonly incidents: { readonly critical: string; readonly high: string; readonly medium: string; readonly low: string; readonly olderLow: string };
  readonly scripted: readonly [string, string];
  readonly viewers: readonly string[];
  /** Every client address stored (none may reach a viewer). */
  readonly addresses: readonly string[];
  readonly userAgents: readonly string[];
}

const SCRIPT_UA = 'python-requests/2.31.0';
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';

interface TileRow {
  ts: number;
  ip: string;
  image: string;
  ua: string;
  band: number;
  col: number;
  row: number;
}

/** Writes the crafted triage store into a fresh data directory (closed again when this resolves). */
export async function craftTriageStore(t: TestContext): Promise<TriageStore> {
  const dir = tempDir(t, 'triage');
  const dataDir = join(dir, 'data');
  const D = TRIAGE_DAY;
  const rows: TileRow[] = [];
  const sweep = (ip: string, image: string, ua: string, start: number, band: number, cells: Array<[number, number]>) =>
    cells.forEach(([col, row], i) => rows.push({ ts: start + i * 2000, ip, image, ua, band, col, row }));
  const grid = (cols: number, rowsFrom: number, rowsTo: number): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    for (let r = rowsFrom; r < rowsTo; r++) for (let c = 0; c < cols; c++) out.push([c, r]);
    return out;
  };
  const scripted: [string, string] = ['198.51.100.21', '198.51.100.22'];
  sweep(scripted[0], 'art/harvested', SCRIPT_UA, D + 10 * HOUR, 0, grid(16, 0, 9));
  sweep(scripted[1], 'art/harvested', SCRIPT_UA, D + 10 * HOUR + 1000, 0, grid(16, 9, 16));
  const viewers = Array.from({ length: 8 }, (_, i) => `192.0.2.${60 + i}`);
  viewers.forEach((ip, v) => sweep(ip, 'art/viewed', BROWSER, D + 15 * HOUR + v * 600_000, 0, grid(16, 2 * v, 2 * v + 2)));
  sweep('198.51.100.30', 'art/earlier', SCRIPT_UA, D - 12 * HOUR, 0, grid(16, 0, 16));
  sweep('198.51.100.30', 'art/earlier', SCRIPT_UA, D + 9 * HOUR, 0, grid(4, 0, 1));
  sweep('198.51.100.40', 'art/coarse', SCRIPT_UA, D + 11 * HOUR, 1, grid(8, 0, 8));

  const iso = (ms: number): string => new Date(ms).toISOString();
  const hex = (c: string): string => c.repeat(20);
  const image = (id: string) => ({ id, protocol: 'iiif', coverage: 1, scale: 1, longEdge: 4096, requests: 256 });
  const critical = makeAlert({
    id: `tw-${hex('a')}`, kind: 'bulk-harvest', severity: 'critical', score: 95,
    client: { ip: scripted[0], ips: [scripted[0]], userAgent: SCRIPT_UA, subnet: '198.51.100.0/24' },
    firstSeen: iso(D + 10 * HOUR), detectedAt: iso(D + 10 * HOUR + 5 * 60_000), lastSeen: iso(D + 10 * HOUR + 10 * 60_000),
    images: [image('art/harvested')],
    incident: { id: `ti-${hex('a')}`, severity: 'critical', status: 'open', alerts: 1, notice: 'opened' },
  });
  const campaign = makeAlert({
    id: `tw-${hex('b')}`, kind: 'campaign', severity: 'high', score: 82, subject: 'net:198.51.100.0/24',
    client: { ip: scripted[0], ips: [...scripted], userAgent: SCRIPT_UA, subnet: '198.51.100.0/24' },
    firstSeen: iso(D + 10 * HOUR), detectedAt: iso(D + 10 * HOUR + 20 * 60_000), lastSeen: iso(D + 10 * HOUR + 15 * 60_000),
    images: [image('art/harvested')],
    reasons: [{ signal: 'campaign', value: 2, threshold: 2, text: `2 clients in 198.51.100.0/24 (${scripted.join(', ')}) covered art/harvested together` }],
    incident: { id: `ti-${hex('a')}`, severity: 'critical', status: 'open', alerts: 2 },
  });
  const high = makeAlert({
    id: `tw-${hex('e')}`, kind: 'bulk-harvest', severity: 'high', score: 84,
    client: { ip: '203.0.113.9', ips: ['203.0.113.9'], userAgent: 'curl/8.5.0', subnet: '203.0.113.0/24' },
    firstSeen: iso(D + 8 * HOUR), detectedAt: iso(D + 9 * HOUR), lastSeen: iso(D + 9 * HOUR + 30 * 60_000),
    images: [image('art/other')],
  });
  const medium = makeAlert({
    id: `tw-${hex('d')}`, kind: 'low-and-slow', severity: 'medium', score: 70, status: 'resolved', version: 2, resolvedAt: iso(D + 6 * HOUR),
    client: { ip: '198.51.100.30', ips: ['198.51.100.30'], userAgent: SCRIPT_UA, subnet: '198.51.100.0/24' },
    firstSeen: iso(D - 12 * HOUR), detectedAt: iso(D - 4 * HOUR), lastSeen: iso(D - 3 * HOUR),
    images: [image('art/earlier')],
    incident: { id: `ti-${hex('d')}`, severity: 'medium', status: 'resolved', alerts: 1, notice: 'resolved' },
  });
  const low = makeAlert({
    id: `tw-${hex('c')}`, kind: 'image-exposure', severity: 'low', score: 52, subject: 'art/other',
    client: { ip: '192.0.2.50', ips: ['192.0.2.50', '192.0.2.51'], userAgent: BROWSER, subnet: '192.0.2.0/24' },
    firstSeen: iso(D + 16 * HOUR), detectedAt: iso(D + 18 * HOUR), lastSeen: iso(D + 17 * HOUR + 55 * 60_000),
    images: [image('art/other')],
    reasons: [{ signal: 'image-exposure', value: 0.92, threshold: 0.9, text: '92 % of art/other revealed at 4096 px by 192.0.2.50 and 192.0.2.51' }],
    incident: { id: `ti-${hex('c')}`, severity: 'low', status: 'open', alerts: 1 },
  });
  const olderLow = makeAlert({
    id: `tw-${hex('9')}`, kind: 'full-download', severity: 'low', score: 50,
    client: { ip: '203.0.113.77', ips: ['203.0.113.77'], userAgent: 'Wget/1.21', subnet: '203.0.113.0/24' },
    firstSeen: iso(D + HOUR), detectedAt: iso(D + HOUR), lastSeen: iso(D + HOUR + 60_000),
    images: [image('art/other')],
    incident: { id: `ti-${hex('9')}`, severity: 'low', status: 'open', alerts: 1 },
  });
  // `high` is stored as versions were before incidents: no `incident` in its body.
  const versions: Alert[] = [critical, campaign, high, medium, low, olderLow];

  const store = await openStore({ kind: 'embedded', dataDir });
  try {
    await migrate(store.client);
    const v6 = (ip: string): string => (ip.includes(':') ? ip : `::ffff:${ip}`);
    const ts = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
    await store.insertRaw({
      table: 'tile_requests',
      format: 'JSONEachRow',
      body: jsonEachRow(
        rows.map((r, i) => {
          const cs = 256 * 2 ** r.band;
          return {
            ts: ts(r.ts), client: v6(r.ip), client_key: r.ip, method: 'GET', status: 200, bytes: 20_000, host: 'img.test', path: `/iiif/2/${r.image}/${r.col * cs},${r.row * cs},${cs},${cs}/256,/0/default.jpg`,
            referer: '', user_agent: r.ua, protocol: 'iiif2', kind: 'tile', image_id: r.image, level: -1, tile_x: r.col, tile_y: r.row,
            rect_x: r.col * cs, rect_y: r.row * cs, rect_w: cs, rect_h: cs, scale: 2 ** -r.band, source: 'crafted.log', partition: -1, line: i + 1,
          };
        }),
      ),
    });
    for (const [id, od] of [['art/harvested', 1024], ['art/viewed', 0], ['art/earlier', 1024], ['art/coarse', 0]] as const) {
      await store.client.command({
        query: `INSERT INTO images SELECT 'iiif2', {id:String}, 4096, 4096, 256, 0, 4, {od:UInt32}, 'catalog', now64(3)`,
        query_params: { id, od },
      });
    }
    await store.insertRaw({ table: 'alerts', body: jsonEachRow(versions.map(alertRow)), format: 'JSONEachRow', settings: { date_time_input_format: 'best_effort' } });
  } finally {
    await store.close();
  }
  return {
    dataDir,
    alerts: { critical, campaign, high, medium, low, olderLow },
    incidents: { critical: `ti-${hex('a')}`, high: `ti-${hex('e')}`, medium: `ti-${hex('d')}`, low: `ti-${hex('c')}`, olderLow: `ti-${hex('9')}` },
    scripted,
    viewers,
    addresses: [...scripted, '198.51.100.30', '198.51.100.40', '203.0.113.9', '203.0.113.77', '192.0.2.50', '192.0.2.51', ...viewers],
    userAgents: [SCRIPT_UA, 'curl/8.5.0', 'Wget/1.21', 'Mozilla/5.0'],
  };
}

export interface ApiHarness {
  readonly store: Store;
  readonly app: Awaited<ReturnType<typeof buildApp>>;
  readonly clock: ReturnType<typeof manualClock>;
  readonly tokens: Record<Role, string>;
  readonly auth: (role: Role) => { authorization: string };
}

/** Opens the fixture's store in this process and builds the app on it with one token per role. */
export async function openApi(t: TestContext, fx: Pick<IncidentFixture, 'dataDir'>, config: Partial<ApiConfig> = {}): Promise<ApiHarness> {
  const store = await openStore({ kind: 'embedded', dataDir: fx.dataDir });
  const clock = manualClock();
  const app = await buildApp({ store, logger: pino({ level: 'silent' }), clock, config: { ...DEFAULT_API_CONFIG, ...config } });
  await app.ready();
  t.after(async () => {
    await app.close();
    await store.close();
  });
  const tokens = {} as Record<Role, string>;
  for (const role of ['viewer', 'analyst', 'admin'] as const) tokens[role] = (await createToken(store, { name: `test-${role}`, role, createdBy: 'test', now: clock.now() })).token;
  return { store, app, clock, tokens, auth: (role) => ({ authorization: `Bearer ${tokens[role]}` }) };
}

/**
 * The incident API on a real store (the scraper scenario replayed by the CLI): the route table is
 * closed by default — checked against a table of who may call what written here by hand, not read
 * from the routes' own declarations (no route but health, readiness, the static page and the API
 * docs without a token; every role gets 403 below the table's role) — and each incident question
 * is answered from the data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tar from 'tar-stream';
import { alertRow } from '../../services/alerting/alertsTable.ts';
import type { Alert } from '../../services/core/alert.ts';
import pino from 'pino';
import { DEFAULT_API_CONFIG } from '../../services/api/apiConfig.ts';
import { buildApp } from '../../services/api/buildApp.ts';
import { ERROR_CODES } from '../../services/api/errors.ts';
import { jsonEachRow } from '../../services/store/openStore.ts';
import { ROLES, roleAtLeast, type Role } from '../../services/incidents/roles.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { openApi, replayScenario } from '../support/incidentStore.ts';

/**
 * Who may call what: the lowest role, or public. Written by hand from docs/api.md — a route declared
 * with another role, or a route missing here, fails the walk. HEAD routes follow their GET.
 */
const ACCESS: Readonly<Record<string, Role | 'public'>> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /': 'public',
  'GET /web/app.js': 'public',
  'GET /web/style.css': 'public',
  'GET /docs': 'public',
  'HEAD /docs/': 'public', // the docs plugin's own HEAD route, without a GET
  'GET /docs/json': 'public',
  'GET /docs/yaml': 'public',
  'GET /docs/static/index.html': 'public',
  'GET /docs/static/swagger-initializer.js': 'public',
  'GET /docs/static/*': 'public',
  'GET /metrics': 'viewer',
  'GET /api/v1/me': 'viewer',
  'GET /api/v1/summary': 'viewer',
  'GET /api/v1/alerts': 'viewer',
  'GET /api/v1/alerts/:id': 'viewer',
  'POST /api/v1/alerts/:id/ack': 'analyst',
  'POST /api/v1/alerts/:id/mute': 'analyst',
  'POST /api/v1/alerts/:id/resolve': 'analyst',
  'POST /api/v1/alerts/:id/reopen': 'analyst',
  'GET /api/v1/incidents': 'viewer',
  'GET /api/v1/incidents/:id': 'viewer',
  'POST /api/v1/incidents/:id/ack': 'analyst',
  'POST /api/v1/incidents/:id/mute': 'analyst',
  'POST /api/v1/incidents/:id/resolve': 'analyst',
  'POST /api/v1/incidents/:id/reopen': 'analyst',
  'GET /api/v1/exposure/digest': 'analyst',
  'GET /api/v1/clients/:ip/timeline': 'analyst',
  'GET /api/v1/clients/:ip/coverage.svg': 'analyst',
  'GET /api/v1/images/exposure': 'analyst',
  'POST /api/v1/reports': 'analyst',
  'GET /api/v1/search': 'analyst',
  'POST /api/v1/evidence': 'analyst',
  'GET /api/v1/tokens': 'admin',
  'POST /api/v1/tokens': 'admin',
  'DELETE /api/v1/tokens/:id': 'admin',
  'GET /api/v1/suppressions': 'admin',
  'POST /api/v1/suppressions': 'admin',
  'DELETE /api/v1/suppressions/:id': 'admin',
  'GET /api/v1/audit': 'admin',
};
/** Routes not counted against the rate limit. */
const RATE_LIMIT_EXEMPT = new Set(['GET /healthz', 'HEAD /healthz', 'GET /readyz', 'HEAD /readyz']);
const expectedAccess = (method: string, url: string): Role | 'public' | undefined => ACCESS[`${method} ${url}`] ?? (method === 'HEAD' ? ACCESS[`GET ${url}`] : undefined);

const sample = (url: string): string => url.replace(':ip', '203.0.113.66').replace(':id', 'tw-00000000000000000000').replace('*', 'x');

async function untar(buf: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        files.set(h.name, Buffer.concat(parts));
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return files;
}

test('incident API on a replayed store', async (t) => {
  const fx = await replayScenario(t);
  const h = await openApi(t, fx);
  const { app, auth } = h;
  const scraper = fx.scenario.scraperIp;
  const routes = app.apiRoutes.filter((r) => r.method !== 'HEAD');

  await t.test('route table: every route is in the access table, and the table has no stale row', async () => {
    // With a metrics registry, so /metrics exists too.
    const full = await buildApp({ store: h.store, logger: pino({ level: 'silent' }), clock: h.clock, config: DEFAULT_API_CONFIG, metrics: { contentType: 'text/plain', metrics: async () => '' } });
    try {
      const listed = full.apiRoutes.map((r) => `${r.method} ${r.url}`);
      for (const r of full.apiRoutes) {
        const need = expectedAccess(r.method, r.url);
        assert.notEqual(need, undefined, `${r.method} ${r.url} is not in the access table`);
        assert.equal(r.access, need, `${r.method} ${r.url} declares ${r.access}, the table says ${need}`);
      }
      for (const key of Object.keys(ACCESS)) assert.ok(listed.includes(key), `the access table lists ${key}, which does not exist`);
      for (const r of full.apiRoutes) assert.equal(r.rateLimited, !RATE_LIMIT_EXEMPT.has(`${r.method} ${r.url}`), `${r.method} ${r.url} rate limited`);
    } finally {
      await full.close();
    }
  });

  await t.test('route walk: public routes answer without a token; every other route needs the table\'s role', async () => {
    const full = await buildApp({
      store: h.store,
      logger: pino({ level: 'silent' }),
      clock: h.clock,
      config: { ...DEFAULT_API_CONFIG, rateLimitPerMinute: 1_000_000 },
      metrics: { contentType: 'text/plain', metrics: async () => '' },
    });
    let checked = 0;
    try {
      for (const r of full.apiRoutes) {
        const need = expectedAccess(r.method, r.url);
        const url = sample(r.url);
        const method = r.method as 'GET' | 'HEAD' | 'POST' | 'DELETE';
        const payload = method === 'POST' ? {} : undefined;
        if (need === 'public') {
          const res = await full.inject({ method, url });
          assert.ok(![401, 403].includes(res.statusCode), `${r.method} ${r.url} is public: ${res.statusCode}`);
          continue;
        }
        assert.ok(need, `${r.method} ${r.url} is in the access table`);
        for (const headers of [{}, { authorization: 'Bearer tw_' + 'A'.repeat(43) }, { authorization: 'Basic abc' }, { authorization: `Bearer ${h.tokens.admin}x` }]) {
          const res = await full.inject({ method, url, headers, payload });
          assert.equal(res.statusCode, 401, `${r.method} ${r.url} with ${JSON.stringify(headers)}: ${res.body}`);
          if (method !== 'HEAD') assert.equal(res.json().error.code, 'unauthorized');
        }
        for (const role of ROLES) {
          const res = await full.inject({ method, url, headers: auth(role), payload });
          if (roleAtLeast(role, need)) {
            assert.ok(![401, 403].includes(res.statusCode), `${role} may call ${r.method} ${r.url}: ${res.statusCode} ${res.body}`);
          } else {
            assert.equal(res.statusCode, 403, `${role} must not call ${r.method} ${r.url}: ${res.body}`);
            if (method !== 'HEAD') assert.equal(res.json().error.code, 'forbidden');
          }
        }
        checked++;
      }
    } finally {
      await full.close();
    }
    assert.ok(checked >= 30, `checked ${checked} routes (HEAD included)`);
  });

  await t.test('every route declares request/response schemas; every error code is documented', () => {
    const doc = readFileSync(`${REPO_ROOT}docs/api.md`, 'utf8');
    for (const code of Object.keys(ERROR_CODES)) assert.match(doc, new RegExp(`\\| \`${code}\` \\|`), `docs/api.md documents ${code}`);
    for (const r of routes) if (expectedAccess(r.method, r.url) !== 'public') assert.ok(r.responseSchema, `${r.method} ${r.url} declares its responses`);
    for (const r of routes) if (expectedAccess(r.method, r.url) !== 'public') assert.match(doc, new RegExp(`${r.method} \`${r.url.replace(/[.*]/g, '\\$&')}\``), `docs/api.md lists ${r.method} ${r.url}`);
  });

  await t.test('OpenAPI document lists the routes with bearer security', async () => {
    const res = await app.inject({ url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const spec = res.json() as { paths: Record<string, Record<string, { security?: unknown[]; responses?: Record<string, unknown> }>> };
    const op = spec.paths['/api/v1/clients/{ip}/timeline']?.get;
    assert.ok(op, 'timeline in the OpenAPI document');
    assert.deepEqual(op.security, [{ bearer: [] }]);
    assert.ok(op.responses?.['200'] && op.responses['401'] && op.responses['403']);
  });

  await t.test('secure headers; errors carry codes and no stack', async () => {
    const res = await app.inject({ url: '/api/v1/alerts', headers: auth('viewer') });
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const bad = await app.inject({ url: '/api/v1/clients/not-an-ip/timeline', headers: auth('analyst') });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(Object.keys(bad.json()), ['error']);
    assert.equal(bad.json().error.code, 'invalid_input');
    assert.doesNotMatch(bad.body, /at .*\.ts:\d+|stack/);
    const big = await app.inject({ method: 'POST', url: '/api/v1/reports', headers: { ...auth('analyst'), 'content-type': 'application/json' }, payload: JSON.stringify({ images: ['x'.repeat(100_000)] }) });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error.code, 'payload_too_large');
  });

  // Two more alerts (synthetic versions of the real one, other ids and times) for pagination.
  // The detector raises one bulk-harvest alert for the scraper (hunts may add image-exposure alerts).
  const first = (await app.inject({ url: '/api/v1/alerts', headers: auth('analyst') })).json().items as Array<{ id: string; kind: string; detectedAt: string }>;
  const harvest = first.filter((a) => a.kind === 'bulk-harvest');
  assert.equal(harvest.length, 1, 'the scenario raises one bulk-harvest alert');
  const realId = harvest[0]!.id;
  const body = JSON.parse((await app.inject({ url: `/api/v1/alerts/${realId}`, headers: auth('analyst') })).body) as { body: Alert };
  const extra = [1, 2].map((i) => ({ ...body.body, id: `tw-synthetic-${i}`, severity: 'low' as const, detectedAt: new Date(Date.parse(body.body.detectedAt) + i * 60_000).toISOString() }));
  await h.store.insertRaw({ table: 'alerts', body: jsonEachRow(extra.map(alertRow)), format: 'JSONEachRow', settings: { date_time_input_format: 'best_effort' } });

  await t.test('alerts: viewers see no client data; cursor pagination; filters', async () => {
    const v = await app.inject({ url: '/api/v1/alerts', headers: auth('viewer') });
    assert.equal(v.statusCode, 200);
    assert.equal(v.body.includes(scraper), false, 'no IP in a viewer response');
    assert.equal(v.body.includes('python-requests'), false, 'no user agent in a viewer response');
    const vd = await app.inject({ url: `/api/v1/alerts/${realId}`, headers: auth('viewer') });
    assert.equal(vd.body.includes(scraper), false);
    assert.equal((await app.inject({ url: `/api/v1/alerts?client=${scraper}`, headers: auth('viewer') })).statusCode, 403);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await app.inject({ url: `/api/v1/alerts?limit=1${cursor ? `&cursor=${cursor}` : ''}`, headers: auth('analyst') });
      const page = res.json() as { items: Array<{ id: string; client: { ip: string } }>; nextCursor: string | null };
      assert.ok(page.items.length <= 1);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    const expected = [...first, ...extra.map((x) => ({ id: x.id, detectedAt: x.detectedAt }))]
      .sort((a, b) => (a.detectedAt === b.detectedAt ? (a.id < b.id ? 1 : -1) : a.detectedAt < b.detectedAt ? 1 : -1))
      .map((a) => a.id);
    assert.deepEqual(seen, expected, 'newest first, each once');
    assert.ok(seen.indexOf('tw-synthetic-2') < seen.indexOf('tw-synthetic-1') && seen.indexOf('tw-synthetic-1') < seen.indexOf(realId));
    const harvests = (await app.inject({ url: '/api/v1/alerts?kind=bulk-harvest', headers: auth('analyst') })).json().items as unknown[];
    assert.equal(harvests.length, 3, 'the real bulk-harvest alert and the two synthetic ones');
    const byClient = (await app.inject({ url: `/api/v1/alerts?client=${scraper}&limit=10`, headers: auth('analyst') })).json().items as Array<{ client: { ip: string } }>;
    assert.equal(byClient.length, first.length + 2);
    assert.equal(byClient[0]!.client.ip, scraper);
    const none = (await app.inject({ url: '/api/v1/alerts?client=192.0.2.10', headers: auth('analyst') })).json().items as unknown[];
    assert.equal(none.length, 0);
    assert.equal((await app.inject({ url: '/api/v1/alerts?cursor=bm9wZQ', headers: auth('analyst') })).statusCode, 400);
  });

  await t.test('alerts name their incident; the incident lists them (the synthetic copies carry the real incident)', async () => {
    const incidentId = `ti-${realId.slice(3)}`;
    assert.equal((await app.inject({ url: `/api/v1/alerts/${realId}`, headers: auth('viewer') })).json().alert.incidentId, incidentId);
    const res = await app.inject({ url: `/api/v1/incidents/${realId}`, headers: auth('analyst') });
    assert.equal(res.statusCode, 200, res.body);
    const d = res.json() as { incident: { id: string; severity: string; addresses: string[] }; alerts: Array<{ alert: { id: string } }> };
    assert.equal(d.incident.id, incidentId);
    assert.equal(d.incident.severity, 'critical');
    assert.deepEqual(d.incident.addresses, [scraper]);
    assert.deepEqual(d.alerts.map((a) => a.alert.id).sort(), [realId, 'tw-synthetic-1', 'tw-synthetic-2'].sort());
    const list = (await app.inject({ url: '/api/v1/incidents', headers: auth('viewer') })).json() as { counts: Record<string, number>; items: Array<{ id: string }> };
    assert.equal(list.items[0]!.id, incidentId);
    assert.equal(list.counts.critical, 1);
  });

  await t.test('alert actions: ack, mute with until, resolve; effective status is the newest action', async () => {
    const act = async (path: string, payload: object) => app.inject({ method: 'POST', url: `/api/v1/alerts/${realId}/${path}`, headers: auth('analyst'), payload });
    let r = await act('ack', { note: 'looking' });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().alert.status, 'acknowledged');
    h.clock.advance(1000);
    assert.equal((await act('mute', { note: 'x' })).statusCode, 400, 'mute needs until');
    assert.equal((await act('mute', { until: new Date(h.clock.now() - 1000).toISOString() })).statusCode, 400, 'until in the past');
    r = await act('mute', { until: new Date(h.clock.now() + 3_600_000).toISOString() });
    assert.equal(r.json().alert.status, 'muted');
    assert.equal((await app.inject({ url: '/api/v1/alerts?status=muted', headers: auth('viewer') })).json().items[0].id, realId);
    h.clock.advance(2 * 3_600_000);
    assert.equal((await app.inject({ url: `/api/v1/alerts/${realId}`, headers: auth('analyst') })).json().alert.status, 'open', 'an expired mute falls back to the detector status');
    r = await act('resolve', { note: 'blocked at the firewall' });
    assert.equal(r.json().alert.status, 'resolved');
    assert.deepEqual(
      (r.json().actions as Array<{ action: string }>).map((a) => a.action),
      ['acknowledge', 'mute', 'resolve'],
    );
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/alerts/tw-none/ack', headers: auth('analyst'), payload: {} })).statusCode, 404);
  });

  await t.test('client timeline: requests over time, images, exposure growth, alerts', async () => {
    const res = await app.inject({ url: `/api/v1/clients/${scraper}/timeline`, headers: auth('analyst') });
    assert.equal(res.statusCode, 200, res.body);
    const tl = res.json();
    assert.equal(tl.ip, scraper);
    assert.equal(tl.totals.requests, fx.scenario.scraperTiles);
    assert.deepEqual((tl.images as Array<{ imageId: string }>).map((i) => i.imageId).sort(), [...fx.scenario.imageIds].sort());
    assert.deepEqual((tl.images as Array<{ cells: number; tiles: number }>).map((i) => [i.tiles, i.cells]), [[384, 368], [384, 368], [384, 368]]);
    const sum = (tl.buckets as Array<{ requests: number }>).reduce((s, b) => s + b.requests, 0);
    assert.equal(sum, fx.scenario.scraperTiles);
    // 23 × 16 whole cells per 6000 × 4000 image at full resolution (edge tiles' centres fall outside).
    assert.equal(tl.buckets.at(-1).cumulativeCells, 3 * 23 * 16);
    assert.ok((tl.alerts as Array<{ id: string }>).some((a) => a.id === realId));
    assert.equal((await app.inject({ url: '/api/v1/clients/198.51.100.99/timeline', headers: auth('analyst') })).statusCode, 404);
  });

  await t.test('image exposure, coverage map and incident report', async () => {
    const img = fx.scenario.imageIds[0]!;
    const e = (await app.inject({ url: `/api/v1/images/exposure?image=${img}`, headers: auth('analyst') })).json();
    assert.equal(e.clients[0].ip, scraper);
    assert.equal(e.clients[0].reconstructLongEdge, 6000);
    assert.equal(e.clients[0].bands[0].coverage, 1);
    assert.equal(e.union.reconstructLongEdge, 6000);
    assert.equal(e.clients[0].firstEvidence.source, fx.logPath);

    const svg = await app.inject({ url: `/api/v1/clients/${scraper}/coverage.svg?image=${img}`, headers: auth('analyst') });
    assert.equal(svg.statusCode, 200);
    assert.match(String(svg.headers['content-type']), /^image\/svg\+xml/);
    assert.equal((svg.body.match(/class="cell"/g) ?? []).length, 23 * 16);
    assert.match(svg.body, /fill="hsl\(240,80%,50%\)"/, 'the first cell is blue');
    assert.match(svg.body, /fill="hsl\(0,80%,50%\)"/, 'the last cell is red');

    const report = async (minLongEdge: number) =>
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/reports',
          headers: auth('analyst'),
          payload: { images: [...fx.scenario.imageIds, 'view-a'], from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z', minLongEdge },
        })
      ).json();
    const r = await report(6000);
    assert.equal(r.images.length, 4);
    for (const im of r.images.slice(0, 3)) {
      assert.deepEqual((im.clients as Array<{ ip: string }>).map((c) => c.ip), [scraper], im.imageId);
      assert.equal(im.clients[0].requests, 24 * 16);
    }
    assert.equal(r.images[3].clients.length, 0, 'browsing viewers cannot reconstruct view-a');
    assert.ok(r.images[0].clients[0].since < r.images[1].clients[0].since, 'images are swept in order');
    const r2 = await report(6001);
    assert.equal(r2.images[0].clients.length, 0);
    const tooLong = await app.inject({ method: 'POST', url: '/api/v1/reports', headers: auth('analyst'), payload: { images: ['a'], from: '2025-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } });
    assert.equal(tooLong.statusCode, 400);
  });

  await t.test('search by IP, CIDR, user agent and image', async () => {
    const s = async (q: string) => (await app.inject({ url: `/api/v1/search?${q}`, headers: auth('analyst') })).json().hits as Array<{ ip: string; alerts: number }>;
    assert.deepEqual((await s(`ip=${scraper}`)).map((x) => x.ip), [scraper]);
    assert.deepEqual((await s('cidr=203.0.113.0/24')).map((x) => x.ip), [scraper]);
    assert.deepEqual((await s('cidr=192.0.2.0/24')).map((x) => x.ip).sort(), [...fx.scenario.viewerIps].sort());
    assert.deepEqual((await s('cidr=::ffff:192.0.2.8/125')).map((x) => x.ip).sort(), ['192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13']);
    assert.deepEqual((await s('ua=PYTHON-requests')).map((x) => x.ip), [scraper]);
    assert.deepEqual((await s(`image=${fx.scenario.imageIds[1]}`)).map((x) => x.ip), [scraper]);
    assert.equal((await s(`ip=${scraper}`))[0]!.alerts, first.length + 2);
    assert.equal((await app.inject({ url: '/api/v1/search?cidr=10.0.0.0/4', headers: auth('analyst') })).statusCode, 400, 'too wide a block');
    assert.equal((await app.inject({ url: `/api/v1/search?ip=${scraper}&ua=x1`, headers: auth('analyst') })).statusCode, 400, 'exactly one criterion');
  });

  await t.test('evidence export: tar with raw rows, manifest with query, row count and SHA-256 of every file', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/evidence', headers: auth('analyst'), payload: { alert: realId } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/x-tar');
    const files = await untar(res.rawPayload);
    assert.deepEqual([...files.keys()].sort(), ['alert.json', 'manifest.json', 'requests.ndjson']);
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    for (const f of manifest.files as Array<{ name: string; sha256: string; bytes: number }>) {
      assert.equal(createHash('sha256').update(files.get(f.name)!).digest('hex'), f.sha256, f.name);
      assert.equal(files.get(f.name)!.length, f.bytes);
    }
    const lines = files.get('requests.ndjson')!.toString('utf8').split('\n').filter((l) => l !== '');
    assert.equal(manifest.queries[0].rows, lines.length);
    assert.match(manifest.queries[0].sql, /\{clients:Array\(IPv6\)\}/);
    assert.deepEqual(manifest.queries[0].params.clients, [`::ffff:${scraper}`]);
    const rows = lines.map((l) => JSON.parse(l) as { client_ip: string; source: string; line: number });
    assert.ok(rows.length > 800);
    assert.ok(rows.every((r) => r.client_ip === `::ffff:${scraper}` && r.source === fx.logPath && r.line > 0));

    const client = await app.inject({ method: 'POST', url: '/api/v1/evidence', headers: auth('analyst'), payload: { client: '192.0.2.10' } });
    const cf = await untar(client.rawPayload);
    assert.equal(cf.get('requests.ndjson')!.toString().split('\n').filter(Boolean).length, 36);
    const rep = await app.inject({
      method: 'POST',
      url: '/api/v1/evidence',
      headers: auth('analyst'),
      payload: { report: { images: [fx.scenario.imageIds[0]], from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z', minLongEdge: 2000 } },
    });
    const rf = await untar(rep.rawPayload);
    assert.equal(rf.get('requests.ndjson')!.toString().split('\n').filter(Boolean).length, 24 * 16);
    assert.ok(rf.has('report.json'));
  });

  await t.test('audit log: every IP lookup and export, with actor and status', async () => {
    const res = await app.inject({ url: '/api/v1/audit?limit=1000', headers: auth('admin') });
    const items = res.json().items as Array<{ action: string; targetType: string; target: string; actor: string; status: number; role: string }>;
    const has = (action: string, type: string, target: string, status = 200) =>
      assert.ok(
        items.some((i) => i.action === action && i.targetType === type && i.target === target && i.status === status && i.actor.startsWith('test-')),
        `audit ${action} ${type} ${target} ${status} in ${JSON.stringify(items.slice(0, 5))}`,
      );
    has('timeline', 'ip', scraper);
    has('timeline', 'ip', '198.51.100.99', 404);
    has('search', 'cidr', '203.0.113.0/24');
    has('search', 'ip', scraper);
    has('export', 'alert', realId);
    has('export', 'client', '192.0.2.10');
    has('coverage-map', 'ip', scraper);
    has('alert.mute', 'alert', realId);
    has('alerts.by-client', 'ip', scraper);
    assert.equal(items.filter((i) => i.action === 'alerts.by-client').length, 3, 'only filtered lists are IP lookups');
    // A viewer refused an analyst route is recorded too.
    await app.inject({ url: `/api/v1/clients/${scraper}/timeline`, headers: auth('viewer') });
    const again = (await app.inject({ url: '/api/v1/audit?limit=5', headers: auth('admin') })).json().items as Array<{ role: string; status: number }>;
    assert.ok(again.some((i) => i.role === 'viewer' && i.status === 403));
  });

  await t.test('admin: tokens are created once, stored hashed, revoked; suppression rules', async () => {
    const created = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: auth('admin'), payload: { name: 'grafana', role: 'viewer' } });
    assert.equal(created.statusCode, 201);
    const tok = created.json() as { id: string; token: string };
    assert.match(tok.token, /^tw_[A-Za-z0-9_-]{43}$/);
    const stored = await h.store.client.query({ query: 'SELECT token_sha256 FROM api_tokens FINAL WHERE id = {id:String}', query_params: { id: tok.id }, format: 'JSONEachRow' });
    const [row] = await stored.json<{ token_sha256: string }>();
    assert.equal(row!.token_sha256, createHash('sha256').update(tok.token).digest('hex'));
    const list = await app.inject({ url: '/api/v1/tokens', headers: auth('admin') });
    assert.equal(list.body.includes(tok.token), false, 'the secret is never listed');
    assert.equal((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${tok.token}` } })).json().role, 'viewer');
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${tok.id}`, headers: auth('admin') })).statusCode, 200);
    h.clock.advance(60_000); // past the token cache
    assert.equal((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${tok.token}` } })).statusCode, 401);

    const rule = await app.inject({ method: 'POST', url: '/api/v1/suppressions', headers: auth('admin'), payload: { type: 'allow', cidr: '10.20.0.0/16', note: 'staff' } });
    assert.equal(rule.statusCode, 201, rule.body);
    const id = rule.json().id as string;
    assert.deepEqual(((await app.inject({ url: '/api/v1/suppressions', headers: auth('admin') })).json().items as Array<{ id: string }>).map((r) => r.id), [id]);
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/suppressions/${id}`, headers: auth('admin') })).statusCode, 200);
    assert.equal(((await app.inject({ url: '/api/v1/suppressions', headers: auth('admin') })).json().items as unknown[]).length, 0);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/suppressions', headers: auth('admin'), payload: { type: 'mute' } })).statusCode, 400);
  });

  await t.test('rate limit answers 429 rate_limited per token; health is not limited', async () => {
    const limited = await buildApp({ store: h.store, logger: pino({ level: 'silent' }), clock: h.clock, config: { ...DEFAULT_API_CONFIG, rateLimitPerMinute: 5 } });
    try {
      const health: number[] = [];
      for (let i = 0; i < 7; i++) health.push((await limited.inject({ url: '/healthz' })).statusCode);
      assert.deepEqual(health, [200, 200, 200, 200, 200, 200, 200]);
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) codes.push((await limited.inject({ url: '/api/v1/me', headers: auth('viewer') })).statusCode);
      assert.deepEqual(codes, [200, 200, 200, 200, 200, 429]);
      const res = await limited.inject({ url: '/api/v1/me', headers: auth('viewer') });
      assert.equal(res.json().error.code, 'rate_limited');
      assert.equal(res.headers['x-ratelimit-limit'], '5');
      assert.equal((await limited.inject({ url: '/api/v1/me', headers: auth('analyst') })).statusCode, 200, 'another token has its own budget');
    } finally {
      await limited.close();
    }
  });

  await t.test('readiness and viewer summary', async () => {
    assert.equal((await app.inject({ url: '/readyz' })).json().status, 'ready');
    const s = (await app.inject({ url: '/api/v1/summary', headers: auth('viewer') })).json();
    assert.equal(s.requests, fx.scenario.lines.length);
    assert.equal(s.clients, 5);
  });
});

/**
 * Attacks observed against the incident API (issue 12), each replayed on a real store:
 * a deeply nested JSON body, a viewer reading campaign alerts, a CIDR search wider than every IPv4
 * client, an anonymous flood locking out the tokens and the health checks, and responses with
 * personal data left cacheable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import pino from 'pino';
import { DEFAULT_API_CONFIG } from '../../services/api/apiConfig.ts';
import { buildApp } from '../../services/api/buildApp.ts';
import { alertRow } from '../../services/alerting/alertsTable.ts';
import type { Alert } from '../../services/core/alert.ts';
import { jsonEachRow } from '../../services/store/openStore.ts';
import { manualClock, openApi, replayScenario } from '../support/incidentStore.ts';

/** Every token of address characters in `text` that node itself reads as an IP address. */
function addressesIn(text: string): string[] {
  return (text.match(/[0-9A-Fa-f.:]+/g) ?? []).flatMap((t) => [t, t.replace(/[.:]$/, '')]).filter((t) => isIP(t) !== 0);
}

test('API hardening against the observed attacks', async (outer) => {
  const fx = await replayScenario(outer);
  // In a subtest, so the store closes (its after hooks) before the data directory is removed.
  await outer.test('on the replayed store', async (t) => {
    const h = await openApi(t, fx);
    const { app, auth } = h;
    const scraper = fx.scenario.scraperIp;
    const auditRows = async (): Promise<number> =>
      Number((await (await h.store.client.query({ query: 'SELECT count() AS n FROM audit_log', format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);

    await t.test('a deeply nested JSON body is a 400 in the normal error format, and audited', async () => {
      const deep = '{"report":' + '['.repeat(4500) + ']'.repeat(4500) + '}';
      assert.ok(deep.length > 9000 && deep.length < DEFAULT_API_CONFIG.bodyLimit);
      for (const url of ['/api/v1/evidence', '/api/v1/reports']) {
        const before = await auditRows();
        const res = await app.inject({ method: 'POST', url, headers: { ...auth('analyst'), 'content-type': 'application/json' }, payload: deep });
        assert.equal(res.statusCode, 400, `${url}: ${res.body.slice(0, 300)}`);
        const body = res.json() as { error: { code: string; message: string } };
        assert.deepEqual(Object.keys(body), ['error']);
        assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
        assert.equal(body.error.code, 'invalid_input');
        assert.match(body.error.message, /nests deeper than 16 levels/);
        assert.doesNotMatch(res.body, /call stack|statusCode|FST_/);
        assert.equal(await auditRows(), before + 1, `${url}: the refusal is audited`);
      }
      const audit = (await app.inject({ url: '/api/v1/audit?limit=2', headers: auth('admin') })).json().items as Array<{ action: string; status: number; role: string }>;
      assert.deepEqual(
        audit.map((a) => [a.action, a.status, a.role]),
        [
          ['report', 400, 'analyst'],
          ['export', 400, 'analyst'],
        ],
      );

      const manyKeys = JSON.stringify({ report: { images: ['x'], from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z', ...Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 0])) } });
      const res = await app.inject({ method: 'POST', url: '/api/v1/evidence', headers: { ...auth('analyst'), 'content-type': 'application/json' }, payload: manyKeys });
      assert.equal(res.statusCode, 400);
      assert.match(res.json().error.message, /more than 1000 keys/);
      // Brackets inside strings are data, not nesting; prototype poisoning is still refused by the parser.
      const alerts = (await app.inject({ url: '/api/v1/alerts', headers: auth('analyst') })).json().items as Array<{ id: string }>;
      const ack = await app.inject({ method: 'POST', url: `/api/v1/alerts/${alerts[0]!.id}/ack`, headers: auth('analyst'), payload: { note: '[{'.repeat(500) } });
      assert.equal(ack.statusCode, 200, ack.body);
      const poison = await app.inject({ method: 'POST', url: '/api/v1/reports', headers: { ...auth('analyst'), 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1},"images":["a"]}' });
      assert.equal(poison.statusCode, 400);
      assert.equal(poison.json().error.code, 'invalid_input');
    });

    await t.test('viewers see no IP, subnet or user agent: campaign reasons, details and notes included', async () => {
      const real = (await app.inject({ url: '/api/v1/alerts?kind=bulk-harvest', headers: auth('analyst') })).json().items[0] as { id: string };
      const base = (await app.inject({ url: `/api/v1/alerts/${real.id}`, headers: auth('analyst') })).json().body as Alert;
      const reason = (signal: string, text: string) => ({ signal, value: 1, threshold: 1, text });
      const common = [
        reason('union-coverage', '3 clients jointly covered 2 image(s) at high resolution (each ≥ 90% in union), 24.0 screens'),
        reason('low-overlap', 'overlap 0.05 (≤ 0.2: the work was split; viewers overlap on the same areas)'),
      ];
      const campaigns: Alert[] = [
        {
          ...base,
          id: 'tw-campaign-net4',
          kind: 'campaign',
          subject: 'net:198.51.100.0/24',
          client: { ip: '198.51.100.7', ips: ['198.51.100.7', '198.51.100.8', '198.51.100.9'], userAgent: 'Mozilla/5.0 (X11; Linux x86_64) HarvestKit/2.1', subnet: '198.51.100.0/24' },
          reasons: [...common, reason('shared-network', 'all members in 198.51.100.0/24')],
        },
        {
          ...base,
          id: 'tw-campaign-ua',
          kind: 'campaign',
          subject: 'ua:CustomHarvester',
          client: { ip: '198.18.4.20', ips: ['198.18.4.20', '198.19.7.1', '100.64.2.2'], userAgent: 'CustomHarvester', subnet: '198.18.4.0/22' },
          reasons: [...common, reason('shared-user-agent', 'one user agent across 3 networks: CustomHarvester')],
        },
        {
          ...base,
          id: 'tw-campaign-net6',
          kind: 'campaign',
          subject: 'net:2001:db8:7::/48',
          client: { ip: '2001:db8:7::5', ips: ['2001:db8:7::5', '2001:db8:7::6'], userAgent: 'python-requests/2.31.0', subnet: '2001:db8:7::/48' },
          reasons: [...common, reason('shared-network', 'all members in 2001:db8:7::/48'), reason('context', 'first seen from ::ffff:198.51.100.250 via python-requests/2.31.0')],
        },
      ];
      await h.store.insertRaw({ table: 'alerts', body: jsonEachRow(campaigns.map(alertRow)), format: 'JSONEachRow', settings: { date_time_input_format: 'best_effort' } });
      // An analyst's note naming a client, its network and user agent.
      const note = 'blocked 198.51.100.7 and 2001:db8:7::6 (2001:db8:7::/48) upstream; UA HarvestKit/2.1';
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/alerts/tw-campaign-net4/ack', headers: auth('analyst'), payload: { note } })).statusCode, 200);

      const personal = [
        ...campaigns.flatMap((a) => [a.client.ip, ...a.client.ips, a.client.subnet, a.client.userAgent]),
        scraper,
        'HarvestKit',
        'CustomHarvester',
        'python-requests',
        '198.51.100',
        '2001:db8',
      ];
      const viewerBodies = [
        (await app.inject({ url: '/api/v1/alerts?limit=1000', headers: auth('viewer') })).body,
        (await app.inject({ url: '/api/v1/alerts?kind=campaign', headers: auth('viewer') })).body,
        ...(await Promise.all([...campaigns.map((a) => a.id), real.id].map(async (id) => (await app.inject({ url: `/api/v1/alerts/${id}`, headers: auth('viewer') })).body))),
        (await app.inject({ url: '/api/v1/summary', headers: auth('viewer') })).body,
      ];
      for (const body of viewerBodies) {
        for (const p of personal) assert.equal(body.includes(p), false, `viewer response holds ${p}: ${body.slice(0, 400)}`);
        assert.deepEqual(addressesIn(body), [], `viewer response holds an address: ${body.slice(0, 400)}`);
      }
      const v4 = (await app.inject({ url: '/api/v1/alerts/tw-campaign-net4', headers: auth('viewer') })).json() as { reasons: string[]; actions: Array<{ note: string }>; alert: { reasons: string } };
      assert.ok(v4.reasons.includes('all members in [network]'), JSON.stringify(v4.reasons));
      assert.ok(v4.alert.reasons.includes('all members in [network]'));
      assert.equal(v4.actions.at(-1)!.note, 'blocked [ip] and [ip] ([network]) upstream; UA [user agent]');
      const ua = (await app.inject({ url: '/api/v1/alerts/tw-campaign-ua', headers: auth('viewer') })).json() as { reasons: string[] };
      assert.ok(ua.reasons.includes('one user agent across 3 networks: [user agent]'), JSON.stringify(ua.reasons));
      const harvest = (await app.inject({ url: `/api/v1/alerts/${real.id}`, headers: auth('viewer') })).json() as { reasons: string[] };
      assert.deepEqual(harvest.reasons, base.reasons.map((r) => r.text), 'reasons without personal data are shown whole');

      // Analysts still see everything.
      const analyst = (await app.inject({ url: '/api/v1/alerts/tw-campaign-net4', headers: auth('analyst') })).json() as { reasons: string[]; actions: Array<{ note: string }> };
      assert.ok(analyst.reasons.includes('all members in 198.51.100.0/24'));
      assert.equal(analyst.actions.at(-1)!.note, note);
    });

    await t.test('CIDR searches and rules wider than the guards are refused, IPv4-mapped and native IPv6 alike', async () => {
      const search = (cidr: string) => app.inject({ url: `/api/v1/search?cidr=${encodeURIComponent(cidr)}`, headers: auth('analyst') });
      for (const wide of ['::/32', '::/0', '::/80', '::ffff:0:0/96', '::fffe:0:0/95', '::ffff:10.0.0.0/100', '2001:db8::/31', '10.0.0.0/7']) {
        const res = await search(wide);
        assert.equal(res.statusCode, 400, `${wide}: ${res.body.slice(0, 200)}`);
        assert.equal(res.json().error.code, 'invalid_input');
      }
      assert.deepEqual(((await search('::ffff:203.0.113.0/120')).json().hits as Array<{ ip: string }>).map((x) => x.ip), [scraper]);
      assert.deepEqual((await search('2001:db8::/32')).json().hits, []);
      const rule = await app.inject({ method: 'POST', url: '/api/v1/suppressions', headers: auth('admin'), payload: { type: 'allow', cidr: '::/32' } });
      assert.equal(rule.statusCode, 400, 'an allow rule for every IPv4 client is refused');
    });

    await t.test('rate limit: per token when authenticated, per address otherwise; health and readiness exempt', async () => {
      const clock = manualClock();
      const limited = await buildApp({ store: h.store, logger: pino({ level: 'silent' }), clock, config: DEFAULT_API_CONFIG });
      t.after(() => limited.close());
      const flooder = '198.51.100.50';
      const codes = new Map<number, number>();
      for (let i = 0; i < 700; i++) {
        const res = await limited.inject({ url: '/api/v1/summary', remoteAddress: flooder });
        codes.set(res.statusCode, (codes.get(res.statusCode) ?? 0) + 1);
      }
      assert.deepEqual([...codes].sort(), [
        [401, 600],
        [429, 100],
      ]);
      const refused = await limited.inject({ url: '/api/v1/summary', remoteAddress: flooder });
      assert.equal(refused.json().error.code, 'rate_limited');
      assert.ok(Number(refused.headers['retry-after']) > 0 && Number(refused.headers['retry-after']) <= 60);
      assert.equal((await limited.inject({ url: '/', remoteAddress: flooder })).statusCode, 429, 'the static page counts per address too');
      // The tokens, health and readiness are untouched — from the very same address.
      for (let i = 0; i < 5; i++) {
        assert.equal((await limited.inject({ url: '/api/v1/me', headers: auth('admin'), remoteAddress: flooder })).statusCode, 200);
        assert.equal((await limited.inject({ url: '/healthz', remoteAddress: flooder })).statusCode, 200);
        assert.equal((await limited.inject({ url: '/readyz', remoteAddress: flooder })).statusCode, 200);
      }
      assert.equal((await limited.inject({ url: '/api/v1/summary', remoteAddress: '198.51.100.51' })).statusCode, 401, 'another address has its own budget');

      // One token's budget is its own.
      const viewer: number[] = [];
      for (let i = 0; i < 601; i++) viewer.push((await limited.inject({ url: '/api/v1/me', headers: auth('viewer') })).statusCode);
      assert.deepEqual([viewer.filter((c) => c === 200).length, viewer.at(-1)], [600, 429]);
      assert.equal((await limited.inject({ url: '/api/v1/me', headers: auth('analyst') })).statusCode, 200);
      clock.advance(60_000);
      assert.equal((await limited.inject({ url: '/api/v1/me', headers: auth('viewer') })).statusCode, 200, 'a new window');
      assert.equal((await limited.inject({ url: '/api/v1/summary', remoteAddress: flooder })).statusCode, 401, 'a new window for the address');

      // Unknown tokens count against the address (a token-guessing flood is limited), and an IPv6 host by its /64.
      const small = await buildApp({ store: h.store, logger: pino({ level: 'silent' }), clock, config: { ...DEFAULT_API_CONFIG, rateLimitPerMinute: 5 } });
      t.after(() => small.close());
      const guess = async (i: number, remoteAddress: string) =>
        (await small.inject({ url: '/api/v1/me', headers: { authorization: `Bearer tw_${String(i).padStart(43, 'A')}` }, remoteAddress })).statusCode;
      const guesses: number[] = [];
      for (let i = 0; i < 6; i++) guesses.push(await guess(i, `2001:db8:5:5::${i + 1}`));
      assert.deepEqual(guesses, [401, 401, 401, 401, 401, 429]);
      assert.equal(await guess(99, '2001:db8:5:6::1'), 401, 'another /64');
    });

    await t.test('an audited answer whose audit row cannot be written is withheld: 500 in the normal error format, no data', async () => {
      // The store refuses audit rows (a full disk, a closed connection at shutdown); everything else works.
      const client = new Proxy(h.store.client, {
        get(target, prop, receiver) {
          if (prop === 'command') return (p: { query: string }) => (p.query.includes('audit_log') ? Promise.reject(new Error('ChdbConnection is closed')) : target.command(p as never));
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
      const broken = await buildApp({ store: { ...h.store, client }, logger: pino({ level: 'silent' }), clock: manualClock(), config: DEFAULT_API_CONFIG });
      t.after(() => broken.close());
      const timeline = await broken.inject({ url: `/api/v1/clients/${scraper}/timeline`, headers: auth('analyst') });
      assert.equal(timeline.statusCode, 500);
      assert.equal(timeline.json().error.code, 'internal');
      assert.ok(!timeline.body.includes(scraper), 'nothing of the answer leaves');
      const alert = (await app.inject({ url: '/api/v1/alerts?kind=bulk-harvest', headers: auth('analyst') })).json().items[0] as { id: string };
      const evidence = await broken.inject({ method: 'POST', url: '/api/v1/evidence', headers: auth('analyst'), payload: { alert: alert.id } });
      assert.equal(evidence.statusCode, 500);
      assert.equal(evidence.headers['content-disposition'], undefined, 'no archive');
      assert.equal(evidence.json().error.code, 'internal');
      assert.equal((await broken.inject({ url: '/api/v1/summary', headers: auth('viewer') })).statusCode, 200, 'routes without an audit row still answer');
    });

    await t.test('Cache-Control: no-store on every response of a non-public route, errors and evidence included', async () => {
      const sample = (url: string): string => url.replace(':ip', scraper).replace(':id', 'tw-00000000000000000000');
      let checked = 0;
      for (const r of app.apiRoutes) {
        if (r.access === 'public' || r.method === 'HEAD') continue;
        const method = r.method as 'GET' | 'POST' | 'DELETE';
        for (const headers of [{}, auth('viewer'), auth('admin')]) {
          const res = await app.inject({ method, url: sample(r.url), headers, payload: method === 'POST' ? {} : undefined });
          assert.equal(res.headers['cache-control'], 'no-store', `${r.method} ${r.url} ${res.statusCode}`);
        }
        checked++;
      }
      assert.ok(checked >= 20);
      const alert = (await app.inject({ url: '/api/v1/alerts?kind=bulk-harvest', headers: auth('analyst') })).json().items[0] as { id: string };
      const evidence = await app.inject({ method: 'POST', url: '/api/v1/evidence', headers: auth('analyst'), payload: { alert: alert.id } });
      assert.equal(evidence.statusCode, 200);
      assert.equal(evidence.headers['cache-control'], 'no-store');
      assert.equal((await app.inject({ url: '/api/v1/nothing-here', headers: auth('admin') })).headers['cache-control'], 'no-store');
      assert.equal((await app.inject({ url: '/' })).headers['cache-control'], 'no-cache', 'the static page holds no data');
    });
  });
});

/**
 * The built-in page in Debian's headless Chromium (playwright-core, never a downloaded browser): a
 * fixture store, the API listening on 127.0.0.1:0, a token typed in. The main list is the triage
 * order — incidents, most severe first, with the open incidents per severity on top and filters;
 * an incident opens with its alerts (reasons, evidence lines, the evidence archive) and its most
 * severe alert's client timeline and coverage map. Screenshots go to test-artifacts/.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { chromium, type Page } from 'playwright-core';
import { buildSinks } from '../../services/alerting/buildSinks.ts';
import { alertMessage } from '../../services/alerting/kafkaSink.ts';
import { parseSinksConfig } from '../../services/alerting/sinksConfig.ts';
import { DEFAULT_API_CONFIG } from '../../services/api/apiConfig.ts';
import { startApiServer } from '../../services/api/server.ts';
import { listAudit } from '../../services/incidents/audit.ts';
import { createToken } from '../../services/incidents/tokens.ts';
import { openStore } from '../../services/store/openStore.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { craftTriageStore, replayScenario } from '../support/incidentStore.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

/**
 * The API on `dataDir` with an analyst and a viewer token, and a Chromium page collecting script errors.
 * Chromium resolves `tilewatch.test` and `elsewhere.test` to 127.0.0.1, so the page can be opened under
 * a name that is not loopback and another site can be served from the same machine.
 */
async function openPage(t: TestContext, dataDir: string) {
  const store = await openStore({ kind: 'embedded', dataDir });
  t.after(() => store.close());
  const analyst = await createToken(store, { name: 'web-test', role: 'analyst', createdBy: 'test', now: Date.now() });
  const viewer = await createToken(store, { name: 'web-viewer', role: 'viewer', createdBy: 'test', now: Date.now() });
  const server = await startApiServer({ store, logger: pino({ level: 'silent' }), clock: { now: () => Date.now() }, config: DEFAULT_API_CONFIG }, { host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--host-resolver-rules=MAP tilewatch.test 127.0.0.1, MAP elsewhere.test 127.0.0.1'],
  });
  t.after(() => browser.close());
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true })).newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(`${server.url}/`);
  const signIn = async (token: string) => {
    await page.fill('#token', token);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('#incidents li');
  };
  return { page, analyst, viewer, consoleErrors, signIn, store, server };
}

const re = (text: string): RegExp => new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));

/** The incidents on screen, top to bottom: [data-incident-id, data-severity]. */
async function listed(page: Page): Promise<Array<[string, string]>> {
  return page.$$eval('#incidents > li', (lis) => lis.map((li) => [li.getAttribute('data-incident-id') ?? '', li.getAttribute('data-severity') ?? ''] as [string, string]));
}

async function counts(page: Page): Promise<Record<string, string>> {
  return page.$$eval('#severity-counts button', (bs) => Object.fromEntries(bs.map((b) => [b.getAttribute('data-severity') ?? '', b.querySelector('.count')?.textContent ?? ''])));
}

test('web page: an incident with its alerts, timeline, coverage map and evidence; viewers without IPs', async (t) => {
  const fx = await replayScenario(t);
  const { page, analyst, viewer, consoleErrors, signIn } = await openPage(t, fx.dataDir);
  const scraper = re(fx.scenario.scraperIp);

  assert.equal(await page.locator('#incidents li').count(), 0, 'nothing is shown before a token is given');
  await signIn(analyst.token);
  assert.match((await page.textContent('#whoami')) ?? '', /web-test \(analyst\)/);
  assert.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('tilewatch.token')), analyst.token, 'the token is kept in sessionStorage');
  const incident = page.locator('#incidents > li', { hasText: 'bulk-harvest' });
  assert.equal(await incident.count(), 1, 'the scraper is one incident');
  assert.match((await incident.textContent()) ?? '', scraper, 'analysts see the accused address');
  assert.equal((await counts(page)).critical, '1');
  await page.screenshot({ path: join(ARTIFACTS, 'web-incidents.png'), fullPage: true });

  await incident.click();
  await page.waitForSelector('#coverage-map svg rect.cell');
  assert.match((await page.textContent('#incident-title')) ?? '', /^Incident ti-[0-9a-f]+ · critical · open/);
  const member = page.locator('#incident-alerts > li', { hasText: 'bulk-harvest' });
  assert.match((await member.textContent()) ?? '', /raster order/, 'the alert shows its reasons');
  assert.match((await member.locator('.evidence').textContent()) ?? '', new RegExp(`evidence: ${re(fx.logPath).source} lines \\d+–\\d+`));
  assert.match((await page.textContent('#detail-title')) ?? '', /bulk-harvest/, 'the most severe alert is open');
  assert.match((await page.textContent('#timeline-caption')) ?? '', new RegExp(`${fx.scenario.scraperTiles} requests, 3 images`));
  assert.ok((await page.locator('#timeline-chart svg rect').count()) > 5, 'timeline bars');
  assert.equal(await page.locator('#coverage-map svg rect.cell').count(), 23 * 16, 'every full-resolution cell of the first image');
  assert.match((await page.textContent('#exposure-clients')) ?? '', new RegExp(`${scraper.source}.*6000`));
  await page.screenshot({ path: join(ARTIFACTS, 'web-incident-coverage.png'), fullPage: true });

  // The evidence archive of the alert, downloaded with the token.
  const [download] = await Promise.all([page.waitForEvent('download'), member.locator('button.export').click()]);
  assert.match(download.suggestedFilename(), /^tilewatch-evidence-tw-[0-9a-f]+\.tar$/);
  const archive = readFileSync((await download.path())!);
  assert.ok(archive.includes(Buffer.from('manifest.json')), 'a tar with its manifest');

  // Another image tab of the same alert.
  await page.click(`#exposure-tabs button:has-text("${fx.scenario.imageIds[1]}")`);
  await page.locator('#exposure-caption', { hasText: `${fx.scenario.imageIds[1]} (6000×4000)` }).waitFor();

  // A viewer sees the incidents and alerts, without IPs, actions, evidence or the analyst panes.
  await page.click('#forget');
  await signIn(viewer.token);
  assert.doesNotMatch((await page.textContent('#incidents')) ?? '', scraper);
  await page.locator('#incidents > li', { hasText: 'bulk-harvest' }).click();
  await page.locator('#detail-title', { hasText: 'bulk-harvest' }).waitFor();
  assert.equal(await page.isVisible('#detail'), true);
  assert.ok((await page.locator('#detail-reasons li', { hasText: 'steady' }).textContent())?.includes('gap median'), 'reasons are listed whole for viewers too');
  assert.equal(await page.isVisible('#timeline-box'), false);
  assert.equal(await page.locator('#incident-actions button, #alert-actions button').count(), 0, 'no triage buttons for viewers');
  assert.equal(await page.locator('#incident-alerts button.export').count(), 0);
  assert.equal(await page.locator('#incident-alerts .evidence').count(), 0, 'no evidence lineage for viewers');
  assert.doesNotMatch((await page.textContent('#detail')) ?? '', scraper);
  await page.screenshot({ path: join(ARTIFACTS, 'web-viewer.png'), fullPage: true });
  assert.deepEqual(consoleErrors, [], 'no script errors or CSP violations');
});

test('web page: triage order — the critical incident first, counts per severity, filters, resolving', async (t) => {
  const st = await craftTriageStore(t);
  const { page, analyst, consoleErrors, signIn } = await openPage(t, st.dataDir);
  await signIn(analyst.token);
  const inc = st.incidents;

  assert.deepEqual(await listed(page), [[inc.critical, 'critical'], [inc.high, 'high'], [inc.low, 'low'], [inc.olderLow, 'low']], 'open incidents, most severe first, then the newest');
  const top = await page.locator(`#incidents > li[data-incident-id="${inc.critical}"]`).boundingBox();
  const lowBox = await page.locator(`#incidents > li[data-incident-id="${inc.low}"]`).boundingBox();
  assert.ok(top && lowBox && top.y < lowBox.y, 'the critical incident is above the newer, low image-exposure one on screen');
  assert.deepEqual(await counts(page), { critical: '1', high: '1', medium: '0', low: '2' });
  await page.screenshot({ path: join(ARTIFACTS, 'web-triage.png'), fullPage: true });

  const waitFor = async (expected: string[]) => {
    await page.waitForFunction((ids) => {
      // Runs in the page (this file is type-checked without the DOM library).
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> } }).document;
      return Array.from(doc.querySelectorAll('#incidents > li'), (li) => li.getAttribute('data-incident-id')).join() === ids.join();
    }, expected);
  };
  await page.selectOption('#filter-kind', 'image-exposure');
  await waitFor([inc.low]);
  await page.selectOption('#filter-kind', '');
  await page.selectOption('#filter-status', 'resolved');
  await waitFor([inc.medium]);
  await page.click('#severity-counts button[data-severity="low"]');
  await waitFor([inc.low, inc.olderLow]);
  assert.equal(await page.inputValue('#filter-status'), 'open');
  await page.selectOption('#filter-severity', '');
  await waitFor([inc.critical, inc.high, inc.low, inc.olderLow]);

  await page.locator(`#incidents > li[data-incident-id="${inc.critical}"]`).click();
  await page.locator('#incident-title', { hasText: inc.critical }).waitFor();
  assert.deepEqual(await page.$$eval('#incident-alerts > li', (lis) => lis.map((li) => li.getAttribute('data-alert-id'))), [st.alerts.critical.id, st.alerts.campaign.id]);
  assert.match((await page.textContent('#incident-facts')) ?? '', re(`${st.scripted[0]}, ${st.scripted[1]}`));
  await page.locator('#detail-title', { hasText: 'bulk-harvest · critical' }).waitFor();

  await page.click('#incident-actions button[data-action="resolve"]');
  await waitFor([inc.high, inc.low, inc.olderLow]);
  assert.deepEqual(await counts(page), { critical: '0', high: '1', medium: '0', low: '2' });
  await page.locator('#incident-title', { hasText: `${inc.critical} · critical · resolved` }).waitFor();
  assert.deepEqual(consoleErrors, [], 'no script errors or CSP violations');
});

test('web page: a notification link (?incident=…) opens that incident once signed in', async (t) => {
  const st = await craftTriageStore(t);
  const { page, analyst, signIn } = await openPage(t, st.dataDir);
  await signIn(analyst.token);
  // The token stays in sessionStorage; Alertmanager's generatorURL and webhook links carry ?incident=<id>.
  await page.goto(`${new URL(page.url()).origin}/?incident=${st.incidents.high}`);
  await page.locator('#incident-title', { hasText: st.incidents.high }).waitFor();
  assert.equal(await page.locator(`#incidents > li.selected[data-incident-id="${st.incidents.high}"]`).count(), 1, 'selected in the list too');
  await page.goto(`${new URL(page.url()).origin}/?incident=not-an-id`);
  await page.waitForSelector('#incidents li');
  assert.equal(await page.isHidden('#incident-box'), true, 'a malformed id opens nothing');
});

/** GET or POST on the API from this process (not the browser). */
async function call(base: string, path: string, opts: { token?: string; method?: string; body?: string; type?: string; origin?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.type) headers['content-type'] = opts.type;
  if (opts.origin) headers.origin = opts.origin;
  const res = await fetch(`${base}${path}`, { method: opts.method ?? 'GET', headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers, read field by field in the assertions
  return { status: res.status, headers: res.headers, json: (text.startsWith('{') ? JSON.parse(text) : null) as Record<string, any> | null };
}

test('web page: acknowledge, mute with an expiry, resolve and reopen an alert and an incident; audited; viewers get no buttons and a 403', async (t) => {
  const st = await craftTriageStore(t);
  const { page, analyst, viewer, consoleErrors, signIn, store, server } = await openPage(t, st.dataDir);
  await signIn(analyst.token);
  const alertStatus = async (id: string) => (await call(server.url, `/api/v1/alerts/${id}`, { token: analyst.token })).json!.alert as { status: string; mutedUntil: string | null };
  const shownStatus = (text: string) => page.locator('#detail-facts dd[data-fact="status"]', { hasText: text }).waitFor();

  // One alert: the incident `high` holds only the bulk-harvest of 203.0.113.9.
  const one = st.alerts.high.id;
  await page.locator(`#incidents > li[data-incident-id="${st.incidents.high}"]`).click();
  await page.locator('#detail-title', { hasText: 'bulk-harvest · high' }).waitFor();
  const bar = page.locator('#alert-actions .triage');
  assert.deepEqual(await bar.locator('button').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action'))), ['ack', 'mute', 'resolve', 'reopen']);
  await page.screenshot({ path: join(ARTIFACTS, 'web-triage-alert.png'), fullPage: true });

  await bar.locator('input.note').fill('looking into it');
  await bar.locator('button[data-action="ack"]').click();
  await shownStatus('acknowledged');
  assert.equal((await alertStatus(one)).status, 'acknowledged');
  await page.locator('#detail-history li[data-action="acknowledge"]', { hasText: 'looking into it' }).waitFor();
  assert.match((await page.locator(`#incident-alerts > li[data-alert-id="${one}"]`).textContent()) ?? '', /acknowledged/, 'the incident pane shows the new status');

  const before = Date.now();
  await page.locator('#alert-actions .triage select.mute-for').selectOption('24h');
  await page.locator('#alert-actions .triage button[data-action="mute"]').click();
  await shownStatus('muted until');
  const muted = await alertStatus(one);
  assert.equal(muted.status, 'muted');
  const until = Date.parse(muted.mutedUntil ?? '');
  assert.ok(until >= before + 86_400_000 - 1000 && until <= Date.now() + 86_400_000 + 1000, `muted for 24 h (until ${muted.mutedUntil})`);
  assert.match((await page.textContent('#detail-facts dd[data-fact="status"]')) ?? '', new RegExp(`muted until ${muted.mutedUntil!.slice(0, 16).replace('T', ' ')}`));

  await page.locator('#alert-actions .triage button[data-action="resolve"]').click();
  await shownStatus('resolved');
  assert.equal((await alertStatus(one)).status, 'resolved');
  await page.locator('#alert-actions .triage button[data-action="reopen"]').click();
  await page.locator('#detail-history li[data-action="reopen"]').waitFor();
  await shownStatus('open');
  assert.equal((await alertStatus(one)).status, 'open');

  // A whole incident: `critical` holds the critical bulk-harvest and the campaign.
  const both = [st.alerts.critical.id, st.alerts.campaign.id];
  await page.locator(`#incidents > li[data-incident-id="${st.incidents.critical}"]`).click();
  await page.locator('#incident-title', { hasText: st.incidents.critical }).waitFor();
  const incBar = page.locator('#incident-actions .triage');
  assert.deepEqual(await incBar.locator('button').allTextContents(), ['Acknowledge all', 'Mute all', 'Resolve all', 'Reopen all']);
  await incBar.locator('select.mute-for').selectOption('1h');
  await incBar.locator('button[data-action="mute"]').click();
  await page.locator('#incident-facts', { hasText: '0 open, 0 acknowledged, 2 muted' }).waitFor();
  for (const id of both) {
    const a = await alertStatus(id);
    assert.equal(a.status, 'muted', id);
    assert.ok(Math.abs(Date.parse(a.mutedUntil ?? '') - (Date.now() + 3_600_000)) < 60_000, `${id} muted for an hour`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'web-triage-incident.png'), fullPage: true });
  await page.click('#incident-actions .triage button[data-action="ack"]');
  await page.locator('#incident-facts', { hasText: '0 open, 2 acknowledged' }).waitFor();
  await page.click('#incident-actions .triage button[data-action="resolve"]');
  await page.locator('#incident-title', { hasText: `${st.incidents.critical} · critical · resolved` }).waitFor();
  assert.equal(await page.locator(`#incidents > li[data-incident-id="${st.incidents.critical}"]`).count(), 0, 'gone from the open incidents');
  await page.click('#incident-actions .triage button[data-action="reopen"]');
  await page.locator('#incident-title', { hasText: `${st.incidents.critical} · critical · open` }).waitFor();
  await page.locator(`#incidents > li[data-incident-id="${st.incidents.critical}"]`).waitFor();
  for (const id of both) assert.equal((await alertStatus(id)).status, 'open');

  // Every action is on record with the page's token as actor.
  const audit = (await listAudit(store, { limit: 100 })).filter((r) => r.actor.startsWith('web-test ') && r.action.includes('.'));
  assert.deepEqual(
    audit.map((r) => `${r.action} ${r.target} ${r.status}`).reverse(),
    [
      ...['ack', 'mute', 'resolve', 'reopen'].map((a) => `alert.${a} ${one} 200`),
      ...['mute', 'ack', 'resolve', 'reopen'].map((a) => `incident.${a} ${st.incidents.critical} 200`),
    ],
  );
  assert.match(audit.find((r) => r.action === 'alert.ack')!.params, /looking into it/);
  // (203.0.113.9 has no stored requests: its timeline answers 404, which the console reports.)
  assert.deepEqual(consoleErrors.filter((e) => !/status of 404/.test(e)), [], 'no script errors or CSP violations');

  // A viewer sees no buttons; a request forged with its token is refused (403) and audited, and changes nothing.
  await page.click('#forget');
  await signIn(viewer.token);
  await page.locator(`#incidents > li[data-incident-id="${st.incidents.high}"]`).click();
  await page.locator('#detail-title', { hasText: 'bulk-harvest · high' }).waitFor();
  assert.equal(await page.locator('#incident-actions button, #alert-actions button, .triage').count(), 0, 'no triage controls for a viewer');
  const forged = await page.evaluate(async ([id, tok]) => {
    const res = await fetch(`/api/v1/alerts/${id}/resolve`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' } });
    return res.status;
  }, [one, viewer.token] as const);
  assert.equal(forged, 403);
  assert.equal((await alertStatus(one)).status, 'open');
  const refused = (await listAudit(store, { limit: 5 })).find((r) => r.actor.startsWith('web-viewer '));
  assert.equal(`${refused?.action} ${refused?.target} ${refused?.status}`, `alert.resolve ${one} 403`);
});

test('web page: actions cannot be forged from another site (bearer token in a header, no cookie); the CSP does not upgrade plain-HTTP requests', async (t) => {
  const st = await craftTriageStore(t);
  const { page, analyst, signIn, server } = await openPage(t, st.dataDir);
  const target = st.alerts.high.id;
  const port = new URL(server.url).port;

  // Opened under a name that is not loopback (as on a LAN host): the page's script and styles load
  // over plain HTTP, which they would not if the CSP told the browser to upgrade insecure requests.
  await page.goto(`http://tilewatch.test:${port}/`);
  await signIn(analyst.token);
  const csp = (await call(server.url, '/')).headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.doesNotMatch(csp, /upgrade-insecure-requests/);
  assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie), '', 'the page keeps no cookie');

  // Another site, in the same browser as the signed-in analyst, posts forms and a no-cors fetch to the action routes.
  const api = `http://tilewatch.test:${port}`;
  const evil = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><body>
<iframe name="a"></iframe><iframe name="b"></iframe>
<form id="f1" method="POST" target="a" enctype="text/plain" action="${api}/api/v1/alerts/${target}/resolve"><input name='{"note":"csrf","x":"' value='"}'></form>
<form id="f2" method="POST" target="b" action="${api}/api/v1/incidents/${st.incidents.high}/mute"><input name="until" value="2099-01-01T00:00:00Z"></form>
<script>
document.getElementById('f1').submit();
document.getElementById('f2').submit();
fetch('${api}/api/v1/alerts/${target}/ack', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{}' }).then(() => { document.title = 'sent'; }, () => { document.title = 'sent'; });
</script></body>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => evil.close(() => resolve())));
  const evilPort = (evil.address() as AddressInfo).port;
  const attacker = await page.context().newPage();
  // What the server answered, seen on its socket (the browser hides the answers from the other site:
  // helmet's Cross-Origin-Resource-Policy and frame-ancestors block them, so Playwright sees no response for some).
  const seen: Array<{ url: string; status: number; cookie: string | null; acao: string | null }> = [];
  server.app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.on('finish', () => {
      if (req.method === 'POST') seen.push({ url: req.url ?? '', status: res.statusCode, cookie: String(res.getHeader('set-cookie') ?? '') || null, acao: String(res.getHeader('access-control-allow-origin') ?? '') || null });
    });
  });
  await attacker.goto(`http://elsewhere.test:${evilPort}/`);
  await attacker.waitForFunction(() => (globalThis as unknown as { document: { title: string } }).document.title === 'sent');
  const deadline = Date.now() + 10_000;
  while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(seen.map((s) => [s.url, s.status]).sort(), [
    [`/api/v1/alerts/${target}/ack`, 401],
    [`/api/v1/alerts/${target}/resolve`, 401],
    [`/api/v1/incidents/${st.incidents.high}/mute`, 401],
  ], 'each forged request reached the server and was refused: nothing the browser adds by itself authenticates');
  assert.ok(seen.every((s) => s.cookie === null && s.acao === null), 'no cookie set, no cross-origin reads allowed');
  await attacker.close();

  const status = async () => (await call(server.url, `/api/v1/alerts/${target}`, { token: analyst.token })).json!.alert.status as string;
  assert.equal(await status(), 'open', 'nothing changed');

  // Even with a valid token, an action takes only a JSON body: what a form can send is refused.
  const resolve = `/api/v1/alerts/${target}/resolve`;
  assert.equal((await call(server.url, resolve, { token: analyst.token, method: 'POST', type: 'application/x-www-form-urlencoded', body: 'note=x' })).status, 415);
  assert.equal((await call(server.url, resolve, { token: analyst.token, method: 'POST', type: 'text/plain', body: '{"note":"x"}' })).status, 400);
  assert.equal((await call(server.url, resolve, { token: analyst.token, method: 'POST', type: 'multipart/form-data; boundary=x', body: '--x--' })).status, 415);
  assert.equal(await status(), 'open');
  // No CORS: a preflight from another origin is not granted.
  const pre = await call(server.url, resolve, { method: 'OPTIONS', origin: `http://elsewhere.test:${evilPort}` });
  assert.equal(pre.headers.get('access-control-allow-origin'), null);
});

test('web page: the links that webhook (JSON, Slack, ECS), Alertmanager and Kafka notices carry open the incident with its triage buttons', async (t) => {
  const st = await craftTriageStore(t);
  const { page, analyst, signIn, server } = await openPage(t, st.dataDir);
  // A receiver for the webhooks and Alertmanager, on loopback.
  const received: Array<{ path: string; body: string }> = [];
  const rx = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => rx.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => rx.close(() => resolve())));
  const rxUrl = `http://127.0.0.1:${(rx.address() as AddressInfo).port}`;

  const webUrl = `${server.url}/`;
  const cfg = parseSinksConfig(
    {
      webUrl,
      webhooks: [
        { url: `${rxUrl}/json`, secretEnv: 'TW_HOOK_SECRET' },
        { name: 'slack', url: `${rxUrl}/slack`, secretEnv: 'TW_HOOK_SECRET', format: 'slack' },
        { name: 'siem', url: `${rxUrl}/ecs`, secretEnv: 'TW_HOOK_SECRET', format: 'ecs' },
      ],
      alertmanager: { urls: [rxUrl] },
    },
    { TW_HOOK_SECRET: 'a-webhook-secret' },
  );
  const sinks = buildSinks(cfg, { logger: pino({ level: 'silent' }) });
  sinks.push(st.alerts.critical);
  assert.deepEqual(await sinks.drain(10_000), { drained: true, left: 0, leftBySink: {} });
  const body = (path: string) => received.find((r) => r.path === path)?.body ?? assert.fail(`nothing POSTed to ${path}: ${JSON.stringify(received.map((r) => r.path))}`);
  const expected = `${server.url}/?incident=${st.incidents.critical}`;
  const links: Array<[string, string]> = [
    ['webhook json incident.url', (JSON.parse(body('/json')) as { incident: { url: string } }).incident.url],
    ['webhook slack text', /<([^|>]+)\|Open incident/.exec((JSON.parse(body('/slack')) as { text: string }).text)?.[1] ?? ''],
    ['webhook ecs event.url', (JSON.parse(body('/ecs')) as { event: { url: string } }).event.url],
    ['alertmanager generatorURL', (JSON.parse(body('/api/v2/alerts')) as Array<{ generatorURL: string }>)[0]!.generatorURL],
    ['kafka incident-url header', String(alertMessage(st.alerts.critical, { webUrl }).headers?.['incident-url'])],
    ['kafka incident.url', (JSON.parse(String(alertMessage(st.alerts.critical, { webUrl }).value)) as { incident: { url: string } }).incident.url],
  ];
  for (const [where, link] of links) assert.equal(link, expected, where);

  // Each link, followed in the signed-in tab, opens that incident with its alerts and the triage buttons.
  await signIn(analyst.token);
  for (const [where, link] of links.slice(0, 4)) {
    await page.goto(link);
    await page.locator('#incident-title', { hasText: st.incidents.critical }).waitFor();
    await page.locator('#detail-title', { hasText: 'bulk-harvest · critical' }).waitFor();
    assert.deepEqual(await page.locator('#incident-actions .triage button').evaluateAll((bs) => bs.map((b) => b.getAttribute('data-action'))), ['ack', 'mute', 'resolve', 'reopen'], where);
    assert.equal(await page.locator('#alert-actions .triage button').count(), 4, where);
  }
  // The link works: acknowledging from it reaches the API.
  await page.click('#incident-actions .triage button[data-action="ack"]');
  await page.locator('#incident-facts', { hasText: '0 open, 2 acknowledged' }).waitFor();
  // A link naming an alert (tw-…) opens its incident with that alert, not the most severe one.
  await page.goto(`${server.url}/?incident=${st.alerts.campaign.id}`);
  await page.locator('#incident-title', { hasText: st.incidents.critical }).waitFor();
  await page.locator('#detail-title', { hasText: 'campaign · high' }).waitFor();
  await page.click('#alert-actions .triage button[data-action="reopen"]');
  await page.locator('#detail-facts dd[data-fact="status"]', { hasText: 'open' }).waitFor();
  assert.equal((await call(server.url, `/api/v1/alerts/${st.alerts.campaign.id}`, { token: analyst.token })).json!.alert.status, 'open');
  assert.equal((await call(server.url, `/api/v1/alerts/${st.alerts.critical.id}`, { token: analyst.token })).json!.alert.status, 'acknowledged');
});

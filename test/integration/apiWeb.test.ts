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
import { join } from 'node:path';
import pino from 'pino';
import { chromium, type Page } from 'playwright-core';
import { DEFAULT_API_CONFIG } from '../../services/api/apiConfig.ts';
import { startApiServer } from '../../services/api/server.ts';
import { createToken } from '../../services/incidents/tokens.ts';
import { openStore } from '../../services/store/openStore.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { craftTriageStore, replayScenario } from '../support/incidentStore.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

/** The API on `dataDir` with an analyst and a viewer token, and a Chromium page collecting script errors. */
async function openPage(t: TestContext, dataDir: string) {
  const store = await openStore({ kind: 'embedded', dataDir });
  t.after(() => store.close());
  const analyst = await createToken(store, { name: 'web-test', role: 'analyst', createdBy: 'test', now: Date.now() });
  const viewer = await createToken(store, { name: 'web-viewer', role: 'viewer', createdBy: 'test', now: Date.now() });
  const server = await startApiServer({ store, logger: pino({ level: 'silent' }), clock: { now: () => Date.now() }, config: DEFAULT_API_CONFIG }, { host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
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
  return { page, analyst, viewer, consoleErrors, signIn };
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
  assert.equal(await page.isVisible('#incident-actions'), false);
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

/**
 * The built-in page in Debian's headless Chromium (playwright-core, never a downloaded browser): a
 * fixture store, the API listening on 127.0.0.1:0, a token typed in, the open alerts listed with
 * their reasons, an alert opened, its client timeline and the image's coverage map shown.
 * Screenshots go to test-artifacts/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { DEFAULT_API_CONFIG } from '../../services/api/apiConfig.ts';
import { startApiServer } from '../../services/api/server.ts';
import { createToken } from '../../services/incidents/tokens.ts';
import { openStore } from '../../services/store/openStore.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { replayScenario } from '../support/incidentStore.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

test('web page: open alerts, an alert with its timeline and coverage map', async (t) => {
  const fx = await replayScenario(t);
  const store = await openStore({ kind: 'embedded', dataDir: fx.dataDir });
  t.after(() => store.close());
  const analyst = await createToken(store, { name: 'web-test', role: 'analyst', createdBy: 'test', now: Date.now() });
  const viewer = await createToken(store, { name: 'web-viewer', role: 'viewer', createdBy: 'test', now: Date.now() });
  const server = await startApiServer({ store, logger: pino({ level: 'silent' }), clock: { now: () => Date.now() }, config: DEFAULT_API_CONFIG }, { host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  mkdirSync(ARTIFACTS, { recursive: true });

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  await page.goto(`${server.url}/`);
  assert.equal(await page.locator('#alerts li').count(), 0, 'nothing is shown before a token is given');
  await page.fill('#token', analyst.token);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#alerts li');
  assert.match(await page.textContent('#whoami') ?? '', /web-test \(analyst\)/);
  assert.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('tilewatch.token')), analyst.token, 'the token is kept in sessionStorage');
  const items = page.locator('#alerts li');
  const n = await items.count();
  assert.ok(n >= 1);
  const harvest = page.locator('#alerts li', { hasText: 'bulk-harvest' });
  assert.equal(await harvest.count(), 1);
  assert.match((await harvest.textContent()) ?? '', /raster order/, 'the alert shows its reasons');
  assert.match((await harvest.textContent()) ?? '', new RegExp(fx.scenario.scraperIp.replace(/\./g, '\\.')));
  await page.screenshot({ path: join(ARTIFACTS, 'web-alerts.png'), fullPage: true });

  await harvest.click();
  await page.waitForSelector('#coverage-map svg rect.cell');
  assert.match((await page.textContent('#detail-title')) ?? '', /bulk-harvest/);
  assert.match((await page.textContent('#timeline-caption')) ?? '', new RegExp(`${fx.scenario.scraperTiles} requests, 3 images`));
  assert.ok((await page.locator('#timeline-chart svg rect').count()) > 5, 'timeline bars');
  assert.equal(await page.locator('#coverage-map svg rect.cell').count(), 23 * 16, 'every full-resolution cell of the first image');
  assert.match((await page.textContent('#exposure-clients')) ?? '', new RegExp(`${fx.scenario.scraperIp.replace(/\./g, '\\.')}.*6000`));
  await page.screenshot({ path: join(ARTIFACTS, 'web-alert-coverage.png'), fullPage: true });

  // Another image tab of the same alert.
  await page.click(`#exposure-tabs button:has-text("${fx.scenario.imageIds[1]}")`);
  await page.locator('#exposure-caption', { hasText: `${fx.scenario.imageIds[1]} (6000×4000)` }).waitFor();

  // A viewer sees the alerts, without IPs and without the analyst panes.
  await page.click('#forget');
  await page.fill('#token', viewer.token);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#alerts li');
  assert.doesNotMatch((await page.textContent('#alerts')) ?? '', new RegExp(fx.scenario.scraperIp.replace(/\./g, '\\.')));
  await page.locator('#alerts li', { hasText: 'bulk-harvest' }).click();
  await page.locator('#detail-title', { hasText: 'bulk-harvest' }).waitFor();
  assert.equal(await page.isVisible('#detail'), true);
  assert.ok((await page.locator('#detail-reasons li', { hasText: 'steady' }).textContent())?.includes('gap median'), 'reasons are listed whole for viewers too');
  assert.equal(await page.isVisible('#timeline-box'), false);
  assert.doesNotMatch((await page.textContent('#detail')) ?? '', new RegExp(fx.scenario.scraperIp.replace(/\./g, '\\.')));
  await page.screenshot({ path: join(ARTIFACTS, 'web-viewer.png'), fullPage: true });
  assert.deepEqual(consoleErrors, [], 'no script errors or CSP violations');
});

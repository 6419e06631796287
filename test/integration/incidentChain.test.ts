/**
 * The incident model end to end, every stage the real one: a simulated six hours (a museum-pattern
 * scraper, a campaign sweeping slices from one /24, another whose 18 members each sweep whole images,
 * a campus NAT crowd and ordinary visitors) replayed by the CLI with the hunts on and a webhook sink
 * configured; the webhook received by a loopback HTTP server that verifies every signature; the same
 * store served by the API and shown by the web page in Debian's Chromium.
 *
 * What must hold: one incident per actor (a campaign and its members' per-address alerts together),
 * nobody benign in any alert, one page per incident (versions that only update do not reach the sink,
 * and the sink receives exactly the versions that carry a notice), the API listing those incidents most
 * severe first with every member address, every alert id leading to its incident, and the web page
 * showing the same order.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { DEFAULT_API_CONFIG } from '../../services/api/apiConfig.ts';
import { startApiServer } from '../../services/api/server.ts';
import type { Alert } from '../../services/core/alert.ts';
import { createToken } from '../../services/incidents/tokens.ts';
import { createSimulation, RANGES } from '../../services/sim/index.ts';
import { openStore } from '../../services/store/openStore.ts';
import { runCliOk, tempDir } from '../support/cli.ts';
import { verifiedReceiver } from '../support/webhookReceiver.ts';

const SECRET_ENV = 'TW_TEST_CHAIN_WEBHOOK_SECRET';
const SECRET = 'whsec-chain-0123456789';
const SEVERITY_RANK: Readonly<Record<string, number>> = { critical: 4, high: 3, medium: 2, low: 1 };

interface ListedIncident {
  id: string;
  severity: string;
  kinds: string[];
  addresses?: string[];
  alerts: Array<{ id: string }>;
}

test('incidents end to end: replay with hunts → incidents → webhook → API → web page', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t, 'incident-chain');
  const sim = createSimulation({
    seed: 'incident-chain',
    hours: 6,
    humansPerPeakHour: 12,
    threats: { 'raster-1s': 1, 'parallel-fast': 0, jittered: 0, 'shuffled-browser': 0, 'distributed-subnet': 2, 'distributed-unrelated': 0, 'low-and-slow': 0, 'half-resolution': 0, 'human-mimic': 0, 'full-download': 0 },
    hardBenign: { 'campus-nat': 1, 'office-nat': 0, 'classroom-nat': 0, cgnat: 0, 'corporate-proxy': 0, 'deep-researcher': 0, enthusiast: 0, 'mobile-rotating': 0 },
  });
  const logPath = join(dir, 'access.log');
  writeFileSync(logPath, [...sim.lines()].join('\n') + '\n');
  const labels = sim.labels();
  const threats = labels.filter((l) => l.class === 'threat');
  assert.deepEqual(threats.map((l) => l.kind).sort(), ['distributed-subnet', 'distributed-subnet', 'raster-1s']);

  const hook = await verifiedReceiver(t, SECRET);
  const config = join(dir, 'tilewatch.json');
  writeFileSync(config, JSON.stringify({ sinks: { webhooks: [{ url: hook.url, secretEnv: SECRET_ENV }] } }));
  process.env[SECRET_ENV] = SECRET; // the CLI child inherits it
  t.after(() => delete process.env[SECRET_ENV]);

  const dataDir = join(dir, 'data');
  const outPath = join(dir, 'alerts.jsonl');
  const run = await runCliOk(['replay', logPath, '--data', dataDir, '--allow-cidr', RANGES.internalStaff, '--config', config, '--alerts-out', outPath, '--quiet'], { timeoutMs: 240_000 });
  assert.match(run.stdout, /hunts +\d+ event-time windows/, 'the hunts ran');
  const lines = readFileSync(outPath, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Alert);

  // ---- incidents: one per actor, nobody benign ----
  const latest = new Map<string, Alert>();
  for (const a of lines) latest.set(a.id, a);
  const named = (a: Alert): string[] => [a.client.ip, ...a.client.ips];
  const benignIps = new Set(labels.filter((l) => l.class === 'benign').flatMap((l) => l.ips));
  assert.deepEqual(lines.flatMap(named).filter((ip) => benignIps.has(ip)), [], 'no benign address in any alert');
  const incidentOfActor = new Map<string, Set<string>>();
  for (const actor of threats) {
    const ips = new Set(actor.ips);
    const its = [...latest.values()].filter((a) => named(a).some((ip) => ips.has(ip)));
    assert.ok(its.length > 0, `${actor.actor} is alerted`);
    incidentOfActor.set(actor.actor, new Set(its.map((a) => a.incident!.id)));
  }
  for (const [actor, ids] of incidentOfActor) assert.equal(ids.size, 1, `${actor}: its alerts end in one incident (${[...ids].join(', ')})`);
  const perActor = [...incidentOfActor.values()].map((s) => [...s][0]!);
  assert.equal(new Set(perActor).size, threats.length, 'different actors are different incidents');
  const members = threats.find((l) => l.kind === 'distributed-subnet' && l.perIpDetectable)!;
  const membersIncident = [...incidentOfActor.get(members.actor)!][0]!;
  const memberAlerts = [...latest.values()].filter((a) => a.incident!.id === membersIncident);
  assert.ok(memberAlerts.length >= members.ips.length / 2, `the members' per-address alerts (${memberAlerts.length}) are in the one incident`);

  // ---- what reached the sink: exactly the versions carrying a notice, one page per incident ----
  const noticed = lines.filter((a) => a.incident?.notice !== undefined);
  assert.deepEqual(hook.refused, [], 'every delivery verified');
  assert.deepEqual(
    hook.accepted.map((a) => `${a.id}@${a.version}`).sort(),
    noticed.map((a) => `${a.id}@${a.version}`).sort(),
    'the webhook received the noticed versions, and nothing else',
  );
  assert.ok(lines.length > 3 * noticed.length, `updates are stored but do not page (${lines.length} versions, ${noticed.length} notices)`);
  const pages = new Map<string, number>();
  for (const a of noticed) if (a.incident!.notice !== 'resolved') pages.set(a.incident!.id, (pages.get(a.incident!.id) ?? 0) + 1);
  for (const id of perActor) assert.ok((pages.get(id) ?? 0) >= 1 && (pages.get(id) ?? 0) <= 2, `${id}: announced, and paged again at most once when urgent (${pages.get(id) ?? 0})`);

  // ---- the API on the same store ----
  const store = await openStore({ kind: 'embedded', dataDir });
  t.after(() => store.close());
  const analyst = await createToken(store, { name: 'chain', role: 'analyst', createdBy: 'test', now: Date.now() });
  const api = await startApiServer({ store, logger: pino({ level: 'silent' }), clock: { now: () => Date.now() }, config: DEFAULT_API_CONFIG }, { host: '127.0.0.1', port: 0 });
  t.after(() => api.close());
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${analyst.token}` } });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const listing = await get<{ items: ListedIncident[]; counts: Record<string, number> }>('/api/v1/incidents?limit=100');
  assert.deepEqual(listing.items.map((i) => i.id).sort(), [...new Set([...latest.values()].map((a) => a.incident!.id))].sort(), 'the API lists the incidents the replay wrote');
  const ranks = listing.items.map((i) => SEVERITY_RANK[i.severity] ?? 0);
  assert.deepEqual(ranks, [...ranks].sort((a, b) => b - a), 'most severe first');
  const listedMembers = listing.items.find((i) => i.id === membersIncident)!;
  for (const ip of memberAlerts.map((a) => a.client.ip)) assert.ok(listedMembers.addresses?.includes(ip), `${ip} is named by its incident`);
  // Every alert id, old or new, leads to its incident.
  for (const a of memberAlerts) {
    const one = await get<{ alert: { incidentId: string } }>(`/api/v1/alerts/${a.id}`);
    assert.equal(one.alert.incidentId, membersIncident, `${a.id} leads to its incident`);
    const via = await get<{ incident: { id: string } }>(`/api/v1/incidents/${a.id}`);
    assert.equal(via.incident.id, membersIncident, `/incidents/${a.id} opens its incident`);
  }
  const detail = await get<{ incident: { id: string }; alerts: Array<{ alert: { id: string } }> }>(`/api/v1/incidents/${membersIncident}`);
  assert.deepEqual(detail.alerts.map((a) => a.alert.id).sort(), memberAlerts.map((a) => a.id).sort());

  // ---- the web page shows the same order ----
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${api.url}/`);
  await page.fill('#token', analyst.token);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#incidents li');
  const onScreen = await page.$$eval('#incidents > li', (lis) => lis.map((li) => li.getAttribute('data-incident-id') ?? ''));
  const open = await get<{ items: ListedIncident[] }>('/api/v1/incidents?status=open&limit=100');
  assert.deepEqual(onScreen, open.items.map((i) => i.id).slice(0, onScreen.length), 'the page lists the open incidents in the API\'s order');
  assert.ok(onScreen.length > 0, 'open incidents are listed');
  const top = onScreen[0]!;
  const topDetail = await get<{ alerts: Array<{ alert: { id: string } }> }>(`/api/v1/incidents/${top}`);
  await page.locator(`#incidents > li[data-incident-id="${top}"]`).click();
  await page.locator('#incident-title', { hasText: top }).waitFor();
  assert.equal(await page.locator('#incident-alerts > li').count(), topDetail.alerts.length, 'the incident shows all its alerts');
});

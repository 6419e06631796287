/**
 * Incidents and the exposure digest through the API, on the crafted triage store whose incidents and
 * exposures are known by construction (test/support/incidentStore.ts): ranking (severity, then
 * latest activity), filters, cursor pagination, counts of open incidents per severity, what viewers
 * may see, one incident with its alerts, old alert ids leading to their incident, actions on every
 * alert of an incident; and the digest of a day — the image two scripted clients exposed, attributed
 * to their incident, and the image only browsers exposed, with nobody's incident.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DIGEST_POLICY, exposureDigest } from '../../services/incidents/exposureDigest.ts';
import { craftTriageStore, openApi, TRIAGE_DAY } from '../support/incidentStore.ts';

interface Item {
  id: string;
  severity: string;
  status: string;
  firstDetected: string;
  lastSeen: string;
  alertCount: number;
  alertsByStatus: Record<string, number>;
  alerts: Array<{ id: string; kind: string; severity: string; status: string }>;
  kinds: string[];
  addresses?: string[];
  addressCount: number;
  imageIds: string[];
}
interface Page {
  counts: Record<string, number>;
  items: Item[];
  nextCursor: string | null;
}

test('incidents and the exposure digest on a crafted store', async (t) => {
  const st = await craftTriageStore(t);
  const h = await openApi(t, st);
  const { app, auth } = h;
  const inc = st.incidents;
  const get = async (url: string, role: 'viewer' | 'analyst' | 'admin' = 'analyst') => app.inject({ url, headers: auth(role) });
  const page = async (url: string, role: 'viewer' | 'analyst' | 'admin' = 'analyst'): Promise<Page> => {
    const res = await get(url, role);
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Page;
  };
  const noPersonalData = (body: string, where: string) => {
    for (const ip of st.addresses) assert.equal(body.includes(ip), false, `${where}: ${ip}`);
    for (const ua of st.userAgents) assert.equal(body.includes(ua), false, `${where}: ${ua}`);
    assert.equal(body.includes('198.51.100.0/24'), false, `${where}: the network`);
  };

  await t.test('ranked by severity, then latest activity; counts of open incidents per severity', async () => {
    const all = await page('/api/v1/incidents');
    assert.deepEqual(all.items.map((i) => i.id), [inc.critical, inc.high, inc.medium, inc.low, inc.olderLow], 'severity first (the newest is low), then activity');
    assert.deepEqual(all.counts, { low: 2, medium: 0, high: 1, critical: 1 });
    const [critical, high, medium, low] = all.items as [Item, Item, Item, Item];
    assert.equal(critical.severity, 'critical');
    assert.equal(critical.status, 'open');
    assert.deepEqual(critical.alerts.map((a) => [a.id, a.kind]), [[st.alerts.critical.id, 'bulk-harvest'], [st.alerts.campaign.id, 'campaign']]);
    assert.equal(critical.alertCount, 2);
    assert.deepEqual(critical.kinds, ['bulk-harvest', 'campaign']);
    assert.deepEqual(critical.addresses, [...st.scripted]);
    assert.deepEqual(critical.imageIds, ['art/harvested']);
    assert.equal(critical.firstDetected, st.alerts.critical.detectedAt);
    assert.equal(critical.lastSeen, st.alerts.campaign.lastSeen, 'activity: the newest evidence of any of its alerts');
    assert.equal(high.id, `ti-${st.alerts.high.id.slice(3)}`, 'an alert stored before incidents is its own incident');
    assert.equal(high.severity, 'high');
    assert.deepEqual([medium.severity, medium.status], ['medium', 'resolved']);
    assert.deepEqual([low.severity, low.status, low.addresses], ['low', 'open', ['192.0.2.50', '192.0.2.51']]);
    const open = await page('/api/v1/incidents?status=open');
    assert.deepEqual(open.items.map((i) => i.id), [inc.critical, inc.high, inc.low, inc.olderLow]);
    assert.deepEqual(open.counts, all.counts, 'counts do not depend on the filters');
  });

  await t.test('filters: kind of any alert, severity of the incident, status', async () => {
    const ids = async (q: string) => (await page(`/api/v1/incidents?${q}`)).items.map((i) => i.id);
    assert.deepEqual(await ids('kind=campaign'), [inc.critical]);
    assert.deepEqual(await ids('kind=bulk-harvest'), [inc.critical, inc.high]);
    assert.deepEqual(await ids('kind=image-exposure'), [inc.low]);
    assert.deepEqual(await ids('kind=full-download'), [inc.olderLow]);
    assert.deepEqual(await ids('kind=low-and-slow&status=open'), []);
    assert.deepEqual(await ids('severity=low'), [inc.low, inc.olderLow]);
    assert.deepEqual(await ids('severity=high'), [inc.high], 'a high alert inside a critical incident does not make it high');
    assert.deepEqual(await ids('status=resolved'), [inc.medium]);
    assert.deepEqual(await ids('severity=low&status=open&kind=image-exposure'), [inc.low]);
    for (const q of ['severity=urgent', 'status=acknowledged', 'kind=x', 'limit=0', 'limit=1001', 'cursor=bm9wZQ', 'client=192.0.2.50']) {
      const res = await get(`/api/v1/incidents?${q}`);
      assert.equal(res.statusCode, 400, q);
      assert.equal(res.json().error.code, 'invalid_input');
    }
  });

  await t.test('cursor pagination walks the ranking once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const p: Page = await page(`/api/v1/incidents?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(p.items.length <= 1);
      seen.push(...p.items.map((i) => i.id));
      cursor = p.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    assert.deepEqual(seen, [inc.critical, inc.high, inc.medium, inc.low, inc.olderLow]);
    const two = await page('/api/v1/incidents?limit=2');
    const next = await page(`/api/v1/incidents?limit=2&cursor=${two.nextCursor}`);
    const last = await page(`/api/v1/incidents?limit=2&cursor=${next.nextCursor}`);
    assert.deepEqual([...two.items, ...next.items, ...last.items].map((i) => i.id), seen);
    assert.equal(last.nextCursor, null);
    const lows = await page('/api/v1/incidents?severity=low&limit=1');
    assert.deepEqual(lows.items.map((i) => i.id), [inc.low]);
    assert.deepEqual((await page(`/api/v1/incidents?severity=low&limit=1&cursor=${lows.nextCursor}`)).items.map((i) => i.id), [inc.olderLow], 'a cursor continues within a filter');
  });

  await t.test('viewers: no addresses, subnets or user agents, in the list or in an incident', async () => {
    const res = await get('/api/v1/incidents', 'viewer');
    assert.equal(res.statusCode, 200);
    noPersonalData(res.body, 'viewer list');
    const items = (res.json() as Page).items;
    assert.ok(items.every((i) => i.addresses === undefined));
    assert.equal(items[0]!.addressCount, 2);
    for (const id of Object.values(inc)) {
      const d = await get(`/api/v1/incidents/${id}`, 'viewer');
      assert.equal(d.statusCode, 200, d.body);
      noPersonalData(d.body, `viewer ${id}`);
    }
    const low = (await get(`/api/v1/incidents/${inc.low}`, 'viewer')).json();
    assert.deepEqual(low.alerts[0].reasons, ['92 % of art/other revealed at 4096 px by [ip] and [ip]']);
    assert.equal(low.alerts[0].body, undefined, 'no detector document for viewers');
    const analyst = (await get(`/api/v1/incidents/${inc.low}`)).json();
    assert.match(analyst.alerts[0].reasons[0], /by 192\.0\.2\.50 and 192\.0\.2\.51/);
  });

  await t.test('one incident: its alerts (newest version each) with reasons and evidence; old alert ids lead to it', async () => {
    const res = await get(`/api/v1/incidents/${inc.critical}`);
    assert.equal(res.statusCode, 200, res.body);
    const d = res.json();
    assert.equal(d.incident.id, inc.critical);
    assert.deepEqual(d.alerts.map((a: { alert: { id: string } }) => a.alert.id), [st.alerts.critical.id, st.alerts.campaign.id]);
    assert.equal(d.alerts[1].alert.incidentId, inc.critical);
    assert.equal(d.alerts[0].body.evidence.source, 'access.log', 'analysts get the detector document with its evidence lines');
    assert.ok(d.alerts[0].reasons.length > 0);
    for (const alertId of [st.alerts.campaign.id, st.alerts.critical.id]) {
      const via = await get(`/api/v1/incidents/${alertId}`);
      assert.equal(via.json().incident.id, inc.critical, `${alertId} names its incident`);
    }
    const alert = (await get(`/api/v1/alerts/${st.alerts.campaign.id}`)).json();
    assert.equal(alert.alert.incidentId, inc.critical, 'GET /alerts/:id names the incident');
    assert.equal((await get(`/api/v1/alerts/${st.alerts.high.id}`)).json().alert.incidentId, inc.high);
    const listed = (await get('/api/v1/alerts?kind=campaign', 'viewer')).json().items as Array<{ incidentId: string }>;
    assert.deepEqual(listed.map((a) => a.incidentId), [inc.critical]);
    assert.equal((await get('/api/v1/incidents/ti-ffffffffffffffffffff')).statusCode, 404);
    assert.equal((await get('/api/v1/incidents/tw-ffffffffffffffffffff')).statusCode, 404);
    assert.equal((await get(`/api/v1/incidents/${encodeURIComponent("ti-' OR 1=1")}`)).statusCode, 400);
  });

  await t.test('actions on an incident apply to every alert in it; resolving takes it off the open list', async () => {
    const act = async (id: string, path: string, payload: object, role: 'viewer' | 'analyst' = 'analyst') =>
      app.inject({ method: 'POST', url: `/api/v1/incidents/${id}/${path}`, headers: auth(role), payload });
    assert.equal((await act(inc.critical, 'ack', {}, 'viewer')).statusCode, 403);
    let r = await act(inc.critical, 'ack', { note: 'on it' });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json().incident.alertsByStatus, { open: 0, acknowledged: 2, muted: 0, resolved: 0 });
    assert.equal(r.json().incident.status, 'open', 'acknowledged is still open');
    for (const a of r.json().alerts as Array<{ alert: { status: string }; actions: Array<{ action: string; note: string }> }>) {
      assert.equal(a.alert.status, 'acknowledged');
      assert.deepEqual(a.actions.map((x) => [x.action, x.note]), [['acknowledge', 'on it']]);
    }
    assert.equal((await get(`/api/v1/alerts/${st.alerts.campaign.id}`)).json().alert.status, 'acknowledged');
    h.clock.advance(1000);
    assert.equal((await act(inc.critical, 'mute', { note: 'x' })).statusCode, 400, 'mute needs until');
    assert.equal((await act(inc.critical, 'mute', { until: new Date(h.clock.now() - 1).toISOString() })).statusCode, 400, 'until in the past');
    r = await act(st.alerts.campaign.id, 'mute', { until: new Date(h.clock.now() + 3_600_000).toISOString() });
    assert.equal(r.statusCode, 200, 'an alert id names its incident for actions too');
    assert.equal(r.json().incident.alertsByStatus.muted, 2);
    h.clock.advance(1000);
    r = await act(inc.critical, 'resolve', { note: 'blocked' });
    assert.equal(r.json().incident.status, 'resolved');
    let open = await page('/api/v1/incidents?status=open');
    assert.deepEqual(open.items.map((i) => i.id), [inc.high, inc.low, inc.olderLow]);
    assert.deepEqual(open.counts, { low: 2, medium: 0, high: 1, critical: 0 });
    h.clock.advance(1000);
    r = await act(inc.critical, 'reopen', {});
    assert.equal(r.json().incident.status, 'open');
    open = await page('/api/v1/incidents?status=open');
    assert.equal(open.items[0]!.id, inc.critical);
    assert.equal((await act('ti-ffffffffffffffffffff', 'ack', {})).statusCode, 404);
    const actions = await h.store.client.query({ query: 'SELECT alert_id, toString(action) AS action FROM alert_actions ORDER BY at, alert_id', format: 'JSONEachRow' });
    const rows = await actions.json<{ alert_id: string; action: string }>();
    assert.deepEqual(
      rows.map((x) => `${x.action} ${x.alert_id}`),
      ['acknowledge', 'mute', 'resolve', 'reopen'].flatMap((a) => [`${a} ${st.alerts.critical.id}`, `${a} ${st.alerts.campaign.id}`]),
      'one row per alert and action, nothing for refused calls',
    );
  });

  await t.test('exposure digest: newly exposed images of the day, by whom, with their incidents', async () => {
    const res = await get('/api/v1/exposure/digest?day=2026-03-10');
    assert.equal(res.statusCode, 200, res.body);
    const d = res.json();
    assert.equal(d.day, '2026-03-10');
    assert.deepEqual(d.policy, { minCoverage: 0.9, minEdgeRatio: 2, defaultOpenDataLongEdge: 2048 });
    assert.deepEqual(d.images.map((i: { imageId: string }) => i.imageId), ['art/harvested', 'art/viewed'], 'not art/earlier (exposed the day before), not art/coarse (within policy)');
    const [harvested, viewed] = d.images;
    assert.equal(harvested.openDataLongEdge, 1024);
    assert.deepEqual([harvested.band, harvested.longEdge, harvested.coverage], [0, 4096, 1]);
    // The 231st of 256 cells (90 %) in time: .21 takes a tile every 2 s from 10:00:00, .22 from 10:00:01.
    const reveals = [...Array.from({ length: 144 }, (_, i) => i * 2000), ...Array.from({ length: 112 }, (_, i) => 1000 + i * 2000)].sort((a, b) => a - b);
    assert.equal(harvested.exposedAt, new Date(TRIAGE_DAY + 10 * 3_600_000 + reveals[230]!).toISOString());
    assert.equal(harvested.clientCount, 2);
    assert.deepEqual(harvested.clients.map((c: { ip: string; cells: number; incidents: string[] }) => [c.ip, c.cells, c.incidents]), [
      [st.scripted[0], 144, [st.incidents.critical]],
      [st.scripted[1], 112, [st.incidents.critical]],
    ]);
    assert.deepEqual(harvested.incidents.map((i: { id: string; severity: string; status: string }) => [i.id, i.severity, i.status]), [[st.incidents.critical, 'critical', 'open']]);
    assert.equal(viewed.openDataLongEdge, 2048, 'the default open-data edge');
    assert.equal(viewed.clientCount, 8);
    assert.deepEqual(viewed.clients.map((c: { ip: string }) => c.ip), st.viewers.slice(0, 5), 'top 5 by revealed area (ties by address)');
    assert.ok(viewed.clients.every((c: { cells: number; incidents: string[] }) => c.cells === 32 && c.incidents.length === 0));
    assert.deepEqual(viewed.incidents, []);

    const before = (await get('/api/v1/exposure/digest?day=2026-03-09')).json();
    assert.deepEqual(before.images.map((i: { imageId: string }) => i.imageId), ['art/earlier']);
    assert.deepEqual(before.images[0].incidents.map((i: { id: string; status: string }) => [i.id, i.status]), [[st.incidents.medium, 'resolved']], 'a resolved incident counts');
    assert.deepEqual((await get('/api/v1/exposure/digest?day=2026-03-11')).json().images, []);

    assert.equal((await get('/api/v1/exposure/digest?day=2026-03-10', 'viewer')).statusCode, 403);
    for (const q of ['', '?day=2026-02-30', '?day=2026-3-10', '?day=2026-03-10T00:00:00Z', `?day=${encodeURIComponent("' OR 1=1")}`]) {
      const bad = await get(`/api/v1/exposure/digest${q}`);
      assert.equal(bad.statusCode, 400, q);
      assert.equal(bad.json().error.code, 'invalid_input');
    }
    const audit = (await get('/api/v1/audit?limit=100', 'admin')).json().items as Array<{ action: string; targetType: string; target: string; status: number }>;
    assert.ok(audit.some((a) => a.action === 'exposure.digest' && a.targetType === 'day' && a.target === '2026-03-10' && a.status === 200));
    assert.ok(audit.some((a) => a.action === 'exposure.digest' && a.status === 403), 'a refused viewer is audited too');
    assert.ok(audit.some((a) => a.action === 'incident.resolve' && a.targetType === 'incident' && a.target === inc.critical && a.status === 200));
  });

  await t.test('the digest is one implementation: the same answer called directly', async () => {
    const direct = await exposureDigest(h.store, { day: TRIAGE_DAY, lookbackMs: 93 * 86_400_000, policy: DEFAULT_DIGEST_POLICY, maxClients: 500 }, { now: h.clock.now() });
    const viaApi = (await get('/api/v1/exposure/digest?day=2026-03-10')).json();
    assert.deepEqual(JSON.parse(JSON.stringify(direct)), viaApi);
  });
});

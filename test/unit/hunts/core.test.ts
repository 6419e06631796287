import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  baselineOf,
  baselineOfHistogram,
  campaignFindings,
  imageExposureFindings,
  lowAndSlowFindings,
  type CampaignCandidateRow,
  type CampaignMemberRow,
  type SlowClientRow,
} from '../../../services/core/hunts/findings.ts';
import { DEFAULT_HUNT_CONFIG } from '../../../services/core/hunts/huntConfig.ts';
import { reconcile, stateFromStored, type HuntAlertState } from '../../../services/core/hunts/reconcile.ts';
import { HuntSchedule } from '../../../services/hunts/huntRunner.ts';
import { cidrBounds } from '../../../services/hunts/huntQueries.ts';

const H = 3_600_000;
const T = Date.UTC(2026, 2, 2, 0, 0, 0);
const cfg = DEFAULT_HUNT_CONFIG;

function slow(over: Partial<SlowClientRow> = {}): SlowClientRow {
  return {
    client: '192.0.2.7',
    userAgent: 'Wget/1.21',
    deepTiles: 200,
    deepRequests: 200,
    tileRequests: 200,
    activeHours: 8,
    firstTs: T,
    lastTs: T + 8 * H,
    noRefererFraction: 1,
    medianGapMs: 60_000,
    madGapMs: 2_000,
    ...over,
  };
}

const population = baselineOfHistogram([
  { value: 1, count: 500 },
  { value: 2, count: 40 },
  { value: 3, count: 3 },
]);

test('baselines: median/MAD and quantiles from samples and from a histogram', () => {
  const b = baselineOf([1, 2, 3, 4, 100]);
  assert.equal(b.median, 3);
  assert.equal(b.mad, 1);
  assert.equal(b.samples, 5);
  assert.equal(population.samples, 543);
  assert.equal(population.median, 1);
  assert.ok(population.p99 >= 2 && population.p99 <= 3, `p99 ${population.p99}`);
});

test('low-and-slow: a slow, persistent, deepest-level-only client is found with explained reasons', () => {
  const f = lowAndSlowFindings([slow()], [{ client: '192.0.2.7', imageId: 'img', band: 0, coverage: 0.6, longEdge: 8000, revealedPixels: 20e6, requests: 200 }], population, new Set(), cfg);
  assert.equal(f.length, 1);
  assert.equal(f[0]!.kind, 'low-and-slow');
  assert.equal(f[0]!.key, '192.0.2.7');
  const signals = f[0]!.reasons.map((r) => r.signal);
  for (const s of ['persistence', 'slow-cadence', 'depth-only', 'exposure']) assert.ok(signals.includes(s), s);
  assert.equal(f[0]!.images[0]!.id, 'img');
});

test('low-and-slow: viewers (bursts, coarse levels), short visits, monitors and alerted clients are not', () => {
  const none = (row: SlowClientRow, alerted = new Set<string>()) => lowAndSlowFindings([row], [], population, alerted, cfg);
  assert.equal(none(slow({ medianGapMs: 300 })).length, 0, 'viewport bursts');
  assert.equal(none(slow({ deepRequests: 100, tileRequests: 200 })).length, 0, 'coarse levels first');
  assert.equal(none(slow({ activeHours: 2 })).length, 0, 'one sitting');
  assert.equal(none(slow({ deepTiles: 3 })).length, 0, 'one URL repeated');
  assert.equal(none(slow(), new Set(['192.0.2.7'])).length, 0, 'already alerted by the streaming detector');
  // Persistence is relative to the population: where many clients are active 10 hours, 8 is not unusual.
  const busy = baselineOfHistogram([{ value: 10, count: 100 }]);
  assert.equal(lowAndSlowFindings([slow()], [], busy, new Set(), cfg).length, 0);
});

function candidate(over: Partial<CampaignCandidateRow> = {}): CampaignCandidateRow {
  return {
    imageId: 'img',
    band: 0,
    group: 'net:203.0.113.0/24',
    members: ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5'],
    unionCoverage: 1,
    overlap: 1,
    longEdge: 8192,
    unionPixels: 50e6,
    ...over,
  };
}

function members(ips: readonly string[], over: Partial<CampaignMemberRow> = {}): CampaignMemberRow[] {
  return ips.map((ip, i) => ({ client: ip, imageId: 'img', userAgent: 'curl/8.5.0', deepFraction: 1, coveredArea: 10e6, requests: 150, firstTs: T + i, lastTs: T + H + i, ...over }));
}

test('campaign: members splitting an image, deepest level only, form one alert naming all IPs and the CIDR', () => {
  const c = candidate();
  const f = campaignFindings([c, candidate({ group: 'ua:curl/8.5.0' })], members(c.members), new Map(), [], cfg);
  assert.equal(f.length, 1, 'found by network and by user agent, reported once (by network)');
  assert.equal(f[0]!.key, 'net:203.0.113.0/24');
  assert.deepEqual([...f[0]!.client.ips], c.members);
  assert.equal(f[0]!.client.subnet, '203.0.113.0/24');
  assert.ok(f[0]!.reasons.some((r) => r.signal === 'low-overlap'));
});

test('campaign: humans overlapping on salient areas, navigators and one dominant member are not', () => {
  const c = candidate();
  assert.equal(campaignFindings([candidate({ overlap: 2.5 })], members(c.members), new Map(), [], cfg).length, 0, 'overlap');
  assert.equal(campaignFindings([c], members(c.members, { deepFraction: 0.4 }), new Map(), [], cfg).length, 0, 'coarse levels first');
  const dominant = members(c.members).map((m, i) => (i === 0 ? { ...m, coveredArea: 45e6 } : { ...m, coveredArea: 1e6 }));
  assert.equal(campaignFindings([c], dominant, new Map(), [], cfg).length, 0, 'one member did most of it (the streaming detector’s case)');
  assert.equal(campaignFindings([candidate({ members: c.members.slice(0, 3) })], members(c.members), new Map(), [], cfg).length, 0, 'too few');
  assert.equal(campaignFindings([candidate({ unionPixels: 9e6 })], members(c.members), new Map(), [], cfg).length, 0, 'about one screen');
});

test('image exposure: an alert only when clients fetching like a script and accused by no other alert caused it, naming only them', () => {
  const area = 8192 * 6000;
  const row = { imageId: 'img', band: 0, unionCoverage: 0.95, imageArea: area, longEdge: 8192, openDataLongEdge: 2048, clients: 40, firstTs: T, lastTs: T + H };
  const scripted = ['198.51.100.1', '198.51.100.2'].map((client) => ({ imageId: 'img', client, userAgent: 'curl/8', deepFraction: 1, bandSpan: 0, coveredArea: 0.4 * area }));
  const viewers = Array.from({ length: 38 }, (_, i) => ({ imageId: 'img', client: `203.0.113.${i}`, userAgent: 'Mozilla/5.0', deepFraction: 0.5, bandSpan: 4, coveredArea: 0.05 * area }));
  // A researcher who studied the image at full resolution for hours after the viewer's home view.
  const researcher = { imageId: 'img', client: '192.0.2.50', userAgent: 'Mozilla/5.0', deepFraction: 0.99, bandSpan: 5, coveredArea: 0.9 * area };
  const f = imageExposureFindings([row], [...viewers, ...scripted], new Set(), cfg);
  assert.equal(f.length, 1);
  assert.deepEqual([...f[0]!.client.ips], ['198.51.100.1', '198.51.100.2'], 'the viewers who also looked are not named');
  assert.ok(f[0]!.reasons.some((r) => r.signal === 'attributed-share'));
  assert.equal(imageExposureFindings([{ ...row, unionCoverage: 0.5 }], scripted, new Set(), cfg).length, 0, 'below policy');
  assert.equal(imageExposureFindings([row], viewers, new Set(), cfg).length, 0, 'viewers alone: a matter for the exposure report, not an alert');
  assert.equal(imageExposureFindings([row], [...viewers, researcher], new Set(), cfg).length, 0, 'a researcher navigated there: not a script');
  assert.equal(imageExposureFindings([row], [...viewers, ...scripted], new Set(['198.51.100.1', '198.51.100.2']), cfg).length, 0, 'already accused: part of their incident');
  const shuffled = imageExposureFindings([row], [...scripted].reverse().concat(viewers), new Set(), cfg);
  assert.deepEqual(shuffled, f, 'deterministic whatever the row order');
});

test('reconcile: one open alert per key, versions only when evidence grows, resolution after inactivity, no re-open on old evidence', () => {
  const state: HuntAlertState = { open: new Map(), closed: new Map() };
  const c = candidate();
  const find = (n: number, lastTs: number) =>
    campaignFindings([candidate({ members: c.members.slice(0, n) })], members(c.members.slice(0, n), { lastTs }), new Map(), [], cfg);
  const v1 = reconcile(state, find(4, T + H), T + H + 600_000, cfg);
  assert.equal(v1.length, 1);
  assert.equal(v1[0]!.version, 1);
  assert.equal(v1[0]!.status, 'open');
  const same = reconcile(state, find(4, T + H + 500_000), T + H + 1_200_000, cfg);
  assert.equal(same.length, 0, 'no growth, no version');
  const grown = reconcile(state, find(5, T + 2 * H), T + 2 * H, cfg);
  assert.equal(grown.length, 1);
  assert.equal(grown[0]!.id, v1[0]!.id);
  assert.equal(grown[0]!.version, 2);
  assert.equal(grown[0]!.client.ips.length, 5);
  const later = T + 2 * H + cfg.campaign.resolveAfterMs;
  const resolved = reconcile(state, [], later, cfg);
  assert.equal(resolved.length, 1);
  assert.equal(resolved[0]!.status, 'resolved');
  assert.equal(resolved[0]!.version, 3);
  assert.equal(reconcile(state, find(5, T + 2 * H), later + 600_000, cfg).length, 0, 'old evidence still in the look-back does not re-open it');
  const reopened = reconcile(state, find(5, later + 500_000), later + 600_000, cfg);
  assert.equal(reopened.length, 1, 'new activity opens a new alert');
  assert.notEqual(reopened[0]!.id, v1[0]!.id);
  // A restart rebuilds the same state from the stored versions.
  const rebuilt = stateFromStored([...v1, ...grown, ...resolved, ...reopened]);
  assert.equal(rebuilt.open.size, 1);
  assert.equal([...rebuilt.open.values()][0]!.alert.id, reopened[0]!.id);
  assert.equal(rebuilt.closed.size, 1);
});

test('schedule: a fixed event-time grid, each window with data once, lateness respected', () => {
  const s = new HuntSchedule(600_000, 120_000);
  s.observe(T + 30_000);
  assert.deepEqual(s.due(T + 600_000), [], 'the first window end is not yet late enough');
  s.observe(T + 700_000);
  assert.deepEqual(s.due(T + 720_000), [T + 600_000]);
  s.observe(T + 1_300_000);
  s.observe(T + 1_900_000);
  assert.deepEqual(s.due(T + 1_900_000), [T + 1_200_000]);
  assert.deepEqual(s.final(T + 1_900_000), [T + 1_800_000, T + 2_400_000]);
  s.observe(T + 650_000);
  assert.deepEqual(s.final(T + 1_900_000), [], 'data arriving after its window ran does not run it again');
});

test('schedule: windows follow the data, not the spread of timestamps (years apart cost a few windows)', () => {
  const H = 3_600_000;
  const s = new HuntSchedule(600_000, 0, H);
  const years = [Date.UTC(2001, 0, 1), Date.UTC(2010, 5, 1), Date.UTC(2026, 0, 1, 12, 5)];
  for (const t of years) s.observe(t);
  const due = s.final(years[2]!);
  // Each event opens the windows whose last hour holds it: six 10-minute ends per event.
  assert.equal(due.length, 6 * 2 + 1, 'the last event only up to the grid point after it');
  assert.ok(due.every((e, i) => i === 0 || e > due[i - 1]!), 'ascending');
  assert.ok(due.every((e) => years.some((t) => e > t && e <= t + H)), 'every window has an event in its last hour');
  assert.throws(() => new HuntSchedule(600_000, 0, 60_000), /invalid hunt schedule/);
});

test('cidrBounds: IPv4 as IPv4-mapped ranges, IPv6 prefixes', () => {
  assert.deepEqual(cidrBounds(['10.20.0.0/16']), { lo: ['::ffff:10.20.0.0'], hi: ['::ffff:10.20.255.255'] });
  const v6 = cidrBounds(['2001:db8::/32']);
  assert.equal(v6.lo[0], '2001:db8:0:0:0:0:0:0');
  assert.equal(v6.hi[0], '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff');
});

test('campaign: a viewer sharing the user agent who looked at the image is not named as a member', () => {
  const c = candidate({ group: 'ua:curl/8.5.0', members: ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5', '198.51.100.9'] });
  const rows = [...members(c.members.slice(0, 5)), ...members(['198.51.100.9'], { deepFraction: 0.5, coveredArea: 1e6 })];
  const f = campaignFindings([c], rows, new Map(), [], cfg);
  assert.equal(f.length, 1);
  assert.ok(!f[0]!.client.ips.includes('198.51.100.9'), `named ${f[0]!.client.ips.join(', ')}`);
  assert.equal(f[0]!.client.ips.length, 5);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '../../../services/core/alert.ts';
import { evaluate, formatReport, median, mergeAlertVersions, readAlerts, readLabels } from '../../../services/sim/evaluate.ts';
import { naiveRateBaseline, subnetOf } from '../../../services/sim/baseline.ts';
import type { Label } from '../../../services/sim/labels.ts';
import { CombinedFormatter } from '../../../services/sim/logformat.ts';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const iso = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

function label(actor: string, cls: 'benign' | 'threat', kind: string, ips: string[], startMin = 0, perIp = cls === 'threat'): Label {
  return { actor, class: cls, kind, ips, userAgent: 'ua', start: iso(startMin), end: iso(startMin + 60), images: ['a'], perIpDetectable: perIp };
}

function alert(id: string, ips: string[], detectedMin: number, version = 1): Alert {
  return {
    id,
    kind: 'bulk-harvest',
    severity: 'high',
    score: 80,
    client: { ip: ips[0] ?? '', ips, userAgent: 'ua', subnet: '' },
    firstSeen: iso(0),
    detectedAt: iso(detectedMin),
    lastSeen: iso(detectedMin + 5),
    images: [],
    reasons: [],
    version,
    status: 'open',
    evidence: { source: 'x', firstLine: 1, lastLine: 2 },
  };
}

const LABELS: Label[] = [
  label('raster-1s-00001', 'threat', 'raster-1s', ['1.1.1.1'], 0),
  label('raster-1s-00002', 'threat', 'raster-1s', ['1.1.1.2'], 10),
  label('raster-1s-00003', 'threat', 'raster-1s', ['1.1.1.3'], 20),
  label('distributed-subnet-00001', 'threat', 'distributed-subnet', ['5.5.5.1', '5.5.5.2', '5.5.5.3', '5.5.5.4'], 30, false),
  label('low-and-slow-00001', 'threat', 'low-and-slow', ['9.9.9.9'], 0),
  ...Array.from({ length: 8 }, (_, i) => label(`human-${i}`, 'benign', 'human', [`20.0.0.${i + 1}`])),
  label('nat-00001', 'benign', 'nat', ['30.0.0.1']),
  label('crawler-00001', 'benign', 'crawler', ['66.249.66.1', '66.249.66.2']),
];

const ALERTS: Alert[] = [
  alert('a1', ['1.1.1.1'], 14),
  alert('a2', ['1.1.1.2'], 16), // TTD 6 min
  // Update lines of one alert: the earliest detectedAt wins, IPs are unioned.
  alert('a3', ['5.5.5.1'], 50, 1),
  alert('a3', ['5.5.5.1', '5.5.5.2'], 45, 2),
  alert('fp1', ['20.0.0.3'], 5),
  alert('fp2', ['66.249.66.2'], 5),
  alert('stray', ['203.0.113.9'], 7),
  // An alert on a threat IP before the actor started does not count for it.
  alert('early', ['1.1.1.3'], 10),
];

test('evaluation math: recall, time to detect, IP fraction, FP per 1,000, unlabelled alerts', () => {
  const r = evaluate(LABELS, ALERTS);
  const raster = r.threats.find((t) => t.kind === 'raster-1s');
  assert.ok(raster);
  assert.equal(raster.actors, 3);
  assert.equal(raster.detected, 2);
  assert.equal(raster.recall, 2 / 3);
  assert.equal(raster.ttdMedianMin, 10); // median of 14 and 6
  assert.equal(raster.ttdMaxMin, 14);
  assert.equal(raster.perIpDetectableActors, 3);
  assert.equal(raster.perIpDetectableDetected, 2);

  const dist = r.threats.find((t) => t.kind === 'distributed-subnet');
  assert.ok(dist);
  assert.equal(dist.detected, 1);
  assert.equal(dist.meanIpFractionAlerted, 0.5);
  assert.equal(dist.ttdMedianMin, 15); // 45 − 30
  assert.equal(dist.perIpDetectableActors, 0);

  const slow = r.threats.find((t) => t.kind === 'low-and-slow');
  assert.equal(slow?.recall, 0);
  assert.equal(slow?.ttdMedianMin, null);

  const human = r.benign.find((b) => b.kind === 'human');
  assert.deepEqual(human, { kind: 'human', actors: 8, accusedActors: 1, clients: 8, fpClients: 1, fpPer1000: 125, alerts: 1, notifications: 1 });
  const crawler = r.benign.find((b) => b.kind === 'crawler');
  assert.deepEqual(crawler, { kind: 'crawler', actors: 1, accusedActors: 1, clients: 2, fpClients: 1, fpPer1000: 500, alerts: 1, notifications: 1 });
  assert.equal(r.benign.find((b) => b.kind === 'nat')?.fpClients, 0);

  assert.equal(r.totals.threatActors, 5);
  assert.equal(r.totals.detected, 3);
  assert.equal(r.totals.recall, 3 / 5);
  assert.equal(r.totals.ttdMedianMin, 14);
  assert.equal(r.totals.benignClients, 11);
  assert.equal(r.totals.fpClients, 2);
  assert.equal(r.totals.fpPer1000, (2 / 11) * 1000);
  assert.equal(r.totals.alerts, 7);
  assert.equal(r.totals.notifications, 8); // a3 has two versions
  assert.equal(r.totals.unlabelledAlerts, 1);
  assert.equal(r.totals.alertsNamingNoHarvester, 3); // fp1, fp2, stray
  assert.equal(r.totals.notificationsNamingNoHarvester, 3);
  assert.deepEqual(
    r.unlabelled.map((u) => u.id),
    ['stray'],
  );
  const text = formatReport(r);
  assert.match(text, /raster-1s\s+3\s+2\s+66\.7%/);
  assert.match(text, /Alerts: 7 naming clients \(1 unlabelled\); 0 image-exposure alerts/);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(r)));
});

test('no alerts: zero recall, zero FP, no division by zero', () => {
  const r = evaluate(LABELS, []);
  assert.equal(r.totals.recall, 0);
  assert.equal(r.totals.fpPer1000, 0);
  assert.equal(r.totals.ttdMedianMin, null);
  assert.equal(evaluate([], []).totals.recall, null);
});

test('alerts match on client.ip as well as client.ips, case-insensitively for IPv6', () => {
  const l = [label('t', 'threat', 'jittered', ['2a01:abc::1'], 0)];
  const a: Alert = { ...alert('x', [], 3), client: { ip: '2A01:ABC::1', ips: [], userAgent: '', subnet: '' } };
  assert.equal(evaluate(l, [a]).totals.detected, 1);
});

test('median', () => {
  assert.equal(median([]), null);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('readLabels / readAlerts read JSON lines; evaluation collapses alert updates', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tilewatch-eval-'));
  try {
    await writeFile(join(dir, 'labels.jsonl'), LABELS.map((l) => JSON.stringify(l)).join('\n') + '\n\n');
    await writeFile(join(dir, 'alerts.jsonl'), ALERTS.map((a) => JSON.stringify(a)).join('\n') + '\n');
    const labels = await readLabels(join(dir, 'labels.jsonl'));
    const alerts = await readAlerts(join(dir, 'alerts.jsonl'));
    assert.equal(labels.length, LABELS.length);
    assert.equal(alerts.length, ALERTS.length, 'every version, as written');
    const merged = mergeAlertVersions(alerts);
    assert.equal(merged.length, 7);
    const a3 = merged.find((a) => a.id === 'a3');
    assert.equal(a3?.detectedAt, iso(45));
    assert.equal(a3?.version, 2);
    assert.deepEqual([...(a3?.client.ips ?? [])].sort(), ['5.5.5.1', '5.5.5.2']);
    assert.deepEqual(evaluate(labels, alerts), evaluate(LABELS, ALERTS));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('naive requests-per-minute baseline misses a 1/s sweep and catches a fast one', () => {
  const fmt = new CombinedFormatter();
  const lines: string[] = [];
  const ev = (t: number, ip: string) => ({
    t,
    ip,
    method: 'GET' as const,
    path: '/iiif/2/x/0,0,512,512/512,/0/default.jpg',
    proto: 'HTTP/1.1' as const,
    status: 200,
    bytes: 1000,
    referer: '',
    ua: 'python-requests/2.31.0',
    image: 'x',
  });
  const evs = [];
  for (let i = 0; i < 600; i++) evs.push(ev(T0 + i * 1000, '1.2.3.4')); // 60 / min
  for (let i = 0; i < 400; i++) evs.push(ev(T0 + 120_000 + i * 60, '5.6.7.8')); // ~1000 / min
  evs.sort((a, b) => a.t - b.t);
  for (const e of evs) lines.push(fmt.format(e));
  const alerts = naiveRateBaseline(lines, 100);
  assert.deepEqual(
    alerts.map((a) => a.client.ip),
    ['5.6.7.8'],
  );
  const a = alerts[0];
  assert.ok(a);
  assert.equal(a.client.subnet, '5.6.7.0/24');
  assert.ok(Date.parse(a.detectedAt) >= T0 + 120_000 && Date.parse(a.detectedAt) < T0 + 130_000);
  const r = evaluate([label('fast', 'threat', 'parallel-fast', ['5.6.7.8'], 2), label('slow', 'threat', 'raster-1s', ['1.2.3.4'], 0)], alerts);
  assert.equal(r.totals.recall, 0.5);
  assert.equal(subnetOf('2a01:db8:1:2::5'), '2a01:db8:1::/48');
});

test('false positives per benign class: accused actors and addresses, alerts and notifications, alerts naming no harvester', async () => {
  const labels: Label[] = [
    label('raster-1s-00001', 'threat', 'raster-1s', ['1.1.1.1'], 0),
    label('campus-nat-00001', 'benign', 'campus-nat', ['40.0.0.1']),
    label('office-nat-00001', 'benign', 'office-nat', ['40.0.0.2']),
    label('cgnat-00001', 'benign', 'cgnat', ['40.0.1.1', '40.0.1.2', '40.0.1.3']),
    label('deep-researcher-00001', 'benign', 'deep-researcher', ['40.0.2.1']),
    label('deep-researcher-00002', 'benign', 'deep-researcher', ['2a01:db8:1:2:3:4:5:6']),
    label('mobile-rotating-00001', 'benign', 'mobile-rotating', ['40.9.1.1', '40.9.2.2', '40.9.3.3', '40.9.4.4']),
    label('enthusiast-00001', 'benign', 'enthusiast', ['40.0.3.1']),
    ...Array.from({ length: 4 }, (_, i) => label(`human-${i}`, 'benign', 'human', [`20.0.0.${i + 1}`])),
  ];
  const alerts: Alert[] = [
    // The campus NAT: one alert updated three times (3 notifications), and a second alert.
    alert('c1', ['40.0.0.1'], 10, 1),
    alert('c1', ['40.0.0.1'], 10, 2),
    alert('c1', ['40.0.0.1'], 12, 3),
    alert('c2', ['40.0.0.1'], 30),
    // Two of the CGNAT pool's addresses in one alert.
    alert('g1', ['40.0.1.1', '40.0.1.3'], 40),
    // One researcher (IPv6, named in another case), alongside a harvester: not an alert naming no harvester.
    { ...alert('r1', [], 50), client: { ip: '2A01:DB8:1:2:3:4:5:6', ips: ['1.1.1.1'], userAgent: '', subnet: '' } },
    // One of the phone's four addresses.
    alert('m1', ['40.9.3.3'], 60),
    // Every address an alert names is accused, image exposure included.
    { ...alert('x1', ['40.0.3.1'], 5), kind: 'image-exposure' },
    // An incident pages when it opens and escalates, not for other updates.
    { ...alert('i1', ['40.0.0.2'], 70, 1), severity: 'medium', incident: { id: 'ti-i1', severity: 'medium', status: 'open', alerts: 1, notice: 'opened' } },
    { ...alert('i1', ['40.0.0.2'], 70, 2), severity: 'medium', incident: { id: 'ti-i1', severity: 'medium', status: 'open', alerts: 1 } },
    { ...alert('i2', ['40.0.0.2'], 75, 1), incident: { id: 'ti-i1', severity: 'high', status: 'open', alerts: 2, notice: 'escalated' } },
  ];
  const dir = await mkdtemp(join(tmpdir(), 'tilewatch-eval-hard-'));
  try {
    await writeFile(join(dir, 'alerts.jsonl'), alerts.map((a) => JSON.stringify(a)).join('\n') + '\n');
    const r = evaluate(labels, await readAlerts(join(dir, 'alerts.jsonl')));
    const row = (kind: string) => r.benign.find((b) => b.kind === kind);
    assert.deepEqual(row('campus-nat'), { kind: 'campus-nat', actors: 1, accusedActors: 1, clients: 1, fpClients: 1, fpPer1000: 1000, alerts: 2, notifications: 4 });
    assert.deepEqual(row('office-nat'), { kind: 'office-nat', actors: 1, accusedActors: 1, clients: 1, fpClients: 1, fpPer1000: 1000, alerts: 2, notifications: 2 }, 'opened, escalated; the update in between paged nobody');
    assert.deepEqual(row('cgnat'), { kind: 'cgnat', actors: 1, accusedActors: 1, clients: 3, fpClients: 2, fpPer1000: (2 / 3) * 1000, alerts: 1, notifications: 1 });
    assert.deepEqual(row('deep-researcher'), { kind: 'deep-researcher', actors: 2, accusedActors: 1, clients: 2, fpClients: 1, fpPer1000: 500, alerts: 1, notifications: 1 });
    assert.deepEqual(row('mobile-rotating'), { kind: 'mobile-rotating', actors: 1, accusedActors: 1, clients: 4, fpClients: 1, fpPer1000: 250, alerts: 1, notifications: 1 });
    assert.equal(row('enthusiast')?.accusedActors, 1, 'an image-exposure alert accuses the addresses it names');
    assert.equal(row('human')?.fpClients, 0);
    // Easy classes first, then the hard ones in their declared order.
    assert.deepEqual(
      r.benign.map((b) => b.kind),
      ['human', 'campus-nat', 'office-nat', 'cgnat', 'deep-researcher', 'enthusiast', 'mobile-rotating'],
    );
    assert.equal(r.actors.find((a) => a.actor === 'campus-nat-00001')?.notifications, 4);
    assert.equal(r.actors.find((a) => a.actor === 'raster-1s-00001')?.notifications, 1);
    assert.equal(r.totals.alerts, 8);
    assert.equal(r.totals.notifications, 10);
    assert.equal(r.totals.alertsNamingNoHarvester, 7);
    assert.equal(r.totals.notificationsNamingNoHarvester, 9);
    const text = formatReport(r);
    assert.match(text, /campus-nat\s+1\s+1\s+1\s+1\s+1000\.0\s+2\s+4/);
    assert.match(text, /cgnat\s+1\s+1\s+3\s+2\s+666\.7\s+1\s+1/);
    assert.match(text, /Naming no harvester: 7 of 8 alerts, 9 of 10 notifications/);
    assert.match(text, /Accused benign actors[^\n]*\n {2}campus-nat-00001 {2}4 notifications, 2 alerts, 1\/1 addresses/);
    assert.match(text, /mobile-rotating-00001 {2}1 notifications, 1 alerts, 1\/4 addresses/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

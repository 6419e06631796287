/**
 * The Alertmanager sink against the real thing: Debian's prometheus-alertmanager (0.25) started on
 * loopback. An incident is opened, escalated and resolved through the dispatcher, each notice caused
 * by a different alert version; `/api/v2/alerts` is read back after each step: one alert per
 * incident, updated in place, paging again on the escalation, ended by the resolution.
 *
 * Alertmanager lists only alerts whose endsAt is still ahead, so a resolution (endsAt = resolvedAt,
 * in the past) disappears from `/api/v2/alerts`. To read back what Alertmanager made of it, its
 * receiver is a webhook to a local HTTP server (`send_resolved: true`, short group timers): the
 * resolved notification carries the alert with its status and endsAt.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createAlertmanagerSink } from '../../services/alerting/alertmanagerSink.ts';
import { systemClock } from '../../services/runtime/systemClock.ts';
import { createSinkDispatcher } from '../../services/alerting/dispatcher.ts';
import type { Alert, AlertIncident, Severity } from '../../services/core/alert.ts';
import { makeAlert } from '../support/alerts.ts';
import { tempDir } from '../support/cli.ts';
import { freePort, waitFor } from '../support/kafka.ts';

const BINARY = '/usr/bin/prometheus-alertmanager';

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

const iso = (ms: number): string => new Date(ms).toISOString();

async function alertsFor(base: string, incidentId: string): Promise<GettableAlert[]> {
  const res = await fetch(`${base}/api/v2/alerts?filter=${encodeURIComponent(`incident_id="${incidentId}"`)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as GettableAlert[];
}

async function metric(base: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = line.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('Alertmanager sink (real prometheus-alertmanager)', { skip: existsSync(BINARY) ? false : `${BINARY} not installed (apt-get install prometheus-alertmanager)` }, () => {
  test('an incident opened, escalated and resolved by three different alerts is one Alertmanager alert: updated in place, paging on the escalation, ended by the resolution', async (t) => {
    const dir = tempDir(t, 'alertmanager');
    const port = await freePort();
    const config = join(dir, 'alertmanager.yml');
    // Alertmanager's notifications land here (what a real receiver would get).
    const notified: Array<{ status: string; labels: Record<string, string>; startsAt: string; endsAt: string }> = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        notified.push(...(JSON.parse(body) as { alerts: typeof notified }).alerts);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => hook.close(() => r())));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/am`;
    writeFileSync(
      config,
      [
        'route:',
        "  receiver: 'capture'",
        "  group_by: ['incident_id']",
        '  group_wait: 100ms',
        '  group_interval: 500ms',
        '  repeat_interval: 1h',
        'receivers:',
        "  - name: 'capture'",
        '    webhook_configs:',
        `      - url: '${hookUrl}'`,
        '        send_resolved: true',
        '',
      ].join('\n'),
    );
    const am: ChildProcess = spawn(
      BINARY,
      [`--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', `--storage.path=${dir}`, `--config.file=${config}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    am.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((r) => am.once('exit', () => r()));
    t.after(async () => {
      am.kill('SIGTERM');
      const killer = setTimeout(() => am.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/-/ready`).catch(() => null))?.status === 200, 15_000, `alertmanager ready (stderr: ${stderr})`, 50);

    const sink = createAlertmanagerSink({ urls: [base], webUrl: 'https://tilewatch.example/', openTtlMs: 3_600_000, extraLabels: { env: 'test' }, clock: systemClock });
    const d = createSinkDispatcher({ sinks: [sink], logger: pino({ level: 'silent' }), retry: { baseDelayMs: 50, maxDelayMs: 200, maxAttempts: 3 } });
    const deliver = async (a: Alert): Promise<void> => {
      const before = d.stats().sinks[0]!;
      d.push(a);
      await waitFor(() => {
        const s = d.stats().sinks[0]!;
        return s.delivered + s.dropped.rejected > before.delivered + before.dropped.rejected;
      }, 10_000, `delivery of ${a.id} v${a.version}`);
      assert.equal(d.stats().sinks[0]!.delivered, before.delivered + 1, `Alertmanager accepted ${a.id} v${a.version}`);
    };

    // One incident, three notices, each caused by a different alert version: a low-and-slow finding
    // opens it (medium), a bulk-harvest by the same address escalates it (critical), and the last
    // member's resolution resolves it. A second incident stays apart.
    const now = Date.now();
    const incidentId = 'ti-a1b2c3d4e5f6a7b8c9d0';
    const otherId = 'ti-ffffffffffffffff0001';
    const incident = (severity: Severity, notice: 'opened' | 'escalated' | 'resolved', alerts: number): AlertIncident => ({
      id: incidentId,
      severity,
      status: notice === 'resolved' ? 'resolved' : 'open',
      alerts,
      notice,
    });
    const slow = makeAlert({
      id: 'tw-a1b2c3d4e5f6a7b8c9d0',
      kind: 'low-and-slow',
      version: 1,
      severity: 'medium',
      firstSeen: iso(now - 40 * 60_000),
      detectedAt: iso(now - 30 * 60_000),
      lastSeen: iso(now - 20 * 60_000),
      incident: incident('medium', 'opened', 1),
    });
    const harvest = makeAlert({
      id: 'tw-0000000000000000b0b0',
      version: 2,
      severity: 'critical',
      score: 97,
      firstSeen: iso(now - 20 * 60_000),
      detectedAt: iso(now - 10 * 60_000),
      lastSeen: iso(now - 60_000),
      incident: incident('critical', 'escalated', 2),
    });
    const resolvedAt = iso(now - 30_000);
    const allClear = { ...slow, version: 3, status: 'resolved' as const, resolvedAt, incident: incident('critical', 'resolved', 2) };
    const other = makeAlert({ id: 'tw-ffffffffffffffff0001', severity: 'high', detectedAt: iso(now - 5 * 60_000), client: { ip: '198.51.100.4', ips: ['198.51.100.4'], subnet: '198.51.100.0/24' }, incident: { id: otherId, severity: 'high', status: 'open', alerts: 1, notice: 'opened' } });

    // 1. opened (medium)
    const sentAt = Date.now();
    await deliver(slow);
    await deliver(other);
    let got = await alertsFor(base, incidentId);
    assert.equal(got.length, 1, JSON.stringify(got));
    const a1 = got[0]!;
    assert.deepEqual(a1.labels, { alertname: 'TilewatchIncident', service: 'tilewatch', incident_id: incidentId, severity: 'medium', env: 'test' });
    assert.match(a1.annotations.summary!, new RegExp(`^incident ${incidentId} opened \\(medium\\), 1 alert: MEDIUM low-and-slow by 203\\.0\\.113\\.7: rijks-SK-C-5: 96 % at full resolution`));
    assert.equal(a1.annotations.description, '- covered 96 % of image rijks-SK-C-5 at full resolution in 14 min\n- 1 tile / 1.02 s ± 0.03 s');
    assert.deepEqual([a1.annotations.notice, a1.annotations.alerts, a1.annotations.kind, a1.annotations.alert_id], ['opened', '1', 'low-and-slow', slow.id]);
    assert.equal(a1.annotations.user_agent, 'python-requests/2.31');
    assert.equal(a1.generatorURL, `https://tilewatch.example/?incident=${incidentId}`);
    assert.equal(Date.parse(a1.startsAt), Date.parse(slow.detectedAt));
    const endsAt = Date.parse(a1.endsAt);
    assert.ok(endsAt >= sentAt + 3_600_000 - 1000 && endsAt <= Date.now() + 3_600_000 + 1000, `open endsAt ${a1.endsAt} is now + TTL`);
    assert.equal(a1.status.state, 'active');
    assert.deepEqual((await alertsFor(base, otherId)).map((a) => a.labels.severity), ['high'], 'the other incident is its own alert');
    await waitFor(() => notified.some((n) => n.labels.incident_id === incidentId && n.status === 'firing'), 10_000, 'the opening paged');

    // 2. escalated by another alert (another kind, another version): still one active alert for the
    //    incident, now critical, with the escalating alert in its annotations; it pages again.
    await deliver(harvest);
    got = await alertsFor(base, incidentId);
    assert.deepEqual(
      got.map((a) => [a.labels.severity, a.annotations.notice, a.annotations.alerts, a.annotations.kind, a.annotations.alert_id, a.status.state]),
      [['critical', 'escalated', '2', 'bulk-harvest', harvest.id, 'active']],
    );
    assert.equal(Date.parse(got[0]!.startsAt), Date.parse(harvest.detectedAt));
    await waitFor(
      () => notified.some((n) => n.labels.incident_id === incidentId && n.labels.severity === 'critical' && n.status === 'firing'),
      10_000,
      `the escalation paged (got ${JSON.stringify(notified)})`,
    );

    // 3. resolved by the last member's resolution (resolvedAt in the past, as event time is): no
    //    longer listed, and Alertmanager tells the receiver the critical alert ended at resolvedAt.
    const resolvedBefore = await metric(base, /^alertmanager_alerts_received_total\{status="resolved",version="v2"\} (\d+)/m);
    await deliver(allClear);
    assert.deepEqual(await alertsFor(base, incidentId), []);
    assert.deepEqual((await alertsFor(base, otherId)).length, 1, 'the other incident is still open');
    assert.ok((await metric(base, /^alertmanager_alerts_received_total\{status="resolved",version="v2"\} (\d+)/m)) >= resolvedBefore + 1);
    const resolvedCritical = (): (typeof notified)[number] | undefined =>
      notified.find((n) => n.labels.incident_id === incidentId && n.labels.severity === 'critical' && n.status === 'resolved');
    await waitFor(() => resolvedCritical() !== undefined, 10_000, `a resolved notification (got ${JSON.stringify(notified)})`);
    const r = resolvedCritical()!;
    assert.equal(Date.parse(r.endsAt), Date.parse(resolvedAt));

    // Across the three notices Alertmanager held the incident under two label sets only, one per
    // paging band (medium, then critical, the medium one ended by the escalation); never two at once.
    const mine = notified.filter((n) => n.labels.incident_id === incidentId);
    assert.deepEqual([...new Set(mine.map((n) => JSON.stringify(n.labels)))].map((l) => (JSON.parse(l) as Record<string, string>).severity).sort(), ['critical', 'medium']);
    assert.ok(
      mine.some((n) => n.labels.severity === 'medium' && n.status === 'resolved'),
      'the escalation ended the medium alert',
    );
    assert.ok(!notified.some((n) => n.labels.incident_id === undefined || n.labels.alertname !== 'TilewatchIncident'), 'only incidents are sent');

    assert.equal(await metric(base, /^alertmanager_alerts_invalid_total\{version="v2"\} (\d+)/m), 0, 'Alertmanager rejected nothing');
    assert.deepEqual(await d.drain(2000), { drained: true, left: 0, leftBySink: {} });
  });
});

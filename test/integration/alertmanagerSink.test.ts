/**
 * The Alertmanager sink against the real thing: Debian's prometheus-alertmanager (0.25) started on
 * loopback with a null receiver. An alert is raised, escalated, and resolved through the
 * dispatcher; `/api/v2/alerts` is read back after each step.
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
import { systemClock } from '../../services/alerting/clock.ts';
import { createSinkDispatcher } from '../../services/alerting/dispatcher.ts';
import type { Alert } from '../../services/core/alert.ts';
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

async function alertsFor(base: string, id: string): Promise<GettableAlert[]> {
  const res = await fetch(`${base}/api/v2/alerts?filter=${encodeURIComponent(`alert_id="${id}"`)}`);
  assert.equal(res.status, 200);
  return (await res.json()) as GettableAlert[];
}

async function metric(base: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = line.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('Alertmanager sink (real prometheus-alertmanager)', { skip: existsSync(BINARY) ? false : `${BINARY} not installed (apt-get install prometheus-alertmanager)` }, () => {
  test('open, escalate, resolve: labels, annotations, startsAt/endsAt and state as Alertmanager holds them', async (t) => {
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
        "  group_by: ['alert_id']",
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

    const sink = createAlertmanagerSink({ urls: [base], apiBaseUrl: 'https://tilewatch.example/api', openTtlMs: 3_600_000, extraLabels: { env: 'test' }, clock: systemClock });
    const d = createSinkDispatcher({ sinks: [sink], logger: pino({ level: 'silent' }), retry: { baseDelayMs: 50, maxDelayMs: 200, maxAttempts: 3 } });
    const deliver = async (a: Alert): Promise<void> => {
      const before = d.stats().sinks[0]!;
      d.push(a);
      await waitFor(() => {
        const s = d.stats().sinks[0]!;
        return s.delivered + s.dropped.rejected + s.dropped.retries_exhausted > before.delivered + before.dropped.rejected + before.dropped.retries_exhausted;
      }, 10_000, `delivery of ${a.id} v${a.version}`);
      assert.equal(d.stats().sinks[0]!.delivered, before.delivered + 1, `Alertmanager accepted ${a.id} v${a.version}`);
    };

    const now = Date.now();
    const id = 'tw-a1b2c3d4e5f6a7b8c9d0';
    const v1 = makeAlert({
      id,
      version: 1,
      severity: 'high',
      firstSeen: iso(now - 20 * 60_000),
      detectedAt: iso(now - 10 * 60_000),
      lastSeen: iso(now - 60_000),
    });

    // 1. open
    const sentAt = Date.now();
    await deliver(v1);
    let got = await alertsFor(base, id);
    assert.equal(got.length, 1, JSON.stringify(got));
    const a1 = got[0]!;
    assert.deepEqual(a1.labels, {
      alertname: 'TileHarvesting',
      service: 'tilewatch',
      kind: 'bulk-harvest',
      severity: 'high',
      subnet: '203.0.113.0/24',
      client: '203.0.113.7',
      alert_id: id,
      env: 'test',
    });
    assert.match(a1.annotations.summary!, /^HIGH bulk-harvest by 203\.0\.113\.7: rijks-SK-C-5: 96 % at full resolution/);
    assert.equal(a1.annotations.description, '- covered 96 % of image rijks-SK-C-5 at full resolution in 14 min\n- 1 tile / 1.02 s ± 0.03 s');
    assert.match(a1.annotations.images!, /^rijks-SK-C-5: 96 % at full resolution \(14000 px\), 1204 requests\nrijks-SK-A-2344: 50 % at scale 0\.5/);
    assert.equal(a1.annotations.user_agent, 'python-requests/2.31');
    assert.equal(a1.generatorURL, `https://tilewatch.example/api/alerts/${id}`);
    assert.equal(Date.parse(a1.startsAt), Date.parse(v1.detectedAt));
    const endsAt = Date.parse(a1.endsAt);
    assert.ok(endsAt >= sentAt + 3_600_000 - 1000 && endsAt <= Date.now() + 3_600_000 + 1000, `open endsAt ${a1.endsAt} is now + TTL`);
    assert.equal(a1.status.state, 'active');

    // 2. escalate: one alert remains for the id, now critical (the 'high' one was ended).
    await deliver({ ...v1, version: 2, severity: 'critical', score: 97 });
    got = await alertsFor(base, id);
    assert.deepEqual(
      got.map((a) => [a.labels.severity, a.annotations.version, a.status.state]),
      [['critical', '2', 'active']],
    );

    // 3. resolve (resolvedAt in the past, as event time is): no longer listed, and Alertmanager
    //    notifies the receiver that it is resolved, with endsAt = resolvedAt.
    const resolvedAt = iso(now - 30_000);
    const resolvedBefore = await metric(base, /^alertmanager_alerts_received_total\{status="resolved",version="v2"\} (\d+)/m);
    await deliver({ ...v1, version: 3, severity: 'critical', status: 'resolved', resolvedAt });
    assert.deepEqual(await alertsFor(base, id), []);
    assert.ok((await metric(base, /^alertmanager_alerts_received_total\{status="resolved",version="v2"\} (\d+)/m)) >= resolvedBefore + 1);
    const resolvedCritical = (): (typeof notified)[number] | undefined =>
      notified.find((n) => n.labels.alert_id === id && n.labels.severity === 'critical' && n.status === 'resolved');
    await waitFor(() => resolvedCritical() !== undefined, 10_000, `a resolved notification (got ${JSON.stringify(notified)})`);
    const r = resolvedCritical()!;
    assert.equal(Date.parse(r.endsAt), Date.parse(resolvedAt));
    assert.equal(Date.parse(r.startsAt), Date.parse(v1.detectedAt));
    assert.ok(
      notified.some((n) => n.labels.alert_id === id && n.labels.severity === 'high' && n.status === 'firing'),
      'the high version fired before the escalation',
    );
    assert.ok(
      notified.some((n) => n.labels.alert_id === id && n.labels.severity === 'high' && n.status === 'resolved'),
      'the escalation ended the high version',
    );
    assert.ok(!notified.some((n) => n.labels.alert_id === id && n.labels.severity !== 'critical' && n.labels.severity !== 'high'), 'no other severity appears');

    assert.equal(await metric(base, /^alertmanager_alerts_invalid_total\{version="v2"\} (\d+)/m), 0, 'Alertmanager rejected nothing');
    assert.deepEqual(await d.drain(2000), { drained: true, abandoned: 0 });
  });
});

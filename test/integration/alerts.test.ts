/**
 * A generated scraper log (one python-requests client sweeping full-resolution tiles of 6000 × 4000
 * IIIF images row by row at 1 request/s, over a few viewer-like browser clients): replay raises a
 * bulk-harvest alert for the scraper only, with a deterministic id and identical --alerts-out in two
 * fresh data directories, and the alerts table holds one row per alert id (read with FINAL).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Alert } from '../../services/core/alert.ts';
import { alertId } from '../../services/core/alert.ts';
import { describeRun, parseSummary, runCli, tempDir } from '../support/cli.ts';
import { scraperScenario, SCRAPER_UA, T0 } from '../support/logs.ts';
import { sqlRows } from '../support/store.ts';

interface AlertRow {
  id: string;
  version: number;
  kind: string;
  severity: string;
  score: number;
  client: string;
  client_ips: string[];
  user_agent: string;
  image_ids: string[];
  first_seen_ms: string;
  body_id: string;
  body_version: number;
}
const ALERTS_SQL = `SELECT id, version, kind, severity, score, toString(client) AS client, client_ips, user_agent, image_ids,
  toString(toUnixTimestamp64Milli(first_seen)) AS first_seen_ms, JSONExtractString(body, 'id') AS body_id,
  JSONExtractUInt(body, 'version') AS body_version
  FROM alerts FINAL ORDER BY id`;

function readAlerts(path: string): { raw: string; alerts: Alert[] } {
  const raw = readFileSync(path, 'utf8');
  return { raw, alerts: raw.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Alert) };
}

test('scraper replay: deterministic bulk-harvest alert, identical across two fresh data dirs, one row per id in alerts FINAL', async (t) => {
  const dir = tempDir(t, 'alerts');
  const log = join(dir, 'access.log');
  const sc = scraperScenario(3);
  writeFileSync(log, sc.lines.map((l) => `${l}\n`).join(''));
  const [dataA, dataB] = [join(dir, 'data-a'), join(dir, 'data-b')];
  const [outA, outB] = [join(dir, 'a', 'alerts.jsonl'), join(dir, 'b', 'alerts.jsonl')];

  const runA = await runCli(['replay', log, '--data', dataA, '--alerts-out', outA]);
  assert.equal(runA.code, 0, describeRun(runA));
  const runB = await runCli(['replay', log, '--data', dataB, '--alerts-out', outB, '--quiet']);
  assert.equal(runB.code, 0, describeRun(runB));

  const a = readAlerts(outA);
  const b = readAlerts(outB);
  assert.ok(a.alerts.length >= 1, `expected an alert for the scraper:\n${runA.stdout}`);
  assert.equal(b.raw, a.raw, 'the alert stream is byte-identical across two replays into two fresh stores');

  // Exactly one alert (one id), for the scraper only; updates carry the same id with versions 1, 2, 3 …
  const expectedId = alertId('bulk-harvest', sc.scraperIp, T0 + 60_000);
  assert.match(expectedId, /^tw-[0-9a-f]{20}$/);
  assert.deepEqual([...new Set(a.alerts.map((x) => x.id))], [expectedId]);
  assert.deepEqual(
    a.alerts.map((x) => x.version),
    a.alerts.map((_, i) => i + 1),
  );
  for (const x of a.alerts) {
    assert.equal(x.kind, 'bulk-harvest');
    assert.equal(x.client.ip, sc.scraperIp);
    assert.equal(x.client.userAgent, SCRAPER_UA);
    assert.equal(x.client.subnet, '203.0.113.0/24');
    assert.equal(x.firstSeen, new Date(T0 + 60_000).toISOString());
    assert.ok(x.score >= 50 && x.score <= 100, `score ${x.score}`);
    assert.ok(['low', 'medium', 'high', 'critical'].includes(x.severity));
    assert.equal(x.evidence.source, log);
    for (const v of sc.viewerIps) assert.notEqual(x.client.ip, v);
  }
  const last = a.alerts.at(-1)!;
  const signals = last.reasons.map((r) => r.signal);
  for (const s of ['exposure', 'raster-order', 'depth-only', 'context']) assert.ok(signals.includes(s), `signal ${s} in ${signals.join(', ')}`);
  assert.deepEqual(last.images.map((i) => i.id).sort(), [...sc.imageIds].sort().slice(0, last.images.length));
  assert.ok(last.images.length >= 2, 'the final version names the images swept so far');

  // stdout: the alert lines and the summary (one alert, the rest updates).
  const summary = parseSummary(runA.stdout);
  assert.equal(summary.alerts, 1);
  assert.match(runA.stdout, new RegExp(`^\\[(LOW|MEDIUM|HIGH|CRITICAL)\\] bulk-harvest ${sc.scraperIp.replace(/\./g, '\\.')} score \\d+ at `, 'm'));
  assert.equal(parseSummary(runB.stdout).alerts, 1);
  assert.doesNotMatch(runB.stdout, /\] bulk-harvest /, '--quiet prints no alert lines');

  // The alerts table: one row per id, the newest version, the same body.
  for (const data of [dataA, dataB]) {
    const rows = await sqlRows<AlertRow>(data, ALERTS_SQL);
    assert.deepEqual(
      rows.map((r) => ({ ...r, version: Number(r.version), body_version: Number(r.body_version), score: Math.round(Number(r.score)) })),
      [
        {
          id: expectedId,
          version: last.version,
          kind: 'bulk-harvest',
          severity: last.severity,
          score: last.score,
          client: `::ffff:${sc.scraperIp}`,
          client_ips: [sc.scraperIp],
          user_agent: SCRAPER_UA,
          image_ids: last.images.map((i) => i.id),
          first_seen_ms: String(T0 + 60_000),
          body_id: expectedId,
          body_version: last.version,
        },
      ],
    );
  }

  // Replaying the same log into A again: lines are already stored, the detector still sees them, the
  // same alert versions are written again and collapse to one row per id.
  const outA2 = join(dir, 'a', 'alerts-again.jsonl');
  const again = await runCli(['replay', log, '--data', dataA, '--alerts-out', outA2, '--quiet']);
  assert.equal(again.code, 0, describeRun(again));
  assert.equal(readAlerts(outA2).raw, a.raw);
  const rowsAgain = await sqlRows<{ id: string; version: number }>(dataA, 'SELECT id, version FROM alerts FINAL');
  assert.deepEqual(
    rowsAgain.map((r) => [r.id, Number(r.version)]),
    [[expectedId, last.version]],
  );
});

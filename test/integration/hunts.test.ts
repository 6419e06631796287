/**
 * Hunts through the real CLI and the real engine: a campaign split over one /24, a low-and-slow
 * client below every streaming threshold, viewers and an allow-listed staff campaign on the same
 * traffic. Replayed in event time; then `tilewatch hunt` over the same period and a second replay
 * must add no alert.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Alert } from '../../services/core/alert.ts';
import { queryRows, runCliOk, tempDir } from '../support/cli.ts';
import { BROWSER_UA, T0, combined, iiifInfo, iiifTile, writeLines } from '../support/logs.ts';

const CAMPAIGN = Array.from({ length: 8 }, (_, i) => `203.0.113.${10 + i}`);
const STAFF = Array.from({ length: 8 }, (_, i) => `10.20.1.${10 + i}`);
const VIEWERS = Array.from({ length: 6 }, (_, i) => `198.51.100.${20 + i}`);
const SLOW = '192.0.2.50';
const UAS = [BROWSER_UA, 'Mozilla/5.0 (Macintosh) Safari/605.1.15', 'Mozilla/5.0 (Windows NT 10.0) Firefox/135.0'];

function buildLog(): string[] {
  const ev: Array<{ ts: number; line: string }> = [];
  const split = (ips: readonly string[], image: string, start: number): void => {
    // 8192 × 6144 at 256 px: 768 full-resolution tiles, interleaved between the members, one every 3 s each.
    let k = 0;
    for (let r = 0; r < 24; r++)
      for (let c = 0; c < 32; c++, k++) {
        const ip = ips[k % ips.length]!;
        const ts = start + Math.floor(k / ips.length) * 3000 + (k % ips.length) * 200;
        ev.push({ ts, line: combined({ ip, ts, path: iiifTile(image, 8192, 6144, c, r), ua: 'curl/8.5.0' }) });
      }
  };
  split(CAMPAIGN, 'camp-img', T0 + 10 * 60_000);
  split(STAFF, 'staff-img', T0 + 20 * 60_000);
  // Viewers of the campaign's image: page context, a coarse whole image, then overlapping deep tiles near the centre, in bursts.
  VIEWERS.forEach((ip, v) => {
    let ts = T0 + v * 7 * 60_000;
    const ua = UAS[v % UAS.length]!;
    ev.push({ ts, line: combined({ ip, ts, path: iiifInfo('camp-img'), ua, referer: 'https://museum.example/objects/camp' }) });
    ts += 400;
    ev.push({ ts, line: combined({ ip, ts, path: '/iiif/2/camp-img/full/1024,/0/default.jpg', ua, referer: 'https://museum.example/objects/camp' }) });
    for (let burst = 0; burst < 4; burst++) {
      ts += 20_000;
      for (let t = 0; t < 8; t++) {
        const c = 14 + ((t + burst + v) % 4);
        const r = 10 + Math.floor(t / 4) + (burst % 2);
        ev.push({ ts: ts + t * 30, line: combined({ ip, ts: ts + t * 30, path: iiifTile('camp-img', 8192, 6144, c, r), ua, referer: 'https://museum.example/objects/camp' }) });
      }
    }
  });
  // Low and slow: one full-resolution tile every 5 minutes for 7 hours (84 tiles, well below one screen an hour).
  for (let k = 0; k < 84; k++) {
    const ts = T0 + 5 * 60_000 + k * 5 * 60_000;
    ev.push({ ts, line: combined({ ip: SLOW, ts, path: iiifTile('slow-img', 4096, 4096, k % 16, Math.floor(k / 16)), ua: 'Wget/1.21.2' }) });
  }
  return ev.sort((a, b) => a.ts - b.ts).map((e) => e.line);
}

function readAlerts(path: string): Alert[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Alert);
}

test('hunts catch a split campaign and a low-and-slow client, not viewers or staff; re-running adds nothing', { timeout: 240_000 }, async (t) => {
  const dir = tempDir(t, 'hunts');
  const log = join(dir, 'access.log');
  writeLines(log, buildLog());
  const data = join(dir, 'data');
  const out = join(dir, 'alerts.jsonl');
  // The streaming detector also catches this slow client (raster order, regular cadence, depth only);
  // the hunt would then leave it to that alert, so this test asks the hunt to report it anyway.
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ hunts: { lowAndSlow: { skipAlerted: false } } }));
  await runCliOk(['replay', log, '--config', config, '--data', data, '--allow-cidr', '10.20.0.0/16', '--alerts-out', out, '--quiet']);
  const alerts = readAlerts(out);

  const campaigns = alerts.filter((a) => a.kind === 'campaign');
  assert.equal(new Set(campaigns.map((a) => a.id)).size, 1, `one campaign alert: ${JSON.stringify(campaigns.map((a) => a.subject))}`);
  const camp = campaigns[0]!;
  assert.equal(camp.subject, 'net:203.0.113.0/24');
  assert.deepEqual([...camp.client.ips].sort(), [...CAMPAIGN].sort());
  assert.ok(Date.parse(camp.detectedAt) - (T0 + 10 * 60_000) <= 30 * 60_000, `campaign detected at ${camp.detectedAt}`);
  assert.ok(camp.reasons.some((r) => r.signal === 'low-overlap') && camp.reasons.some((r) => r.signal === 'depth-only'));

  const slow = alerts.filter((a) => a.kind === 'low-and-slow');
  assert.equal(new Set(slow.map((a) => a.id)).size, 1, 'one low-and-slow alert');
  assert.equal(slow[0]!.client.ip, SLOW);
  assert.ok(Date.parse(slow[0]!.detectedAt) - (T0 + 5 * 60_000) <= 6 * 3_600_000, `low-and-slow detected at ${slow[0]!.detectedAt}`);

  // Every address any alert names is accused: viewers and staff by none, image exposure included.
  const named = new Set(alerts.flatMap((a) => [a.client.ip, ...a.client.ips]));
  for (const ip of [...VIEWERS, ...STAFF]) assert.ok(!named.has(ip), `${ip} must not be alerted`);
  // The campaign image's exposure belongs to the campaign's incident (its members are accused): no second alert for it.
  const exposure = alerts.filter((a) => a.kind === 'image-exposure');
  assert.deepEqual(exposure.map((a) => a.subject), [], 'exposure caused by accused clients is part of their incident, not an alert');
  assert.equal(new Set(alerts.filter((a) => CAMPAIGN.includes(a.client.ip)).map((a) => a.incident?.id)).size, 1, 'the campaign and its members: one incident');

  const stored = await queryRows<{ id: string; kind: string }>(data, `SELECT id, kind FROM alerts FINAL WHERE kind IN ('campaign', 'low-and-slow') ORDER BY id`);
  assert.deepEqual(stored.map((r) => r.id).sort(), [camp.id, slow[0]!.id].sort());
  const runs = await queryRows<{ n: string }>(data, `SELECT count() AS n FROM hunt_runs`);
  assert.ok(Number(runs[0]!.n) > 0);

  // The same period again: open and resolved alerts are continued, never duplicated.
  const from = new Date(T0).toISOString();
  const to = new Date(T0 + 8 * 3_600_000).toISOString();
  const again = await runCliOk(['hunt', '--config', config, '--data', data, '--from', from, '--to', to, '--allow-cidr', '10.20.0.0/16', '--json']);
  const rerun = JSON.parse(again.stdout) as { alerts: Alert[]; summary: { windows: number } };
  assert.ok(rerun.summary.windows > 40);
  assert.deepEqual(
    rerun.alerts.filter((a) => a.version === 1).map((a) => `${a.kind} ${a.subject}`),
    [],
    'no new hunt alert when the period is hunted again',
  );

  const out2 = join(dir, 'alerts2.jsonl');
  await runCliOk(['replay', log, '--config', config, '--data', data, '--allow-cidr', '10.20.0.0/16', '--alerts-out', out2, '--quiet']);
  const ids = await queryRows<{ n: string }>(data, `SELECT uniqExact(id) AS n FROM alerts WHERE kind IN ('campaign', 'low-and-slow')`);
  assert.equal(Number(ids[0]!.n), 2, 'a second replay adds no alert ids');
});

/**
 * Event-time retention of hunt_cells (migration 009): after a window, the hunt runner drops the day
 * partitions of hunt_cells wholly before the day preceding its longest look-back and records from when
 * on hunt_cells is complete; a window reaching further back (a backfill) then reads tile_requests and
 * measures exactly what it measured from hunt_cells before the drop.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_HUNT_CONFIG, type HuntConfig } from '../../services/core/hunts/huntConfig.ts';
import * as q from '../../services/hunts/huntQueries.ts';
import { HuntRunner } from '../../services/hunts/huntRunner.ts';
import { createSimulation } from '../../services/sim/index.ts';
import { fromIpv6Text } from '../../services/store/clientIp.ts';
import { openStore } from '../../services/store/openStore.ts';
import { readRows } from '../../services/store/sql.ts';
import { runCliOk, tempDir } from '../support/cli.ts';

const H = 3_600_000;
const DAY = 24 * H;

test('hunt_cells keeps what the look-backs need: older days are dropped, and older windows read tile_requests with the same result', { timeout: 240_000 }, async (t) => {
  const dir = tempDir(t, 'cells-retention');
  const sim = createSimulation({
    seed: 'cells-retention',
    hours: 60,
    humansPerPeakHour: 3,
    threats: { 'raster-1s': 1, 'parallel-fast': 0, jittered: 0, 'shuffled-browser': 0, 'distributed-subnet': 1, 'distributed-unrelated': 0, 'low-and-slow': 0, 'half-resolution': 0, 'human-mimic': 0, 'full-download': 0 },
    hardBenign: { 'campus-nat': 0, 'office-nat': 0, 'classroom-nat': 0, cgnat: 0, 'corporate-proxy': 0, 'deep-researcher': 0, enthusiast: 0, 'mobile-rotating': 0 },
  });
  const lines = [...sim.lines()];
  const logPath = join(dir, 'access.log');
  writeFileSync(logPath, lines.join('\n') + '\n');
  const dataDir = join(dir, 'data');
  await runCliOk(['replay', logPath, '--data', dataDir, '--no-hunts', '--quiet'], { timeoutMs: 180_000 });

  const store = await openStore({ kind: 'embedded', dataDir });
  t.after(() => store.close());
  const span = await readRows<{ lo: number; hi: number }>(store.client, 'SELECT toUnixTimestamp(min(ts)) * 1000 AS lo, toUnixTimestamp(max(ts)) * 1000 AS hi FROM tile_requests');
  const first = Math.floor(span[0]!.lo / DAY) * DAY;
  const end = Math.ceil(span[0]!.hi / (10 * 60_000)) * 10 * 60_000;
  assert.ok(end - first > 2 * DAY, 'the data spans more than two days');

  const ids = await readRows<{ c: string; i: string }>(store.client, `SELECT DISTINCT IPv6NumToString(client) AS c, image_id AS i FROM tile_requests WHERE image_id != ''`);
  const clients = [...new Set(ids.map((r) => fromIpv6Text(r.c)))];
  const images = [...new Set(ids.map((r) => r.i))];
  const ex = { cidrs: [], userAgentPatterns: [] };
  const p = { protectedScale: 0.5, openDataLongEdge: 2048 };
  const old = { from: first + 10 * H, to: first + 16 * H, recentFrom: first + 15 * H };
  const sorted = <T>(rows: T[]): string[] => rows.map((r) => JSON.stringify(r)).sort();
  const before = sorted(await q.campaignMembers(store.client, old, ex, p, clients, images));
  assert.ok(before.length > 0, 'the old window has member profiles (read from hunt_cells)');

  // Look-backs of two hours: the newest window's cutoff is the day before its look-back's first day.
  const short: HuntConfig = {
    ...DEFAULT_HUNT_CONFIG,
    lowAndSlow: { ...DEFAULT_HUNT_CONFIG.lowAndSlow, lookbackMs: 2 * H },
    campaign: { ...DEFAULT_HUNT_CONFIG.campaign, lookbackMs: 2 * H },
    imageExposure: { ...DEFAULT_HUNT_CONFIG.imageExposure, lookbackMs: 2 * H },
  };
  const runner = new HuntRunner({ store, config: short, exclusions: ex, onAlert: () => {} });
  await runner.runAt(end);
  const cutoff = Math.floor((end - 2 * H) / DAY) * DAY - DAY;
  assert.ok(cutoff > first, 'the cutoff lies after the first day');
  const parts = await readRows<{ partition: string }>(store.client, "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = 'hunt_cells' AND active ORDER BY partition");
  const cutoffDay = new Date(cutoff).toISOString().slice(0, 10).replace(/-/g, '');
  assert.ok(parts.length > 0 && parts.every((x) => x.partition >= cutoffDay), `no partition before ${cutoffDay}: ${parts.map((x) => x.partition).join(', ')}`);
  const retained = await readRows<{ since: number }>(store.client, 'SELECT toUnixTimestamp(max(since)) * 1000 AS since FROM hunt_cells_retained');
  assert.equal(retained[0]!.since, cutoff, 'the horizon is recorded');

  // The old window's cells are gone (read as if complete, they say something else) …
  const stale = sorted(await q.campaignMembers(store.client, old, ex, p, clients, images));
  assert.notDeepEqual(stale, before, 'the dropped days are really gone from hunt_cells');
  // … and with the recorded horizon it reads tile_requests: the same measurement as before the drop.
  assert.deepEqual(sorted(await q.campaignMembers(store.client, { ...old, cellsSince: cutoff }, ex, p, clients, images)), before);
});

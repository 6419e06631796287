/**
 * The incremental campaign and image-exposure hunts (core/hunts/campaignState.ts, exposureState.ts
 * over hunt_cells) return the SQL hunts' rows on every window: simulated hours with /24 campaigns, a campus NAT crowd and visitors are
 * stored, then every 10-minute window end is hunted both ways — the state moved bucket by bucket
 * (buckets leave a 2-hour look-back, so removal is exercised), with and without exclusions — and the
 * two candidate lists must be equal, number for number. Then a replay with the hunts on writes the
 * same alert lines as `tilewatch hunt` (the SQL path) over the same store.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSimulation, RANGES } from '../../services/sim/index.ts';
import * as q from '../../services/hunts/huntQueries.ts';
import { fromIpv6Text } from '../../services/store/clientIp.ts';
import { openStore } from '../../services/store/openStore.ts';
import { readRows } from '../../services/store/sql.ts';
import { compareCampaigns, compareExposure } from '../support/incrementalCompare.ts';
import { runCliOk, tempDir } from '../support/cli.ts';

const STEP = 600_000;

test('incremental campaign candidates and exposure rows equal the SQL hunts on every window, with and without exclusions', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t, 'campaign-state');
  const sim = createSimulation({
    seed: 'campaign-state',
    hours: 5,
    humansPerPeakHour: 14,
    threats: { 'raster-1s': 1, 'parallel-fast': 0, jittered: 0, 'shuffled-browser': 0, 'distributed-subnet': 2, 'distributed-unrelated': 1, 'low-and-slow': 0, 'half-resolution': 0, 'human-mimic': 0, 'full-download': 0 },
    hardBenign: { 'campus-nat': 1, 'office-nat': 0, 'classroom-nat': 0, cgnat: 0, 'corporate-proxy': 0, 'deep-researcher': 0, enthusiast: 0, 'mobile-rotating': 0 },
  });
  const logPath = join(dir, 'access.log');
  const lines = [...sim.lines()];
  writeFileSync(logPath, lines.join('\n') + '\n');
  const dataDir = join(dir, 'data');
  await runCliOk(['replay', logPath, '--data', dataDir, '--no-hunts', '--quiet'], { timeoutMs: 180_000 });

  const tsOf = (line: string): number => {
    const m = /\[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\]/.exec(line)!;
    return Date.parse(`${m[2]} ${m[1]} ${m[3]} ${m[4]}:${m[5]}:${m[6]} GMT${m[7]}`);
  };
  const first = Math.ceil(tsOf(lines[0]!) / STEP) * STEP;
  const last = Math.ceil(tsOf(lines[lines.length - 1]!) / STEP) * STEP;
  const ends: number[] = [];
  for (let e = first + STEP; e <= last; e += STEP) ends.push(e);

  const store = await openStore({ kind: 'embedded', dataDir });
  try {
    const campusUa = lines.find((l) => l.includes(' - - ['))!.split('"').at(-2)!;
    for (const [name, exclusions] of [
      ['no exclusions', { cidrs: [], userAgentPatterns: [] }],
      ['a CIDR and a user agent excluded', { cidrs: [RANGES.internalStaff, '203.0.113.0/24'], userAgentPatterns: [`(?i)${campusUa.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`] }],
    ] as const) {
      const ids = await readRows<{ c: string; i: string }>(store.client, `SELECT DISTINCT IPv6NumToString(client) AS c, image_id AS i FROM tile_requests WHERE image_id != ''`);
      const everyone = { clients: [...new Set(ids.map((r) => fromIpv6Text(r.c)))], images: [...new Set(ids.map((r) => r.i))] };
      const res = await compareCampaigns(store.client, ends, {
        lookbackMs: 2 * 3_600_000,
        stepMs: STEP,
        exclusions,
        protectedScale: 0.5,
        openDataLongEdge: 2048,
        gates: { minMembers: 4, minUnionCoverage: 0.5 },
      }, everyone);
      assert.equal(res.length, ends.length);
      for (const r of res) assert.deepEqual(r.incremental, r.sql, `${name}: window ending ${new Date(r.windowEnd).toISOString()}`);
      // Member profiles (every client on every image) from the state equal the SQL over tile_requests.
      for (const r of res) assert.deepEqual(r.membersIncremental, r.membersSql, `${name}: member profiles, window ending ${new Date(r.windowEnd).toISOString()}`);
      assert.ok(res.some((r) => r.membersSql.length > 50), `${name}: the member comparison covers profiles`);
      const found = res.filter((r) => r.sql.length > 0).length;
      assert.ok(found >= 3, `${name}: the comparison covers windows with candidates (${found} of ${res.length})`);

      // Image exposure: hourly windows over a 3-hour look-back (buckets leave), every 10-minute end too.
      const exp = await compareExposure(store.client, ends, {
        lookbackMs: 3 * 3_600_000,
        stepMs: STEP,
        exclusions,
        protectedScale: 0.5,
        openDataLongEdge: 2048,
        gates: { minUnionCoverage: 0.5, minEdgeRatio: 1.5 },
      });
      for (const r of exp) assert.deepEqual(r.incremental, r.sql, `${name}: exposure, window ending ${new Date(r.windowEnd).toISOString()}`);
      const exposedWindows = exp.filter((r) => r.sql.length > 0).length;
      assert.ok(exposedWindows >= 3, `${name}: the exposure comparison covers windows with exposed images (${exposedWindows} of ${exp.length})`);
    }

    // The look-back measurements read from hunt_cells (whole buckets) equal those read from tile_requests.
    const ids = await readRows<{ c: string; i: string }>(store.client, `SELECT DISTINCT IPv6NumToString(client) AS c, image_id AS i FROM tile_requests WHERE image_id != ''`);
    const clients = [...new Set(ids.map((r) => fromIpv6Text(r.c)))];
    const images = [...new Set(ids.map((r) => r.i))];
    const ex = { cidrs: [RANGES.internalStaff], userAgentPatterns: [] };
    const p = { protectedScale: 0.5, openDataLongEdge: 2048 };
    const sorted = <T>(rows: T[]): string[] => rows.map((r) => JSON.stringify(r)).sort();
    let compared = 0;
    let slowCompared = 0;
    for (const end of ends.filter((e) => e % 3_600_000 === 0)) {
      const w = { from: end - 3 * 3_600_000, to: end, recentFrom: end - 3_600_000 };
      assert.deepEqual(await q.activeHoursHistogram(store.client, w, ex, p), await q.activeHoursHistogram(store.client, w, ex, p, 'tile_requests'), 'active hours');
      const cov = await q.clientImageCoverage(store.client, w, ex, p, clients);
      assert.deepEqual(sorted(cov), sorted(await q.clientImageCoverage(store.client, w, ex, p, clients, 'tile_requests')), 'coverage');
      const members = await q.campaignMembers(store.client, w, ex, p, clients, images);
      assert.deepEqual(sorted(members), sorted(await q.campaignMembers(store.client, w, ex, p, clients, images, 'tile_requests')), 'member profiles');
      const contributors = await q.imageContributors(store.client, w, ex, p, images);
      assert.deepEqual(sorted(contributors), sorted(await q.imageContributors(store.client, w, ex, p, images, 'tile_requests')), 'exposure contributors');
      // Low-and-slow counts its gates in hunt_cells first and reads only the clients that may pass them.
      const slowGates = { minTiles: 20, minActiveHours: 2 };
      const slow = await q.slowClients(store.client, w, ex, p, slowGates);
      assert.deepEqual(sorted(slow), sorted(await q.slowClients(store.client, w, ex, p, slowGates, 'tile_requests')), 'low-and-slow clients');
      slowCompared += slow.length;
      compared += cov.length + members.length + contributors.length;
    }
    assert.ok(compared > 100, `the look-back comparisons covered rows (${compared})`);
    assert.ok(slowCompared > 5, `the low-and-slow comparison covered clients (${slowCompared})`);
  } finally {
    await store.close();
  }

  // The replay with hunts (incremental campaigns) and `tilewatch hunt` (the SQL) agree on the alerts.
  const a = join(dir, 'with-hunts.jsonl');
  const replayed = join(dir, 'replayed');
  await runCliOk(['replay', logPath, '--data', replayed, '--alerts-out', a, '--quiet'], { timeoutMs: 180_000 });
  const hunted = await runCliOk(['hunt', '--data', dataDir, '--json'], { timeoutMs: 180_000 });
  const campaignsOf = (alerts: Array<{ kind: string; subject?: string; client: { ips: string[] } }>): string[] =>
    [...new Set(alerts.filter((x) => x.kind === 'campaign').map((x) => `${x.subject ?? ''} ${[...x.client.ips].sort().join(',')}`))].sort();
  const fromReplay = readFileSync(a, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; subject?: string; client: { ips: string[] } });
  const fromHunt = (JSON.parse(hunted.stdout) as { alerts: Array<{ kind: string; subject?: string; client: { ips: string[] } }> }).alerts;
  assert.ok(campaignsOf(fromReplay).length > 0, 'the replay raised campaign alerts');
  assert.deepEqual(campaignsOf(fromReplay), campaignsOf(fromHunt), 'same campaigns from the incremental state as from the SQL');
});

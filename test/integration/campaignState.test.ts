/**
 * The incremental campaign hunt (core/hunts/campaignState.ts over hunt_cells) returns the SQL hunt's
 * candidates on every window: simulated hours with /24 campaigns, a campus NAT crowd and visitors are
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
import { openStore } from '../../services/store/openStore.ts';
import { compareCampaigns } from '../support/campaignCompare.ts';
import { runCliOk, tempDir } from '../support/cli.ts';

const STEP = 600_000;

test('incremental campaign candidates equal the SQL hunt on every window, with and without exclusions', { timeout: 300_000 }, async (t) => {
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
      const res = await compareCampaigns(store.client, ends, {
        lookbackMs: 2 * 3_600_000,
        stepMs: STEP,
        exclusions,
        protectedScale: 0.5,
        openDataLongEdge: 2048,
        gates: { minMembers: 4, minUnionCoverage: 0.5 },
      });
      assert.equal(res.length, ends.length);
      for (const r of res) assert.deepEqual(r.incremental, r.sql, `${name}: window ending ${new Date(r.windowEnd).toISOString()}`);
      const found = res.filter((r) => r.sql.length > 0).length;
      assert.ok(found >= 3, `${name}: the comparison covers windows with candidates (${found} of ${res.length})`);
    }
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

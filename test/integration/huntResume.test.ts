/**
 * Hunts resume where they stopped (`hunt_runs`) and backfill only when asked, through the real CLI:
 * a replay hunts its windows; `tilewatch hunt` without a period then runs none of them again, nor
 * does a second replay of the same log; a replay of later data runs only the later windows; and
 * `tilewatch hunt --from --to` runs exactly the windows of that period again. Runs are told apart
 * by `ran_at` (wall clock of the run), so a merge of the ReplacingMergeTree ledger cannot hide one.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCliOk, tempDir } from '../support/cli.ts';
import { BROWSER_UA, T0, combined, iiifTile, writeLines } from '../support/logs.ts';
import { sqlRows } from '../support/store.ts';
import { startIngest, stopGracefully, waitHunted, waitReady } from '../support/ingest.ts';
import { produceLines, startCluster, stopCluster, waitUntilCommitted } from '../support/kafka.ts';

const H = 3_600_000;
const STEP = 10 * 60_000;

/** Six viewers, each one tile every 2 minutes, from `start` for `hours`: every 10-minute window has data. */
function viewerLog(start: number, hours: number): string[] {
  const lines: Array<{ ts: number; line: string }> = [];
  for (let v = 0; v < 6; v++)
    for (let t = start + v * 10_000, k = 0; t < start + hours * H; t += 120_000, k++) {
      const ip = `198.51.100.${30 + v}`;
      lines.push({ ts: t, line: combined({ ip, ts: t, path: iiifTile(`img-${v % 3}`, 4096, 4096, (k + v) % 16, (k >> 4) % 16), ua: BROWSER_UA }) });
    }
  return lines.sort((a, b) => a.ts - b.ts).map((l) => l.line);
}

/** Distinct window ends (epoch ms, ascending) whose runs were recorded at or after `since` (wall clock). */
async function windowsRunSince(data: string, since: number): Promise<number[]> {
  const rows = await sqlRows<{ e: number }>(
    data,
    'SELECT DISTINCT toUnixTimestamp64Milli(window_end) AS e FROM hunt_runs WHERE ran_at >= fromUnixTimestamp64Milli({since:Int64}) ORDER BY e',
    { since },
  );
  return rows.map((r) => Number(r.e));
}

/** Rows (one per hunt and window) recorded at or after `since`. */
async function rowsRunSince(data: string, since: number): Promise<number> {
  const [r] = await sqlRows<{ n: string }>(data, 'SELECT count() AS n FROM hunt_runs WHERE ran_at >= fromUnixTimestamp64Milli({since:Int64})', { since });
  return Number(r!.n);
}

interface HuntJson {
  readonly summary: { mode: string; windows: number; rerun: number; windowEnds: string[] };
}

test('hunts resume after the last hunted window and re-run a period only when asked to backfill it', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t, 'hunt-resume');
  const data = join(dir, 'data');
  const first = join(dir, 'first.log');
  writeLines(first, viewerLog(T0, 3));

  // 1. A replay hunts every window with data: 18 in the three hours and the hour after its last event.
  const t1 = Date.now();
  await runCliOk(['replay', first, '--data', data, '--quiet']);
  const hunted = await windowsRunSince(data, t1);
  assert.ok(hunted.length >= 18, `windows hunted by the replay: ${hunted.length}`);
  assert.ok(hunted.every((e) => e % STEP === 0));
  const last = hunted[hunted.length - 1]!;
  assert.equal(await rowsRunSince(data, t1), hunted.length * 3, 'one ledger row per hunt and window');

  // 2. `tilewatch hunt` without a period resumes: nothing is left to hunt, no window runs again.
  const t2 = Date.now();
  const resumed = JSON.parse((await runCliOk(['hunt', '--data', data, '--json'])).stdout) as HuntJson;
  assert.equal(resumed.summary.mode, 'resume');
  assert.equal(resumed.summary.windows, 0, `resume ran ${JSON.stringify(resumed.summary.windowEnds)}`);
  assert.equal(await rowsRunSince(data, t2), 0, 'a resumed hunt writes no run of a hunted window');

  // 3. The same log replayed again: its windows ran already, none runs again.
  const t3 = Date.now();
  const again = await runCliOk(['replay', first, '--data', data, '--quiet']);
  assert.match(again.stdout, /hunts +0 event-time windows/, again.stdout);
  assert.match(again.stderr, /were hunted before; they were not run again/);
  assert.equal(await rowsRunSince(data, t3), 0, 'a second replay of the same log re-runs no window');

  // 4. Later data: only its windows run, none at or before the last hunted one.
  const later = join(dir, 'later.log');
  writeLines(later, viewerLog(T0 + 5 * H, 1));
  const t4 = Date.now();
  await runCliOk(['replay', later, '--data', data, '--quiet']);
  const next = await windowsRunSince(data, t4);
  assert.ok(next.length >= 6, `windows of the later data: ${next.length}`);
  assert.ok(next[0]! > last, `first window of the later replay ${new Date(next[0]!).toISOString()} is after the last hunted ${new Date(last).toISOString()}`);
  assert.ok(next[0]! >= T0 + 5 * H + STEP);

  // 5. Backfill: exactly the windows of (T0+1h, T0+2h] run again, and the summary says which.
  const from = T0 + H;
  const to = T0 + 2 * H;
  const t5 = Date.now();
  const back = JSON.parse((await runCliOk(['hunt', '--data', data, '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--json'])).stdout) as HuntJson;
  const expected = hunted.filter((e) => e > from && e <= to);
  assert.equal(expected.length, 6);
  assert.equal(back.summary.mode, 'backfill');
  assert.deepEqual(back.summary.windowEnds, expected.map((e) => new Date(e).toISOString()));
  assert.equal(back.summary.rerun, 6, 'all six had run before');
  assert.deepEqual(await windowsRunSince(data, t5), expected, 'the ledger records exactly the backfilled windows');
  assert.equal(await rowsRunSince(data, t5), expected.length * 3);

  // 6. And a resume after the backfill still finds nothing to do (the backfill did not move it back).
  const t6 = Date.now();
  const after = JSON.parse((await runCliOk(['hunt', '--data', data, '--json'])).stdout) as HuntJson;
  assert.equal(after.summary.windows, 0);
  assert.equal(await rowsRunSince(data, t6), 0);
});

test('an ingest started on a store with hunted history runs only the windows of new data', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t, 'hunt-resume-ingest');
  const data = join(dir, 'data');
  const first = join(dir, 'first.log');
  writeLines(first, viewerLog(T0, 3));
  const t1 = Date.now();
  await runCliOk(['replay', first, '--data', data, '--quiet']);
  const hunted = await windowsRunSince(data, t1);
  assert.ok(hunted.length >= 18);
  const last = hunted[hunted.length - 1]!;

  const topic = 'tile-access-resume';
  const group = 'tw-resume';
  const cluster = startCluster({ topics: { [topic]: 1 } });
  t.after(() => stopCluster(cluster));
  const later = viewerLog(T0 + 5 * H, 1).map((value) => ({ value }));
  await produceLines(cluster.bootstrap, topic, later);
  const t2 = Date.now();
  const ing = await startIngest({ bootstrap: cluster.bootstrap, topic, group, data, extra: ['--log-level', 'info'] });
  try {
    await waitReady(ing);
    await waitUntilCommitted(cluster.bootstrap, group, topic, 90_000);
    // Ingest hunts on the member holding the hunt lease, one session timeout after it took it: wait
    // for the first window of the new data before stopping (the assertions below read hunt_runs).
    await waitHunted(ing, T0 + 5 * H + STEP);
  } finally {
    await stopGracefully(ing);
  }
  const ran = await windowsRunSince(data, t2);
  assert.deepEqual(ran.filter((e) => e <= last).map((e) => new Date(e).toISOString()), [], 'the restart re-ran no hunted window');
  // Windows after the last hunted one run: the new data's, and the hour after the replay's last event
  // (a replay stops at the grid point after its last event; those windows have data and never ran).
  assert.ok(
    ran.some((e) => e >= T0 + 5 * H + STEP),
    `the ingest hunted the new data's windows: ${ran.map((e) => new Date(e).toISOString()).join(', ')}`,
  );
});

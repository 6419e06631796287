/**
 * `tilewatch follow` end to end (the real CLI, the embedded store): every line written is stored
 * once — through rename rotation (with the writer still appending to the renamed file), copytruncate,
 * files appearing in a glob, partial last lines, and kill -9 at each step of a batch's store.
 * Each line carries its number in its size field; the stored rows must be exactly the written numbers.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Follower } from '../support/follow.ts';
import { existsSync } from 'node:fs';
import { runCli } from '../support/cli.ts';
import { openStore } from '../../services/store/openStore.ts';
import { appendNumbered, numberedLine, range, startFollow, stopFollow, storedNumbers, waitCaughtUp, waitStored } from '../support/follow.ts';

/** The follower's exit, or a failure after `ms` (it kills the follower). */
async function exitWithin(f: Follower, ms = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      f.child.kill('SIGKILL');
      reject(new Error(`follow did not exit within ${ms} ms: ${f.stderr().slice(-800)}`));
    }, ms);
  });
  try {
    return await Promise.race([f.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tw-follow-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('inputs follow cannot read are usage errors (exit 2) before any store is created', { timeout: 60_000 }, async () => {
  const dir = tmp();
  const data = join(dir, 'data');
  const cases: Array<[string[], RegExp]> = [
    [['follow', dir, '--data', data], /not a regular file \(a directory: quote a glob/],
    [['follow', '-', '--data', data], /follow reads files, not stdin/],
    [['serve', '--data', data, '--http-port', '0'], /serve needs --brokers \(Kafka\) or PATHs to follow/],
    [['serve', join(dir, 'a.log'), '--brokers', '127.0.0.1:9', '--data', data], /not both/],
    [['follow', join(dir, 'a.log'), '--format', 'log_format main \'$remote_addr $nosuchvariable\';', '--data', data], /nosuchvariable/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(existsSync(data), false, 'no data directory for a run that could not start');
});

test('rename rotation, a file that does not exist yet, a partial last line: every line once', { timeout: 120_000 }, async () => {
  const dir = tmp();
  const log = join(dir, 'access.log');
  const data = join(dir, 'data');
  const f = await startFollow([log], data, ['--no-hunts']);
  try {
    appendNumbered(log, 0, 50);
    // A line still being written: not stored until its newline arrives.
    appendFileSync(log, numberedLine(50).slice(0, 40));
    await waitStored(f, 50);
    await new Promise((r) => setTimeout(r, 800));
    appendFileSync(log, `${numberedLine(50).slice(40)}\n`);
    appendNumbered(log, 51, 60);
    // logrotate without copytruncate: rename, the writer keeps its descriptor a moment, then reopens.
    renameSync(log, `${log}.1`);
    appendNumbered(`${log}.1`, 60, 70);
    writeFileSync(log, '');
    appendNumbered(log, 70, 100);
    await waitStored(f, 100);
  } finally {
    assert.equal(await stopFollow(f), 0, f.stderr().slice(-1000));
  }
  const s = await storedNumbers(data);
  assert.deepEqual(s.numbers, range(0, 100));
  assert.equal(s.deadLetters, 0);
});

test('copytruncate: lines written before the truncation but not yet read come from the copy', { timeout: 120_000 }, async () => {
  const dir = tmp();
  const log = join(dir, 'access.log');
  const data = join(dir, 'data');
  appendNumbered(log, 0, 30);
  const f = await startFollow([log], data, ['--no-hunts']);
  try {
    await waitStored(f, 30);
    // Appended and rotated at once (before the next poll): the copy holds lines 30–39.
    appendNumbered(log, 30, 40);
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendNumbered(log, 40, 55);
    await waitStored(f, 55);
    // A second copytruncate after the reader has caught up.
    copyFileSync(log, `${log}.2`);
    truncateSync(log, 0);
    appendNumbered(log, 55, 60);
    await waitStored(f, 60);
  } finally {
    assert.equal(await stopFollow(f), 0, f.stderr().slice(-1000));
  }
  assert.deepEqual((await storedNumbers(data)).numbers, range(0, 60));
});

test('a quoted glob picks up files that appear; rotated names it matches are not read twice; .gz is skipped', { timeout: 120_000 }, async () => {
  const dir = tmp();
  const data = join(dir, 'data');
  appendNumbered(join(dir, 'a.log'), 0, 20);
  const f = await startFollow([join(dir, '*.log*')], data, ['--no-hunts']);
  try {
    await waitStored(f, 20);
    appendNumbered(join(dir, 'b.log'), 20, 45);
    await waitStored(f, 45);
    // a.log rotated to a.log.1 (still matched by the glob), a new a.log.
    renameSync(join(dir, 'a.log'), join(dir, 'a.log.1'));
    appendNumbered(join(dir, 'a.log'), 45, 60);
    writeFileSync(join(dir, 'old.log.2.gz'), 'not read');
    await waitStored(f, 60);
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    assert.equal(await stopFollow(f), 0, f.stderr().slice(-1000));
  }
  assert.deepEqual((await storedNumbers(data)).numbers, range(0, 60));
});

test('kill -9 after an intent, after an insert before its ledger row, and at a random moment: restarts store every line once', { timeout: 240_000 }, async () => {
  const dir = tmp();
  const log = join(dir, 'access.log');
  const data = join(dir, 'data');
  let next = 0;
  const write = (n: number): void => {
    appendNumbered(log, next, next + n);
    next += n;
  };
  write(200);
  // Killed right after recording its 2nd batch, before inserting it.
  let f = await startFollow([log], data, ['--no-hunts', '--debug-kill', 'intent:2', '--max-batch-rows', '60'], false);
  assert.equal((await exitWithin(f)).signal, 'SIGKILL');
  // Killed after the rows of its 2nd batch are inserted, before ingest_batches records it: the restart inserts it again with its token.
  write(100);
  f = await startFollow([log], data, ['--no-hunts', '--debug-kill', 'rows:2', '--max-batch-rows', '60'], false);
  assert.equal((await exitWithin(f)).signal, 'SIGKILL');
  // Killed by the test while lines keep coming.
  f = await startFollow([log], data, ['--no-hunts', '--max-batch-rows', '40']);
  for (let i = 0; i < 10; i++) {
    write(37);
    await new Promise((r) => setTimeout(r, 60));
  }
  f.child.kill('SIGKILL');
  await f.exited;
  // A rotation while stopped: the rest of the renamed file is read at the next start.
  write(25);
  renameSync(log, `${log}.1`);
  write(30);
  f = await startFollow([log], data, ['--no-hunts']);
  try {
    await waitCaughtUp(f);
  } finally {
    assert.equal(await stopFollow(f), 0, f.stderr().slice(-1000));
  }
  const s = await storedNumbers(data);
  assert.equal(s.numbers.length, next, 'one row per line');
  assert.deepEqual(s.numbers, range(0, next));
});

test('hunts run on their event-time schedule as lines are stored, and a restart does not run a window again', { timeout: 120_000 }, async () => {
  const dir = tmp();
  const log = join(dir, 'access.log');
  const data = join(dir, 'data');
  // 40 minutes of event time two hours ago, a line every 10 s; windows every 5 minutes, 2 minutes' lateness.
  const t0 = Math.floor((Date.now() - 2 * 3_600_000) / 300_000) * 300_000;
  const write = (from: number, to: number): void => appendFileSync(log, range(from, to).map((i) => `${numberedLine(i, t0 + i * 10_000)}\n`).join(''));
  write(0, 120);
  let f = await startFollow([log], data, ['--hunt-every', '5']);
  await waitStored(f, 120);
  assert.equal(await stopFollow(f), 0, f.stderr().slice(-1000));
  write(120, 240);
  f = await startFollow([log], data, ['--hunt-every', '5']);
  await waitStored(f, 120);
  assert.equal(await stopFollow(f), 0, f.stderr().slice(-1000));
  const store = await openStore({ kind: 'embedded', dataDir: data });
  try {
    const rows = await (
      await store.client.query({ query: 'SELECT hunt, toUnixTimestamp64Milli(window_end) AS e, count() AS n FROM hunt_runs GROUP BY hunt, e ORDER BY e, hunt', format: 'JSONEachRow' })
    ).json<{ hunt: string; e: string; n: string }>();
    const ends = [...new Set(rows.map((r) => Number(r.e)))];
    // Every 5-minute window end up to the stored watermark (t0 + 2390 s) less the lateness, once each.
    const expected = range(1, 8).map((k) => t0 + k * 300_000);
    assert.deepEqual(ends, expected);
    assert.ok(rows.every((r) => Number(r.n) === 1), JSON.stringify(rows));
  } finally {
    await store.close();
  }
});

test('dead letters of followed files are counted by reason category on /metrics', { timeout: 120_000 }, async () => {
  const dir = tmp();
  const log = join(dir, 'access.log');
  const data = join(dir, 'data');
  appendNumbered(log, 0, 20);
  appendFileSync(log, 'this is not an access log line\n'.repeat(3));
  appendNumbered(log, 20, 30);
  const f = await startFollow([log], data, ['--no-hunts']);
  try {
    await waitStored(f, 33);
    const text = await (await fetch(`http://127.0.0.1:${f.port}/metrics`)).text();
    const series = text.split('\n').filter((l) => l.startsWith('tilewatch_follow_dead_letters_total{'));
    assert.deepEqual(series, ['tilewatch_follow_dead_letters_total{reason="format_mismatch"} 3'], text.slice(0, 2000));
  } finally {
    assert.equal(await stopFollow(f), 0, f.stderr().slice(-1000));
  }
  const s = await storedNumbers(data);
  assert.deepEqual(s.numbers, range(0, 30));
  assert.equal(s.deadLetters, 3);
});

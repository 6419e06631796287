/**
 * Replaying stores each request once (ARCHITECTURE.md "Idempotency"): the same file again, the same
 * content gzipped under another name, a file that grew, several insert batches; and different logs
 * are never taken for one another, even when they share their first line.
 *
 * Source identity is the SHA-256 of the first 64 lines (IDENTITY_LINES) of decompressed content, so
 * the behaviour is tested on both sides of that length: "large" logs (the identity is final) and
 * "small" ones (named by all their lines, and found again through their earlier identities once
 * they grew).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describeRun, parseSummary, runCli, tempDir, type CliResult } from '../support/cli.ts';
import { sqlOne, sqlRows } from '../support/store.ts';
import { goodLines, T0 } from '../support/logs.ts';
import { IDENTITY_LINES } from '../../services/ingest/lineReader.ts';

const BAD = 'not a log line';

/** `n` lines (good ones, with bad ones at the given 1-based positions). */
function logLines(n: number, badAt: readonly number[] = [], opts: Parameters<typeof goodLines>[1] = {}): string[] {
  const good = goodLines(n - badAt.length, opts);
  const out: string[] = [];
  for (let line = 1, gi = 0; line <= n; line++) out.push(badAt.includes(line) ? `${BAD} #${line}` : good[gi++]!);
  return out;
}

const text = (lines: readonly string[]): string => lines.map((l) => `${l}\n`).join('');

async function replayOk(args: readonly string[]): Promise<CliResult> {
  const r = await runCli(['replay', ...args, '--quiet']);
  assert.equal(r.code, 0, describeRun(r));
  return r;
}

interface Counts {
  n: number;
  lines: number;
  dead: number;
  sources: number;
}
const COUNTS_SQL = `SELECT toUInt32(count()) AS n, toUInt32(uniqExact(line)) AS lines,
  (SELECT toUInt32(count()) FROM dead_letters) AS dead, toUInt32(uniqExact(source)) AS sources FROM tile_requests`;

async function counts(data: string): Promise<Counts> {
  const c = await sqlOne<Counts>(data, COUNTS_SQL);
  return { n: Number(c.n), lines: Number(c.lines), dead: Number(c.dead), sources: Number(c.sources) };
}

test('same large file twice with --batch-lines 100: stored once over 10 batches; the second run stores nothing and says so', async (t) => {
  const dir = tempDir(t, 'idem');
  const data = join(dir, 'data');
  const log = join(dir, 'access.log');
  const lines = logLines(1000, [150, 550, 999]);
  writeFileSync(log, text(lines));
  assert.ok(statSync(log).size > 3 * 65_536, 'the log spans several read chunks');

  const s1 = parseSummary((await replayOk([log, '--data', data, '--batch-lines', '100'])).stdout);
  assert.deepEqual([s1.linesRead, s1.stored, s1.alreadyStored, s1.deadLetters, s1.batches], [1000, 997, 0, 3, 10]);

  const s2 = parseSummary((await replayOk([log, '--data', data, '--batch-lines', '100'])).stdout);
  assert.deepEqual([s2.linesRead, s2.stored, s2.alreadyStored, s2.deadLetters, s2.batches], [1000, 0, 1000, 0, 0]);

  assert.deepEqual(await counts(data), { n: 997, lines: 997, dead: 3, sources: 1 });
  const ledger = await sqlRows<{ first_line: number; last_line: number; rows: number; dead_letters: number }>(
    data,
    'SELECT toUInt32(first_line) AS first_line, toUInt32(last_line) AS last_line, rows, dead_letters FROM ingest_batches FINAL ORDER BY first_line',
  );
  assert.deepEqual(
    ledger.map((l) => [l.first_line, l.last_line, Number(l.rows), Number(l.dead_letters)]),
    Array.from({ length: 10 }, (_, i) => {
      const from = i * 100 + 1;
      const to = from + 99;
      const dead = [150, 550, 999].filter((b) => b >= from && b <= to).length;
      return [from, to, 100 - dead, dead];
    }),
  );
});

test('the same content gzipped under another name dedups (identity is by content, not by path)', async (t) => {
  const dir = tempDir(t, 'idem-gz');
  const data = join(dir, 'data');
  const log = join(dir, 'access.log');
  const rotated = join(dir, 'access.log.1.gz');
  writeFileSync(log, text(logLines(600, [10])));
  writeFileSync(rotated, gzipSync(readFileSync(log)));

  const s1 = parseSummary((await replayOk([log, '--data', data])).stdout);
  assert.deepEqual([s1.stored, s1.deadLetters], [599, 1]);
  const s2 = parseSummary((await replayOk([rotated, '--data', data])).stdout);
  assert.deepEqual([s2.linesRead, s2.stored, s2.alreadyStored, s2.deadLetters], [600, 0, 600, 0]);

  // Lineage stays with the first name the content was stored under.
  assert.deepEqual(await counts(data), { n: 599, lines: 599, dead: 1, sources: 1 });
  const src = await sqlOne<{ source: string }>(data, 'SELECT any(source) AS source FROM tile_requests');
  assert.equal(src.source, log);
});

test('a large file that grew: the second replay stores only the appended lines', async (t) => {
  const dir = tempDir(t, 'idem-grow');
  const data = join(dir, 'data');
  const log = join(dir, 'access.log');
  writeFileSync(log, text(logLines(1010, [5])));
  const s1 = parseSummary((await replayOk([log, '--data', data, '--batch-lines', '100'])).stdout);
  assert.deepEqual([s1.stored, s1.deadLetters, s1.batches], [1009, 1, 11]);

  // 60 more lines (one bad), later in event time, from other clients.
  appendFileSync(log, text(logLines(60, [30], { start: T0 + 3_600_000, ipBase: 50 })));
  const s2 = parseSummary((await replayOk([log, '--data', data, '--batch-lines', '100'])).stdout);
  assert.deepEqual([s2.linesRead, s2.stored, s2.alreadyStored, s2.deadLetters], [1070, 59, 1010, 1]);

  assert.deepEqual(await counts(data), { n: 1068, lines: 1068, dead: 2, sources: 1 });
  const perLine = await sqlOne<{ dup: number; minLine: number; maxLine: number }>(
    data,
    'SELECT toUInt32(countIf(c > 1)) AS dup, toUInt32(min(line)) AS minLine, toUInt32(max(line)) AS maxLine FROM (SELECT line, count() AS c FROM tile_requests GROUP BY line)',
  );
  assert.deepEqual([Number(perLine.dup), perLine.minLine, perLine.maxLine], [0, 1, 1070]);
  const dead = await sqlRows<{ line: number }>(data, 'SELECT toUInt32(line) AS line FROM dead_letters ORDER BY line');
  assert.deepEqual(dead.map((d) => d.line), [5, 1010 + 30]);
});

describe('a small file (shorter than the 64 identity lines) replayed twice', () => {
  let second: ReturnType<typeof parseSummary> | undefined;

  test('stores each request once', async (t) => {
    const dir = tempDir(t, 'idem-small');
    const data = join(dir, 'data');
    const log = join(dir, 'small.log');
    writeFileSync(log, text(logLines(20, [7])));
    assert.ok(statSync(log).size < 65_536, 'a small log: one read chunk');
    const s1 = parseSummary((await replayOk([log, '--data', data])).stdout);
    assert.deepEqual([s1.stored, s1.deadLetters], [19, 1]);
    second = parseSummary((await replayOk([log, '--data', data])).stdout);
    assert.deepEqual(await counts(data), { n: 19, lines: 19, dead: 1, sources: 1 });
  });

  test(
    'the second summary says the lines were already stored',
    () => {
      assert.ok(second, 'the previous test ran both replays');
      assert.deepEqual([second.linesRead, second.stored, second.alreadyStored, second.deadLetters], [20, 0, 20, 0]);
    },
  );
});

test(
  'a small file that grew: the second replay stores only the appended lines',
  async (t) => {
    const dir = tempDir(t, 'idem-small-grow');
    const data = join(dir, 'data');
    const log = join(dir, 'small.log');
    writeFileSync(log, text(logLines(20)));
    await replayOk([log, '--data', data]);
    appendFileSync(log, text(logLines(5, [], { start: T0 + 3_600_000, ipBase: 50 })));
    const s2 = parseSummary((await replayOk([log, '--data', data])).stdout);
    assert.deepEqual(await counts(data), { n: 25, lines: 25, dead: 0, sources: 1 });
    assert.deepEqual([s2.stored, s2.alreadyStored], [5, 20]);
  },
);

test(
  'a small file with --batch-lines smaller than its line count is stored in several batches',
  async (t) => {
    const dir = tempDir(t, 'idem-small-batches');
    const data = join(dir, 'data');
    const log = join(dir, 'small.log');
    writeFileSync(log, text(logLines(250, [120])));
    assert.ok(statSync(log).size < 65_536, 'a small log: one read chunk');
    const r = await runCli(['replay', log, '--data', data, '--quiet', '--batch-lines', '100']);
    assert.equal(r.code, 0, describeRun(r));
    const s = parseSummary(r.stdout);
    assert.deepEqual([s.stored, s.deadLetters, s.batches], [249, 1, 3]);
    assert.deepEqual(await counts(data), { n: 249, lines: 249, dead: 1, sources: 1 });
  },
);

test('two logs sharing only their first line are both stored in full, in separate runs and in one', async (t) => {
  const dir = tempDir(t, 'idem-first-line');
  const a = logLines(400);
  const b = [a[0]!, ...logLines(399, [], { start: T0 + 3_600_000, ipBase: 50 })];
  const small = [a[0]!, ...logLines(11, [], { start: T0 + 7_200_000, ipBase: 80 })];
  const files = { a: join(dir, 'a.log'), b: join(dir, 'b.log'), small: join(dir, 'small.log') };
  writeFileSync(files.a, text(a));
  writeFileSync(files.b, text(b));
  writeFileSync(files.small, text(small));

  const data = join(dir, 'data');
  const sa = parseSummary((await replayOk([files.a, '--data', data])).stdout);
  assert.deepEqual([sa.stored, sa.alreadyStored], [400, 0]);
  const sb = parseSummary((await replayOk([files.b, '--data', data])).stdout);
  assert.deepEqual([sb.stored, sb.alreadyStored], [400, 0]);
  const ss = parseSummary((await replayOk([files.small, '--data', data])).stdout);
  assert.deepEqual([ss.stored, ss.alreadyStored], [12, 0]);
  assert.deepEqual(await counts(data), { n: 812, lines: 400, dead: 0, sources: 3 });

  const together = join(dir, 'data-together');
  const s = parseSummary((await replayOk([files.a, files.b, files.small, '--data', together])).stdout);
  assert.deepEqual([s.stored, s.alreadyStored], [812, 0]);
  // And again: everything is known.
  const again = parseSummary((await replayOk([files.b, files.small, files.a, '--data', together])).stdout);
  assert.deepEqual([again.stored, again.alreadyStored], [0, 812]);
  assert.deepEqual(await counts(together), { n: 812, lines: 400, dead: 0, sources: 3 });
});

test(`a small file that grows past the ${IDENTITY_LINES} identity lines keeps what it stored`, async (t) => {
  const dir = tempDir(t, 'idem-small-to-large');
  const data = join(dir, 'data');
  const log = join(dir, 'young.log');
  writeFileSync(log, text(logLines(20, [4])));
  const s1 = parseSummary((await replayOk([log, '--data', data])).stdout);
  assert.deepEqual([s1.stored, s1.deadLetters], [19, 1]);
  appendFileSync(log, text(logLines(30, [], { start: T0 + 600_000, ipBase: 40 })));
  const s2 = parseSummary((await replayOk([log, '--data', data])).stdout);
  assert.deepEqual([s2.stored, s2.alreadyStored], [30, 20]);
  appendFileSync(log, text(logLines(450, [100], { start: T0 + 3_600_000, ipBase: 50 })));
  const s3 = parseSummary((await replayOk([log, '--data', data, '--batch-lines', '100'])).stdout);
  assert.deepEqual([s3.stored, s3.alreadyStored, s3.deadLetters], [449, 50, 1]);
  const s4 = parseSummary((await replayOk([log, '--data', data])).stdout);
  assert.deepEqual([s4.stored, s4.alreadyStored], [0, 500]);
  assert.deepEqual(await counts(data), { n: 498, lines: 498, dead: 2, sources: 1 });
});

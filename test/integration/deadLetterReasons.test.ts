/**
 * The `reason` label of tilewatch_dead_letters_total through the real CLI (issue 17): `replay
 * --metrics-out` writes one series per reason category with its count, promtool accepts the file,
 * the summary lists the categories, and hostile input with many distinct reason texts still gives
 * only categories of the closed set.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEAD_LETTER_CATEGORIES } from '../../services/core/validate/deadLetterReason.ts';
import { describeRun, parseSummary, runCli, tempDir } from '../support/cli.ts';
import { hostileLog } from '../support/fuzzLines.ts';
import { combined, goodLines, goodRequests, T0, writeLines } from '../support/logs.ts';
import { sqlRows } from '../support/store.ts';

const PROMTOOL = '/usr/bin/promtool';

/** `tilewatch_dead_letters_total` series of a metrics file: reason → value (every series must have a reason). */
function deadSeries(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^tilewatch_dead_letters_total(\{[^}]*\})? (\S+)$/gm)) {
    const reason = /reason="([^"]*)"/.exec(m[1] ?? '')?.[1];
    assert.ok(reason !== undefined, `a series without reason: ${m[0]}`);
    assert.ok(!out.has(reason), `one series per reason: ${reason}`);
    out.set(reason, Number(m[2]));
  }
  return out;
}

function promtoolCheck(text: string): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, ['check', 'metrics'], (_err, stdout, stderr) => resolve(`${stdout}${stderr}`.trim()));
    child.stdin!.end(text);
  });
}

describe('dead letters by reason', () => {
  it('replay --metrics-out: one series per category with its count; the summary lists them; promtool accepts the file', async (t) => {
    const dir = tempDir(t, 'dead-reasons');
    const g = goodRequests(1)[0]!;
    const bad = [
      'garbage that is no log line',
      'more garbage "quoted" 12345',
      combined({ ...g, ts: Date.UTC(1990, 0, 1) }), // before limits.earliestEventMs
      combined({ ...g, ts: Date.now() + 3 * 86_400_000 }), // ahead of the clock
      combined({ ...g, status: 1000 }),
      combined({ ...g, bytes: -5 }),
      combined({ ...g, ip: '999.1.2.3' }),
      `${combined(g)} ${'x'.repeat(20_000)}`, // longer than the line limit
    ];
    const good = goodLines(60, { start: T0 });
    // The bad lines among good ones, past the first lines the format is checked on.
    const lines = [...good.slice(0, 40), ...bad.slice(0, 4), '', ...good.slice(40), ...bad.slice(4)];
    const log = join(dir, 'access.log');
    writeLines(log, lines);
    const metricsOut = join(dir, 'metrics', 'replay.prom');
    const data = join(dir, 'data');
    const r = await runCli(['replay', log, '--data', data, '--format', 'combined', '--no-hunts', '--quiet', '--metrics-out', metricsOut]);
    assert.equal(r.code, 0, describeRun(r));
    const s = parseSummary(r.stdout);
    assert.deepEqual([s.stored, s.deadLetters, s.blankLines], [60, 8, 1]);
    assert.match(r.stdout, /^ {2}dead by reason {2}too_long 1, format_mismatch 2, invalid_ip 1, invalid_status 1, invalid_size 1, event_time_out_of_range 2$/m);

    const text = readFileSync(metricsOut, 'utf8');
    assert.deepEqual(
      Object.fromEntries(deadSeries(text)),
      { format_mismatch: 2, invalid_ip: 1, invalid_status: 1, invalid_size: 1, too_long: 1, event_time_out_of_range: 2 },
    );
    assert.match(text, /^tilewatch_ingest_rows_total 60$/m);
    assert.match(text, /^tilewatch_build_info\{version="[^"]+",node="[^"]+"\} 1$/m);
    // The same counts as the dead_letters table holds.
    const stored = await sqlRows<{ n: string }>(data, 'SELECT count() AS n FROM dead_letters');
    assert.equal(Number(stored[0]!.n), 8);
    if (existsSync(PROMTOOL)) assert.equal(await promtoolCheck(text), '', 'promtool check metrics');
  });

  it('hostile input: many distinct reason texts, a few categories, all of the closed set', async (t) => {
    const dir = tempDir(t, 'dead-reasons-hostile');
    const log = join(dir, 'hostile.log');
    // Valid lines first (the format is checked on the first lines), then 3,000 hostile ones.
    writeLines(log, [...goodLines(200, { start: T0 - 86_400_000 }), ...hostileLog(3000, 23, T0 - 86_400_000, 86_400_000).map((l) => l.text)]);
    const metricsOut = join(dir, 'replay.prom');
    const data = join(dir, 'data');
    const r = await runCli(['replay', log, '--data', data, '--format', 'combined', '--no-hunts', '--quiet', '--metrics-out', metricsOut]);
    assert.equal(r.code, 0, describeRun(r));
    const series = deadSeries(readFileSync(metricsOut, 'utf8'));
    const reasons = await sqlRows<{ texts: string; n: string }>(data, 'SELECT uniqExact(reason) AS texts, count() AS n FROM dead_letters');
    const texts = Number(reasons[0]!.texts);
    assert.ok(texts > 20, `the input gives many reason texts (${texts})`);
    assert.ok(series.size >= 3 && series.size <= DEAD_LETTER_CATEGORIES.length, `series: ${[...series.keys()].join(', ')}`);
    for (const reason of series.keys()) assert.ok((DEAD_LETTER_CATEGORIES as readonly string[]).includes(reason), reason);
    assert.ok(!series.has('other'), 'every reason the pipeline writes has its category');
    const total = [...series.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, Number(reasons[0]!.n), 'the series add up to the dead letters stored');
    assert.equal(total, parseSummary(r.stdout).deadLetters);
  });
});

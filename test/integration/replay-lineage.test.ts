/**
 * `tilewatch replay` stores every good line exactly once with its lineage, and every bad line in
 * dead_letters with its raw text, reason and line number; blank lines are counted, not dead-lettered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeRun, parseSummary, runCli, tempDir } from '../support/cli.ts';
import { sqlRows } from '../support/store.ts';
import { BROWSER_UA, combined, goodRequests, type Req } from '../support/logs.ts';

test('good lines are stored once with source/line lineage; bad lines go to dead_letters with raw text, reason and line', async (t) => {
  const dir = tempDir(t, 'lineage');
  const data = join(dir, 'data');
  const log = join(dir, 'access.log');

  const good = goodRequests(20);
  const g = good.map(combined);
  // Raw text with characters TabSeparated must escape (tab, backslash, quote, newline-free unicode).
  const garbage = "garbage\twith a tab, a back\\slash, 'quotes' and ünïcödé";
  const truncated = g[0]!.slice(0, 40);
  const badIp = g[1]!.replace(/^\S+/, '999.1.2.3');
  const badDate = g[2]!.replace(/\[[^\]]+\]/, '[32/Foo/2026:25:61:00 +0000]');
  const tooLong = combined({ ip: '198.51.100.99', ts: good[0]!.ts, path: `/search?q=${'x'.repeat(17_000)}` });

  // [text, good request or null, reason or null (blank)]; line numbers are positions + 1.
  type Entry = { text: string; req?: Req; reason?: string; blank?: true };
  const entries: Entry[] = [
    { text: g[0]!, req: good[0]! },
    { text: garbage, reason: 'format mismatch at $remote_addr' },
    { text: g[1]!, req: good[1]! },
    { text: g[2]!, req: good[2]! },
    { text: truncated, reason: 'format mismatch at $time_local' },
    { text: '', blank: true },
    { text: g[3]!, req: good[3]! },
    { text: badIp, reason: 'invalid ip' },
    { text: '   ', blank: true },
    { text: g[4]!, req: good[4]! },
    { text: badDate, reason: 'invalid time' },
    { text: tooLong, reason: 'line too long' },
    ...good.slice(5).map((req, i) => ({ text: g[5 + i]!, req })),
  ];
  // One line ends in CRLF: the CR is not part of the line.
  const body = entries.map((e, i) => `${e.text}${i === 3 ? '\r\n' : '\n'}`).join('');
  writeFileSync(log, body);

  const goodEntries = entries.map((e, i) => ({ ...e, line: i + 1 })).filter((e) => e.req);
  const badEntries = entries.map((e, i) => ({ ...e, line: i + 1 })).filter((e) => e.reason);
  assert.equal(goodEntries.length, 20);
  assert.equal(badEntries.length, 5);

  const r = await runCli(['replay', log, '--data', data, '--quiet']);
  assert.equal(r.code, 0, describeRun(r));
  const s = parseSummary(r.stdout);
  assert.deepEqual(
    { inputs: s.inputs, format: s.format, linesRead: s.linesRead, stored: s.stored, alreadyStored: s.alreadyStored, deadLetters: s.deadLetters, blankLines: s.blankLines, alerts: s.alerts },
    { inputs: 1, format: 'combined', linesRead: entries.length, stored: 20, alreadyStored: 0, deadLetters: 5, blankLines: 2, alerts: 0 },
  );

  const rows = await sqlRows<{
    source: string;
    partition: number;
    line: number;
    ms: string;
    client: string;
    method: string;
    status: number;
    bytes: number;
    path: string;
    referer: string;
    user_agent: string;
    protocol: string;
    kind: string;
    image_id: string;
  }>(
    data,
    `SELECT source, partition, toUInt32(line) AS line, toString(toUnixTimestamp64Milli(ts)) AS ms, toString(client) AS client,
            method, status, bytes, path, referer, user_agent, protocol, kind, image_id
     FROM tile_requests ORDER BY line`,
  );
  assert.deepEqual(
    rows.map((x) => ({ ...x, partition: Number(x.partition), status: Number(x.status), bytes: Number(x.bytes) })),
    goodEntries.map((e) => ({
      source: log,
      partition: -1,
      line: e.line,
      ms: String(e.req!.ts),
      client: `::ffff:${e.req!.ip}`,
      method: 'GET',
      status: 200,
      bytes: e.req!.bytes!,
      path: e.req!.path,
      referer: '',
      user_agent: BROWSER_UA,
      protocol: 'iiif2',
      kind: 'tile',
      image_id: 'img-good',
    })),
  );

  const dead = await sqlRows<{ source: string; partition: number; line: number; reason: string; raw: string }>(
    data,
    'SELECT source, partition, toUInt32(line) AS line, reason, raw FROM dead_letters ORDER BY line',
  );
  assert.deepEqual(
    dead.map((d) => ({ ...d, partition: Number(d.partition) })),
    badEntries.map((e) => ({ source: log, partition: -1, line: e.line, reason: e.reason!, raw: e.text })),
  );

  // The ledger records the batch: the whole file in one batch, with its row and dead-letter counts.
  const ledger = await sqlRows<{ file: string; first_line: number; last_line: number; rows: number; dead_letters: number }>(
    data,
    'SELECT file, toUInt32(first_line) AS first_line, toUInt32(last_line) AS last_line, rows, dead_letters FROM ingest_batches FINAL',
  );
  assert.deepEqual(
    ledger.map((l) => ({ ...l, rows: Number(l.rows), dead_letters: Number(l.dead_letters) })),
    [{ file: log, first_line: 1, last_line: entries.length, rows: 20, dead_letters: 5 }],
  );
});

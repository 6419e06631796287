/**
 * Replay inputs: several files in order, gzip, stdin, a missing file, a truncated gzip, JSON lines,
 * a custom nginx log_format string, and format detection that one odd line cannot fool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { EXIT } from '../../services/cli/exitCodes.ts';
import { describeRun, parseSummary, runCli, tempDir } from '../support/cli.ts';
import { BROWSER_UA, combined, goodLines, goodRequests, iiifTile, jsonLine, T0, type Req } from '../support/logs.ts';
import { sqlOne, sqlRows } from '../support/store.ts';

const text = (lines: readonly string[]): string => lines.map((l) => `${l}\n`).join('');

interface LineageRow {
  source: string;
  line: number;
  client: string;
  ms: string;
}
const LINEAGE_SQL =
  'SELECT source, toUInt32(line) AS line, toString(client) AS client, toString(toUnixTimestamp64Milli(ts)) AS ms FROM tile_requests ORDER BY ts, source, line';

test('several files in order (plain, gzip, plain): every line stored with its own file and line number', async (t) => {
  const dir = tempDir(t, 'in-multi');
  const data = join(dir, 'data');
  // Three consecutive hours of traffic in three files; the middle one gzipped (rotated).
  const parts = [0, 1, 2].map((h) => goodRequests(7 + h, { start: T0 + h * 3_600_000, ipBase: 10 + 20 * h }));
  const files = [join(dir, 'access.log.2'), join(dir, 'access.log.1.gz'), join(dir, 'access.log')];
  writeFileSync(files[0]!, text(parts[0]!.map(combined)));
  writeFileSync(files[1]!, gzipSync(text(parts[1]!.map(combined))));
  writeFileSync(files[2]!, text(parts[2]!.map(combined)));

  const r = await runCli(['replay', ...files, '--data', data, '--quiet']);
  assert.equal(r.code, 0, describeRun(r));
  const s = parseSummary(r.stdout);
  assert.deepEqual([s.inputs, s.format, s.linesRead, s.stored, s.deadLetters], [3, 'combined', 24, 24, 0]);

  const rows = await sqlRows<LineageRow>(data, LINEAGE_SQL);
  const expected = parts.flatMap((reqs, f) => reqs.map((q, i) => ({ source: files[f]!, line: i + 1, client: `::ffff:${q.ip}`, ms: String(q.ts) })));
  assert.deepEqual(rows, expected);
});

test('a .gz input is decompressed (detected by magic bytes) and its lines stored', async (t) => {
  const dir = tempDir(t, 'in-gz');
  const data = join(dir, 'data');
  // No .gz suffix: detection is by content.
  const file = join(dir, 'rotated-without-suffix');
  const reqs = goodRequests(500);
  writeFileSync(file, gzipSync(text(reqs.map(combined))));

  const r = await runCli(['replay', file, '--data', data, '--quiet']);
  assert.equal(r.code, 0, describeRun(r));
  assert.deepEqual([parseSummary(r.stdout).linesRead, parseSummary(r.stdout).stored], [500, 500]);
  const agg = await sqlOne<{ n: number; lines: number; maxLine: number; bytes: number; source: string }>(
    data,
    'SELECT toUInt32(count()) AS n, toUInt32(uniqExact(line)) AS lines, toUInt32(max(line)) AS maxLine, toUInt32(sum(bytes)) AS bytes, any(source) AS source FROM tile_requests',
  );
  assert.deepEqual(agg, { n: 500, lines: 500, maxLine: 500, bytes: reqs.reduce((a, q) => a + q.bytes!, 0), source: file });
});

test('stdin via "-": lines piped in are stored with source "-"', async (t) => {
  const dir = tempDir(t, 'in-stdin');
  const data = join(dir, 'data');
  const reqs = goodRequests(30, { ipBase: 100 });
  const input = text([...reqs.slice(0, 10).map(combined), 'garbage on stdin', ...reqs.slice(10).map(combined)]);

  const r = await runCli(['replay', '-', '--data', data, '--quiet'], { input });
  assert.equal(r.code, 0, describeRun(r));
  const s = parseSummary(r.stdout);
  assert.deepEqual([s.inputs, s.linesRead, s.stored, s.deadLetters], [1, 31, 30, 1]);

  const rows = await sqlRows<LineageRow>(data, LINEAGE_SQL);
  assert.deepEqual(
    rows,
    reqs.map((q, i) => ({ source: '-', line: i < 10 ? i + 1 : i + 2, client: `::ffff:${q.ip}`, ms: String(q.ts) })),
  );
  const dead = await sqlRows(data, 'SELECT source, toUInt32(line) AS line, raw FROM dead_letters');
  assert.deepEqual(dead, [{ source: '-', line: 11, raw: 'garbage on stdin' }]);
});

test('a file replayed from a shell pipeline (unrelated data on stdin) is stored', async (t) => {
  const dir = tempDir(t, 'in-stdin-file');
  const data = join(dir, 'data');
  const file = join(dir, 'access.log');
  writeFileSync(file, text(goodLines(5)));
  const r = await runCli(['replay', file, '--data', data, '--quiet'], { input: 'something a shell pipeline left on stdin\n' });
  assert.equal(r.code, 0, describeRun(r));
  assert.equal(parseSummary(r.stdout).stored, 5);
});

test('a missing file: clear error and the documented runtime-failure exit code', async (t) => {
  const dir = tempDir(t, 'in-missing');
  const data = join(dir, 'data');
  const missing = join(dir, 'no-such.log');
  const r = await runCli(['replay', missing, '--data', data, '--quiet']);
  assert.equal(r.code, EXIT.FAILURE, describeRun(r));
  assert.equal(r.stderr, `tilewatch: Cannot read ${missing}: no such file\n`);
  assert.doesNotMatch(r.stdout, /replay summary/);
  // A directory is not a log either.
  const r2 = await runCli(['replay', dir, '--data', data, '--quiet']);
  assert.equal(r2.code, EXIT.FAILURE, describeRun(r2));
  assert.equal(r2.stderr, `tilewatch: Cannot read ${dir}: not a regular file\n`);
});

test('JSON lines are detected automatically; IPv6 clients, ISO times and bad records are handled', async (t) => {
  const dir = tempDir(t, 'in-json');
  const data = join(dir, 'data');
  const file = join(dir, 'access.json');
  const reqs = Array.from({ length: 12 }, (_, i) => ({
    ip: i % 2 === 0 ? `2001:db8::${(i + 1).toString(16)}` : `192.0.2.${i + 1}`,
    ts: T0 + i * 1500,
    path: iiifTile('json-img', 2048, 2048, i % 8, Math.floor(i / 8)),
    bytes: 300 + i,
    status: i === 3 ? 404 : 200,
    referer: i === 5 ? 'https://museum.example/x' : '',
    ua: `agent-${i}`,
  }));
  const lines = reqs.map(jsonLine);
  lines.splice(4, 0, '{"time": "yesterday-ish", "remote_addr": "192.0.2.200", "request": "GET / HTTP/1.1"}');
  lines.splice(8, 0, '{not json');
  writeFileSync(file, text(lines));

  const r = await runCli(['replay', file, '--data', data, '--quiet']);
  assert.equal(r.code, 0, describeRun(r));
  const s = parseSummary(r.stdout);
  assert.deepEqual([s.format, s.linesRead, s.stored, s.deadLetters], ['json', 14, 12, 2]);

  const rows = await sqlRows<Record<string, unknown>>(
    data,
    `SELECT toUInt32(line) AS line, toString(client) AS client, toString(toUnixTimestamp64Milli(ts)) AS ms, method, status, bytes, path, referer, user_agent, image_id
     FROM tile_requests ORDER BY line`,
  );
  const lineOf = (i: number): number => i + 1 + (i >= 4 ? 1 : 0) + (i >= 7 ? 1 : 0);
  assert.deepEqual(
    rows.map((x) => ({ ...x, status: Number(x.status), bytes: Number(x.bytes) })),
    reqs.map((q, i) => ({
      line: lineOf(i),
      client: q.ip.includes(':') ? q.ip : `::ffff:${q.ip}`,
      ms: String(q.ts),
      method: 'GET',
      status: q.status,
      bytes: q.bytes,
      path: q.path,
      referer: q.referer,
      user_agent: q.ua,
      image_id: 'json-img',
    })),
  );
  const dead = await sqlRows(data, 'SELECT toUInt32(line) AS line, reason FROM dead_letters ORDER BY line');
  assert.deepEqual(dead, [
    { line: 5, reason: 'invalid time' },
    { line: 9, reason: 'invalid json' },
  ]);
});

test('a custom --format nginx log_format string', async (t) => {
  const dir = tempDir(t, 'in-custom');
  const data = join(dir, 'data');
  const file = join(dir, 'custom.log');
  const format = '$time_iso8601 $remote_addr "$request" $status $body_bytes_sent rt=$request_time "$http_user_agent" $host';
  const reqs = Array.from({ length: 9 }, (_, i) => ({ ip: `10.9.8.${i}`, ts: T0 + i * 2000, path: iiifTile('cust-img', 2048, 2048, i % 8, 1), bytes: 500 + i }));
  const lines = reqs.map(
    (q, i) => `${new Date(q.ts).toISOString().replace('.000Z', '+00:00')} ${q.ip} "GET ${q.path} HTTP/2.0" 200 ${q.bytes} rt=0.00${i} "curl/8.5" tiles.example.org`,
  );
  // A combined line is not this format: dead-lettered, not mis-parsed.
  lines.splice(3, 0, goodLines(1)[0]!);
  writeFileSync(file, text(lines));

  const r = await runCli(['replay', file, '--data', data, '--quiet', '--format', format]);
  assert.equal(r.code, 0, describeRun(r));
  const s = parseSummary(r.stdout);
  assert.deepEqual([s.format, s.linesRead, s.stored, s.deadLetters], ['custom', 10, 9, 1]);

  const rows = await sqlRows<Record<string, unknown>>(
    data,
    'SELECT toUInt32(line) AS line, toString(client) AS client, toString(toUnixTimestamp64Milli(ts)) AS ms, bytes, path, user_agent, host FROM tile_requests ORDER BY line',
  );
  assert.deepEqual(
    rows.map((x) => ({ ...x, bytes: Number(x.bytes) })),
    reqs.map((q, i) => ({ line: i < 3 ? i + 1 : i + 2, client: `::ffff:${q.ip}`, ms: String(q.ts), bytes: q.bytes, path: q.path, user_agent: 'curl/8.5', host: 'tiles.example.org' })),
  );
  const dead = await sqlRows<{ line: number }>(data, 'SELECT toUInt32(line) AS line FROM dead_letters');
  assert.deepEqual(dead, [{ line: 4 }]);
});

/** A combined line cut right after its bytes field: it parses as common. */
const cutAfterBytes = (line: string): string => line.slice(0, line.indexOf(' "', line.indexOf('" ') + 2));
const FORMAT_WARNING = /^tilewatch: warning: the detected format common has no user agent and no Referer/m;

test('one line cut after its bytes field among the first lines does not switch the run to common', async (t) => {
  const dir = tempDir(t, 'in-cut');
  const data = join(dir, 'data');
  const file = join(dir, 'access.log');
  const reqs: Req[] = goodRequests(2500).map((q, i) => ({ ...q, referer: i % 2 === 0 ? 'https://museum.example/object/1' : '' }));
  const lines = reqs.map(combined);
  lines[40] = cutAfterBytes(lines[40]!);
  lines[41] = 'garbage, not a log line';
  writeFileSync(file, text(lines));

  const r = await runCli(['replay', file, '--data', data, '--quiet']);
  assert.equal(r.code, 0, describeRun(r));
  assert.equal(r.stderr, '', 'no warning: nothing is lost');
  const s = parseSummary(r.stdout);
  assert.deepEqual([s.format, s.stored, s.deadLetters], ['combined', 2498, 2]);
  assert.doesNotMatch(r.stdout, /format warning/);
  const agg = await sqlOne<{ ua: number; ref: number }>(
    data,
    `SELECT toUInt32(countIf(user_agent = '${BROWSER_UA}')) AS ua, toUInt32(countIf(referer != '')) AS ref FROM tile_requests`,
  );
  assert.deepEqual([agg.ua, agg.ref], [2498, 1249]);
  const dead = await sqlRows(data, 'SELECT toUInt32(line) AS line FROM dead_letters ORDER BY line');
  assert.deepEqual(dead, [{ line: 41 }, { line: 42 }]);
});

test('a genuine common log stays common, and the run says loudly that user agent and Referer are absent', async (t) => {
  const dir = tempDir(t, 'in-common');
  const data = join(dir, 'data');
  const file = join(dir, 'common.log');
  writeFileSync(file, text(goodLines(300).map(cutAfterBytes)));

  const r = await runCli(['replay', file, '--data', data, '--quiet']);
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stderr, FORMAT_WARNING);
  const s = parseSummary(r.stdout);
  assert.deepEqual([s.format, s.stored, s.deadLetters], ['common', 300, 0]);
  assert.match(r.stdout, /^ {2}format warning {2}the detected format common has no user agent and no Referer/m);

  // --format wins: no detection, no warning.
  const given = await runCli(['replay', file, '--data', join(dir, 'data-given'), '--quiet', '--format', 'common']);
  assert.equal(given.code, 0, describeRun(given));
  assert.equal(given.stderr, '');
  assert.doesNotMatch(given.stdout, /format warning/);
});

test('a JSON log with a few non-JSON lines is replayed as JSON; the odd lines are dead letters', async (t) => {
  const dir = tempDir(t, 'in-json-mixed');
  const data = join(dir, 'data');
  const file = join(dir, 'access.json');
  const lines = goodRequests(2500).map(jsonLine);
  const odd = [3, 50, 51, 700, 2400];
  for (const i of odd) lines[i] = i % 2 === 0 ? combined(goodRequests(1)[0]!) : 'plain text from a crash handler';
  writeFileSync(file, text(lines));

  const r = await runCli(['replay', file, '--data', data, '--quiet']);
  assert.equal(r.code, 0, describeRun(r));
  assert.equal(r.stderr, '');
  const s = parseSummary(r.stdout);
  assert.deepEqual([s.format, s.stored, s.deadLetters], ['json', 2495, 5]);
  const dead = await sqlRows<{ line: number }>(data, 'SELECT toUInt32(line) AS line FROM dead_letters ORDER BY line');
  assert.deepEqual(dead.map((d) => d.line), odd.map((i) => i + 1));
});

test('a truncated .gz: its complete lines and the other inputs are stored, the file is named, exit 1; the whole log later stores the rest', async (t) => {
  const dir = tempDir(t, 'in-truncated');
  const data = join(dir, 'data');
  const rotated = join(dir, 'access.log.1.gz');
  const current = join(dir, 'access.log');
  const old = goodLines(3000);
  const gz = gzipSync(text(old));
  const cut = gz.subarray(0, Math.floor(gz.length * 0.6));
  writeFileSync(rotated, cut);
  writeFileSync(current, text(goodLines(200, { start: T0 + 7_200_000, ipBase: 60 })));
  // What zlib can recover from the cut file, in complete lines.
  const readable = gunzipSync(cut, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString('utf8').split('\n').length - 1;
  assert.ok(readable > 1000 && readable < 3000, String(readable));

  const r = await runCli(['replay', rotated, current, '--data', data, '--quiet']);
  assert.equal(r.code, EXIT.FAILURE, describeRun(r));
  const named = `${rotated}: truncated gzip data (unexpected end of file) after line ${readable}: the ${readable} lines before it were replayed, the rest could not be read`;
  assert.equal(r.stderr, `tilewatch: ${named}\n`);
  const s = parseSummary(r.stdout);
  assert.deepEqual([s.inputs, s.linesRead, s.stored, s.deadLetters], [2, readable + 200, readable + 200, 0]);
  assert.ok(r.stdout.includes(`  unreadable      ${named}\n`), r.stdout);
  const perSource = await sqlRows<{ source: string; n: number; maxLine: number }>(
    data,
    'SELECT source, toUInt32(count()) AS n, toUInt32(max(line)) AS maxLine FROM tile_requests GROUP BY source ORDER BY source',
  );
  assert.deepEqual(perSource, [
    { source: current, n: 200, maxLine: 200 },
    { source: rotated, n: readable, maxLine: readable },
  ]);

  // The intact log (same content, another name): only the lines the cut hid are new.
  const intact = join(dir, 'access.log.1');
  writeFileSync(intact, text(old));
  const again = await runCli(['replay', intact, '--data', data, '--quiet']);
  assert.equal(again.code, 0, describeRun(again));
  const s2 = parseSummary(again.stdout);
  assert.deepEqual([s2.stored, s2.alreadyStored], [3000 - readable, readable]);
  const total = await sqlOne<{ n: number; lines: number }>(data, `SELECT toUInt32(count()) AS n, toUInt32(uniqExact(line)) AS lines FROM tile_requests WHERE source != '${current}'`);
  assert.deepEqual(total, { n: 3000, lines: 3000 });
});

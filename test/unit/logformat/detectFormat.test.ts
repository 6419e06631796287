import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECT_SAMPLE_SIZE, detectFormat, type DetectedFormat } from '../../../services/core/logformat/detectFormat.ts';
import { goodLines, goodRequests, jsonLine } from '../../support/logs.ts';

const COMBINED = '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a.jpg HTTP/1.1" 200 2326 "-" "Mozilla/5.0"';
const COMBINED_XFF = `${COMBINED} "198.51.100.4, 10.0.0.2"`;
const COMBINED_EXTRA = `${COMBINED} "rt=0.003" cache=HIT`;
const COMMON = '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a.jpg HTTP/1.1" 200 2326';
const JSONL = '{"time":"2000-10-10T13:55:36Z","remote_addr":"1.2.3.4","request":"GET / HTTP/1.1","status":200,"http_user_agent":"x","http_referer":""}';

/** A combined line cut right after its bytes field: it parses as common (and only as common). */
const cutAfterBytes = (line: string): string => line.slice(0, line.indexOf(' "', line.indexOf('" ') + 2));
/** A combined line cut inside its user agent: it parses as nothing. */
const cutInUserAgent = (line: string): string => line.slice(0, -10);

const pick = (d: DetectedFormat): { name: string; confidence: number } => ({ name: d.name, confidence: d.confidence });

test('each layout, with no warning when nothing is lost', () => {
  assert.deepEqual(pick(detectFormat([COMBINED, COMBINED, '', COMBINED])), { name: 'combined', confidence: 1 });
  assert.deepEqual(pick(detectFormat([COMBINED_XFF, COMBINED_XFF.replace('"198.51.100.4, 10.0.0.2"', '"-"')])), { name: 'combined_xff', confidence: 1 });
  assert.deepEqual(pick(detectFormat([COMBINED_EXTRA, COMBINED_EXTRA])), { name: 'combined', confidence: 1 });
  assert.deepEqual(pick(detectFormat(['', JSONL, '   ', JSONL])), { name: 'json', confidence: 1 });
  for (const sample of [[COMBINED, COMBINED], [COMBINED_XFF], [JSONL, JSONL], goodLines(3000)]) assert.deepEqual(detectFormat(sample).warnings, []);
});

test('one line cut after its bytes field among many combined lines does not demote the run to common', () => {
  const lines = goodLines(DETECT_SAMPLE_SIZE);
  lines[17] = cutAfterBytes(lines[17]!);
  assert.match(lines[17]!, / 200 1017$/);
  const d = detectFormat(lines);
  assert.deepEqual(
    { name: d.name, parsed: d.parsed, warnings: d.warnings },
    { name: 'combined', parsed: { json: 0, combined_xff: 0, combined: DETECT_SAMPLE_SIZE - 1, common: DETECT_SAMPLE_SIZE }, warnings: [] },
  );
  // Two such lines in a ten-line log too.
  const small = goodLines(10);
  small[0] = cutAfterBytes(small[0]!);
  small[5] = cutAfterBytes(small[5]!);
  assert.equal(detectFormat(small).name, 'combined');
});

test('a few garbage and cut lines among combined lines: combined, without a warning', () => {
  const lines = goodLines(2100);
  for (const i of [3, 40, 41, 900]) lines[i] = cutAfterBytes(lines[i]!);
  for (const i of [7, 500]) lines[i] = cutInUserAgent(lines[i]!);
  for (const i of [12, 1300, 1999]) lines[i] = 'garbage \u0000 not a log line';
  lines[20] = '{"a": 1}';
  const d = detectFormat(lines);
  assert.deepEqual([d.name, d.sampleLines, d.parsed.combined, d.warnings], ['combined', DETECT_SAMPLE_SIZE, DETECT_SAMPLE_SIZE - 10, []]);
  assert.equal(d.confidence, (DETECT_SAMPLE_SIZE - 10) / DETECT_SAMPLE_SIZE);
});

test('a JSON log with a few non-JSON lines is JSON', () => {
  const lines = goodRequests(2000).map(jsonLine);
  const combined = goodLines(5);
  for (let i = 0; i < 5; i++) lines[i * 7] = combined[i]!;
  lines[100] = 'garbage';
  lines[101] = '{not json';
  const d = detectFormat(lines);
  assert.deepEqual([d.name, d.parsed.json, d.parsed.combined, d.warnings], ['json', 1993, 5, []]);
});

test('a genuine common log stays common, with the warning that user agent and Referer are absent', () => {
  const lines = goodLines(300).map(cutAfterBytes);
  const d = detectFormat(lines);
  assert.deepEqual([d.name, d.confidence, d.parsed.combined], ['common', 1, 0]);
  assert.equal(d.warnings.length, 1);
  assert.match(d.warnings[0]!, /^the detected format common has no user agent and no Referer: no stored request carries them/);
  assert.doesNotMatch(d.warnings[0]!, /parse as combined/);
});

test('many cut lines: common wins the vote, and the warning says how many lines parse as combined', () => {
  const lines = goodLines(1000).map((l, i) => (i % 3 === 0 ? cutAfterBytes(l) : l));
  const d = detectFormat(lines);
  assert.equal(d.name, 'common');
  assert.match(d.warnings[0]!, /no user agent and no Referer.*; 666 of the 1000 sample lines parse as combined \(pass --format/);
});

test('combined_xff is preferred while it parses nearly as many lines as combined', () => {
  const xff = Array.from({ length: 1000 }, (_, i) => (i === 10 ? COMBINED : COMBINED_XFF));
  assert.equal(detectFormat(xff).name, 'combined_xff');
  const half = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? COMBINED : COMBINED_XFF));
  assert.equal(detectFormat(half).name, 'combined');
});

test('a sizeable share that does not parse is a warning; the vote looks at the first sample lines only', () => {
  const lines = goodLines(100);
  for (let i = 0; i < 8; i++) lines[i * 10] = `garbage ${i}`;
  const d = detectFormat(lines);
  assert.deepEqual(d.warnings, ['8 of the 100 sample lines (8.0 %) do not parse as combined: such lines go to dead_letters']);
  // Lines after the sample do not vote.
  const late = [...goodLines(DETECT_SAMPLE_SIZE), ...Array.from({ length: 5000 }, () => JSONL)];
  assert.deepEqual([detectFormat(late).name, detectFormat(late).sampleLines], ['combined', DETECT_SAMPLE_SIZE]);
});

test('JSON records without user agent or Referer fields are a warning', () => {
  const bare = '{"time":"2000-10-10T13:55:36Z","ip":"1.2.3.4","path":"/a.jpg","status":200}';
  const d = detectFormat([bare, bare]);
  assert.equal(d.name, 'json');
  assert.match(d.warnings[0]!, /^the detected format json has no user agent and no Referer/);
  const withUa = detectFormat([bare, bare.replace('}', ',"ua":"curl/8"}')]);
  assert.match(withUa.warnings[0]!, /^the detected format json has no Referer: no stored request carries it, and the detector's Referer signals/);
});

test('mixed and degenerate samples', () => {
  assert.deepEqual(pick(detectFormat([COMBINED, COMBINED, COMBINED, 'garbage'])), { name: 'combined', confidence: 0.75 });
  assert.deepEqual(pick(detectFormat([COMMON, COMMON, COMMON, COMBINED])), { name: 'common', confidence: 1 }); // common ignores trailing fields
  assert.deepEqual(pick(detectFormat([COMBINED_XFF, COMBINED, COMBINED, COMBINED])), { name: 'combined', confidence: 1 });
  assert.deepEqual(pick(detectFormat([JSONL, JSONL, COMBINED])), { name: 'json', confidence: 2 / 3 });
  assert.deepEqual(pick(detectFormat([JSONL, COMBINED, COMBINED])), { name: 'combined', confidence: 2 / 3 });
  // A tiny sample: the slack never lets a layout that parses nothing win.
  assert.equal(detectFormat([COMMON]).name, 'common');
  assert.equal(detectFormat([COMMON, COMMON, COMBINED]).name, 'common');
  // JSON objects the JSON parser rejects are still JSON: the dead letters then name the missing field.
  assert.deepEqual(pick(detectFormat(['{"a":1}', '{"b":2}'])), { name: 'json', confidence: 0 });
  const none = detectFormat(['x', 'y']);
  assert.deepEqual([none.name, none.confidence], ['combined', 0]);
  assert.match(none.warnings[0]!, /^none of the 2 sample lines parses as json, combined_xff, combined or common/);
  assert.deepEqual(detectFormat([]), { name: 'combined', confidence: 0, sampleLines: 0, parsed: { json: 0, combined_xff: 0, combined: 0, common: 0 }, warnings: [] });
  assert.deepEqual(detectFormat(['', '  ']).warnings, []);
});

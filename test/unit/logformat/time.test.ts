import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createTimeLocalParser } from '../../../services/core/logformat/createTimeLocalParser.ts';
import { parseIsoTime } from '../../../services/core/logformat/parseIsoTime.ts';
import { parseMsec } from '../../../services/core/logformat/parseMsec.ts';
import { parseTimeLocal } from '../../../services/core/logformat/parseTimeLocal.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/** Reference formatter: the instant `ms` shown in a zone `offsetMin` minutes east of UTC. */
function timeLocalOf(ms: number, offsetMin: number): string {
  const d = new Date(ms + offsetMin * 60000);
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  return `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${sign}${p2(Math.floor(a / 60))}${p2(a % 60)}`;
}

test('parseTimeLocal applies the zone', () => {
  assert.equal(parseTimeLocal('10/Oct/2000:13:55:36 -0700'), Date.UTC(2000, 9, 10, 20, 55, 36));
  assert.equal(parseTimeLocal('10/Oct/2000:13:55:36 +0000'), Date.UTC(2000, 9, 10, 13, 55, 36));
  assert.equal(parseTimeLocal('10/Oct/2000:13:55:36 +0530'), Date.UTC(2000, 9, 10, 8, 25, 36));
  assert.equal(parseTimeLocal('01/Jan/2024:00:00:00 +0100'), Date.UTC(2023, 11, 31, 23, 0, 0));
  assert.equal(parseTimeLocal('29/Feb/2024:12:00:00 +0000'), Date.UTC(2024, 1, 29, 12));
  assert.equal(parseTimeLocal('x[10/oct/2000:13:55:36 -0700]', 2, 28), Date.UTC(2000, 9, 10, 20, 55, 36));
});

test('parseTimeLocal rejects invalid dates', () => {
  for (const bad of [
    '29/Feb/2023:12:00:00 +0000', '31/Apr/2024:12:00:00 +0000', '00/Jan/2024:12:00:00 +0000',
    '10/Foo/2000:13:55:36 -0700', '10/Oct/2000:24:00:00 -0700', '10/Oct/2000:13:60:36 -0700',
    '10/Oct/2000:13:55:61 -0700', '10/Oct/2000:13:55:36 0700', '10/Oct/2000:13:55:36 -07', '10/Oct/2000 13:55:36 -0700',
    '', '10/Oct/2000:13:55:36 -07:0', '1a/Oct/2000:13:55:36 -0700',
  ]) {
    assert.ok(Number.isNaN(parseTimeLocal(bad)), bad);
  }
});

test('property: parseTimeLocal and the cached variant invert a reference formatter', () => {
  const cached = createTimeLocalParser();
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4102444800 }),
      fc.constantFrom(0, -420, 330, 60, -600, 840, -59, 345),
      (secs, off) => {
        const s = timeLocalOf(secs * 1000, off);
        assert.equal(parseTimeLocal(s), secs * 1000, s);
        assert.equal(cached(s, 0, s.length), secs * 1000, s);
      },
    ),
    { numRuns: 2000 },
  );
});

test('cached time parser: same-minute hits, zone changes, invalid seconds', () => {
  const p = createTimeLocalParser();
  const line = (s: string): string => `[${s}]`;
  const a = line('10/Oct/2000:13:55:36 -0700');
  assert.equal(p(a, 1, 27), Date.UTC(2000, 9, 10, 20, 55, 36));
  const b = line('10/Oct/2000:13:55:59 -0700');
  assert.equal(p(b, 1, 27), Date.UTC(2000, 9, 10, 20, 55, 59));
  const c = line('10/Oct/2000:13:55:59 +0000');
  assert.equal(p(c, 1, 27), Date.UTC(2000, 9, 10, 13, 55, 59));
  assert.ok(Number.isNaN(p(line('10/Oct/2000:13:55:6x +0000'), 1, 27)));
  assert.ok(Number.isNaN(p(line('10/Oct/2000:13:55:60 +0000'), 1, 27)));
  assert.equal(p(c, 1, 27), Date.UTC(2000, 9, 10, 13, 55, 59));
});

test('parseIsoTime: Z and offsets', () => {
  assert.equal(parseIsoTime('2000-10-10T13:55:36Z'), Date.UTC(2000, 9, 10, 13, 55, 36));
  assert.equal(parseIsoTime('2000-10-10T13:55:36+00:00'), Date.UTC(2000, 9, 10, 13, 55, 36));
  assert.equal(parseIsoTime('2000-10-10T13:55:36-07:00'), Date.UTC(2000, 9, 10, 20, 55, 36));
  assert.equal(parseIsoTime('2000-10-10T13:55:36+05:30'), Date.UTC(2000, 9, 10, 8, 25, 36));
  assert.equal(parseIsoTime('2000-10-10T13:55:36+0530'), Date.UTC(2000, 9, 10, 8, 25, 36));
  assert.equal(parseIsoTime('2000-10-10T13:55:36+05'), Date.UTC(2000, 9, 10, 8, 55, 36));
  assert.equal(parseIsoTime('2000-10-10 13:55:36.123Z'), Date.UTC(2000, 9, 10, 13, 55, 36, 123));
  assert.equal(parseIsoTime('2000-10-10T13:55:36.1239999Z'), Date.UTC(2000, 9, 10, 13, 55, 36, 123));
  assert.equal(parseIsoTime('2000-10-10T13:55:36.5+01:00'), Date.UTC(2000, 9, 10, 12, 55, 36, 500));
});

test('parseIsoTime rejects zone-less and invalid', () => {
  for (const bad of [
    '2000-10-10T13:55:36', '2000-10-10T13:55:36.123', '2000-13-10T13:55:36Z', '2000-02-30T13:55:36Z',
    '2000-10-10T13:55:36+24:00', '2000-10-10T13:55:36Zjunk', '2000-10-10T13:55:36.Z', '2000/10/10T13:55:36Z', 'garbage', '',
  ]) {
    assert.ok(Number.isNaN(parseIsoTime(bad)), bad);
  }
});

test('property: parseIsoTime agrees with Date.parse on toISOString output', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4102444800000 }), (ms) => {
      const s = new Date(ms).toISOString();
      assert.equal(parseIsoTime(s), ms);
    }),
  );
});

test('parseMsec', () => {
  assert.equal(parseMsec('1700000000.123'), 1700000000123);
  assert.equal(parseMsec('1700000000'), 1700000000000);
  assert.equal(parseMsec('1700000000.5'), 1700000000500);
  assert.equal(parseMsec('1700000000.9999'), 1700000000999);
  for (const bad of ['', '-', '1.2.3', '17e8', '-1', 'abc', '1700000000.1x']) {
    assert.ok(Number.isNaN(parseMsec(bad)), bad);
  }
});

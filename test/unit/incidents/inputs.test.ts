import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeRange, InvalidInputError, parseCidrRange, parseClientIp, parseDay, parseImageId, parseIncidentId, parseNumber, parseRange, parseTime } from '../../../services/incidents/inputs.ts';
import { decodeIncidentCursor, encodeIncidentCursor } from '../../../services/incidents/incidentList.ts';

test('client IPs: IPv4 maps into the IPv6 column form; junk is refused', () => {
  assert.deepEqual(parseClientIp('203.0.113.7'), { text: '203.0.113.7', v6: '::ffff:203.0.113.7' });
  assert.deepEqual(parseClientIp('::FFFF:203.0.113.7'), { text: '203.0.113.7', v6: '::ffff:203.0.113.7' });
  assert.deepEqual(parseClientIp('2001:DB8::1'), { text: '2001:db8::1', v6: '2001:db8::1' });
  for (const bad of ["' OR 1=1 --", '203.0.113.07', '1.2.3', 'fe80::1%eth0', '', 'x'.repeat(100), '{ip:IPv6}']) assert.throws(() => parseClientIp(bad), InvalidInputError, bad);
});

test('CIDR blocks become inclusive IPv6 bounds; too-wide blocks are refused', () => {
  assert.deepEqual(parseCidrRange('203.0.113.9/24'), { cidr: '203.0.113.0/24', lo: '::ffff:203.0.113.0', hi: '::ffff:203.0.113.255' });
  assert.deepEqual(parseCidrRange('10.0.0.0/8'), { cidr: '10.0.0.0/8', lo: '::ffff:10.0.0.0', hi: '::ffff:10.255.255.255' });
  assert.deepEqual(parseCidrRange('2001:db8:1::/48'), { cidr: '2001:db8:1::/48', lo: '2001:db8:1::', hi: '2001:db8:1:ffff:ffff:ffff:ffff:ffff' });
  assert.deepEqual(parseCidrRange('2001:db8::/33'), { cidr: '2001:db8::/33', lo: '2001:db8::', hi: '2001:db8:7fff:ffff:ffff:ffff:ffff:ffff' });
  assert.deepEqual(parseCidrRange('::ffff:192.0.2.8/125'), { cidr: '192.0.2.8/29', lo: '::ffff:192.0.2.8', hi: '::ffff:192.0.2.15' });
  for (const bad of ['10.0.0.0/7', '::/0', '203.0.113.0', '203.0.113.0/33', "1.2.3.4/24' --", '1.2.3.4/2x']) assert.throws(() => parseCidrRange(bad), InvalidInputError, bad);
});

test('times and ranges', () => {
  assert.equal(parseTime('2026-03-02T14:00:00Z', 'from'), Date.UTC(2026, 2, 2, 14));
  assert.equal(parseTime('2026-03-02', 'from'), Date.UTC(2026, 2, 2));
  assert.equal(parseTime('1772460060000', 'from'), 1772460060000);
  for (const bad of ['yesterday', "2026-03-02' OR 1=1", '2026-13-45T00:00:00Z', '']) assert.throws(() => parseTime(bad, 'from'), InvalidInputError, bad);
  assert.throws(() => parseRange('2026-03-02', '2026-03-01', 86_400_000 * 10), /before/);
  assert.throws(() => parseRange('2026-01-01', '2026-03-01', 86_400_000 * 10), /at most 10 days/);
  assert.deepEqual(completeRange({}, { first: 1000, last: 5000 }, 10_000), { from: 1000, to: 5001 });
  assert.deepEqual(completeRange({}, { first: 0, last: 50_000 }, 10_000), { from: 40_001, to: 50_001 }, 'the newest span is kept');
});

test('image ids: any printable text, no control characters; numbers must be finite', () => {
  assert.equal(parseImageId("it's/ok{x:String}"), "it's/ok{x:String}");
  assert.throws(() => parseImageId('a\u0000b'), InvalidInputError);
  assert.throws(() => parseImageId('x'.repeat(513)), InvalidInputError);
  assert.equal(parseNumber(3, 'band', 0, 12, true), 3);
  for (const bad of [Infinity, NaN, -1, 13, 2.5]) assert.throws(() => parseNumber(bad, 'band', 0, 12, true), InvalidInputError, String(bad));
});

test('days are calendar days (UTC); incident ids and cursors', () => {
  assert.equal(parseDay('2026-03-10'), Date.UTC(2026, 2, 10));
  assert.equal(parseDay('2024-02-29'), Date.UTC(2024, 1, 29), 'a leap day');
  for (const bad of ['2026-02-30', '2025-02-29', '2026-3-10', '2026-03-10T00:00:00Z', '10/03/2026', '', "2026-03-10' --", '2026-13-01']) {
    assert.throws(() => parseDay(bad, '--day'), /--day must be a calendar day YYYY-MM-DD/, bad);
  }
  assert.equal(parseIncidentId('ti-0baa95ee2c403d8daaec'), 'ti-0baa95ee2c403d8daaec');
  assert.equal(parseIncidentId('tw-0baa95ee2c403d8daaec'), 'tw-0baa95ee2c403d8daaec', 'an alert id names its incident');
  for (const bad of ["ti-' OR 1=1", '', 'x'.repeat(129), 'ti-a b']) assert.throws(() => parseIncidentId(bad), InvalidInputError, bad);
  const c = encodeIncidentCursor(3, 1_772_460_060_000, 'ti-abc');
  assert.deepEqual(decodeIncidentCursor(c), { rank: 3, lastMs: 1_772_460_060_000, id: 'ti-abc' });
  const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  for (const bad of ['bm9wZQ', forged([9, 1, 'ti-a']), forged([1, 1.5, 'ti-a']), forged([1, 1, "ti-' OR 1=1"]), forged([1, 1]), 'x'.repeat(301)]) {
    assert.throws(() => decodeIncidentCursor(bad), InvalidInputError, bad.slice(0, 20));
  }
});

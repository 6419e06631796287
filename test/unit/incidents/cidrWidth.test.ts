/**
 * CIDR width guards of searches and rules: a block is at most an IPv4 /8, or a native IPv6 /32 that
 * holds no IPv4 client. IPv4-mapped blocks count as the IPv4 block they hold; an IPv6 block holding
 * the whole mapped range ::ffff:0:0/96 (every IPv4 client) is refused whatever its prefix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidInputError, parseCidrRange } from '../../../services/incidents/inputs.ts';
import { formatIpv6, parseIpv6 } from '../../../services/core/logformat/parseIp.ts';

const toBig = (ip: string): bigint => (parseIpv6(ip) ?? []).reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
const MAPPED_LO = 0xffffn << 32n;
const MAPPED_HI = MAPPED_LO + 0xffffffffn;

test('blocks that hold every IPv4 client are refused, whatever the prefix', () => {
  for (const bad of ['::/32', '::/0', '::/80', '::fffe:0:0/95', '0:0:0:0:0:ffff::/96', '::ffff:0:0/96', '::ffff:0.0.0.0/95', '::fffe:0:0/79', '0::/16']) {
    assert.throws(() => parseCidrRange(bad), InvalidInputError, bad);
  }
  assert.throws(() => parseCidrRange('::/32'), /IPv4-mapped range/);
});

test('IPv4-mapped blocks are as wide as the IPv4 block they hold', () => {
  assert.throws(() => parseCidrRange('::ffff:10.0.0.0/100'), /at least \/8 for IPv4 .*here \/4/);
  assert.throws(() => parseCidrRange('::ffff:10.0.0.0/103'), InvalidInputError);
  assert.deepEqual(parseCidrRange('::ffff:10.0.0.0/104'), { cidr: '10.0.0.0/8', lo: '::ffff:10.0.0.0', hi: '::ffff:10.255.255.255' });
  assert.deepEqual(parseCidrRange('::ffff:203.0.113.0/120'), { cidr: '203.0.113.0/24', lo: '::ffff:203.0.113.0', hi: '::ffff:203.0.113.255' });
});

test('native IPv6 blocks need /32 and may sit next to the mapped range', () => {
  assert.throws(() => parseCidrRange('2001:db8::/31'), /at least \/32 for IPv6/);
  assert.deepEqual(parseCidrRange('2001:db8::/32').lo, '2001:db8::');
  // ::/95, ::/96 (the old IPv4-compatible range) and ::fffe:0:0/96 do not overlap ::ffff:0:0/96.
  assert.equal(parseCidrRange('::/95').hi, '::1:ffff:ffff');
  assert.equal(parseCidrRange('::/96').hi, '::ffff:ffff');
  assert.equal(parseCidrRange('::fffe:0:0/96').hi, '::fffe:ffff:ffff');
});

test('property: an accepted block either is an IPv4 block of at least /8 or holds no IPv4 client', () => {
  const group = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 }), (groups, prefix) => {
      let r;
      try {
        r = parseCidrRange(`${formatIpv6(groups)}/${prefix}`);
      } catch (e) {
        assert.ok(e instanceof InvalidInputError);
        return;
      }
      const lo = toBig(r.lo);
      const hi = toBig(r.hi);
      assert.ok(lo <= hi);
      const overlapsMapped = lo <= MAPPED_HI && hi >= MAPPED_LO;
      if (overlapsMapped) {
        assert.ok(lo >= MAPPED_LO && hi <= MAPPED_HI, `${r.cidr} reaches out of the mapped range`);
        assert.ok(hi - lo < 2n ** 24n, `${r.cidr} is wider than an IPv4 /8`);
      } else {
        assert.ok(hi - lo < 2n ** 96n, `${r.cidr} is wider than an IPv6 /32`);
      }
    }),
    { numRuns: 5000 },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { canonicalIp } from '../../../services/core/logformat/canonicalIp.ts';
import { compileCidrMatcher, parseCidr, subnetOf } from '../../../services/core/logformat/cidr.ts';
import { parseIpv4, parseIpv6 } from '../../../services/core/logformat/parseIp.ts';
import { isForwardedForList, resolveClientIp } from '../../../services/core/logformat/resolveClientIp.ts';

test('canonicalIp: IPv4 kept, invalid rejected', () => {
  assert.equal(canonicalIp('203.0.113.7'), '203.0.113.7');
  assert.equal(canonicalIp('0.0.0.0'), '0.0.0.0');
  assert.equal(canonicalIp('255.255.255.255'), '255.255.255.255');
  for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1..2.3', '', '-', 'localhost', '1.2.3.4 ', 'unix:', '1.2.3.a']) {
    assert.equal(canonicalIp(bad), null, bad);
  }
});

test('canonicalIp: IPv6 compressed lower case (RFC 5952)', () => {
  assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalIp('2001:0db8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
  assert.equal(canonicalIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1'); // single zero group not compressed
  assert.equal(canonicalIp('::'), '::');
  assert.equal(canonicalIp('::1'), '::1');
  assert.equal(canonicalIp('1::'), '1::');
  assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1');
  assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'); // first of equal runs
  assert.equal(canonicalIp('64:ff9b::192.0.2.33'), '64:ff9b::c000:221');
  for (const bad of ['1:2:3:4:5:6:7:8:9', ':1', '1:', '1:::2', '::1::2', '12345::', 'g::1', '::ffff:1.2.3', '[::1]']) {
    assert.equal(canonicalIp(bad), null, bad);
  }
});

test('canonicalIp: IPv4-mapped IPv6 becomes IPv4', () => {
  assert.equal(canonicalIp('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(canonicalIp('::FFFF:102:304'), '1.2.3.4');
  assert.equal(canonicalIp('0:0:0:0:0:ffff:c000:0201'), '192.0.2.1');
});

test('property: canonicalIp accepts exactly what node:net isIP accepts (no zone ids)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string(), fc.stringMatching(/^[0-9a-fA-F:.]{0,45}$/)), (s) => {
      if (s.includes('%')) return;
      const c = canonicalIp(s);
      assert.equal(c !== null, isIP(s) !== 0, s);
      if (c !== null) {
        assert.equal(canonicalIp(c), c, 'idempotent');
        assert.ok(isIP(c) !== 0);
      }
    }),
    { numRuns: 3000 },
  );
});

test('property: canonical IPv6 denotes the same address', () => {
  fc.assert(
    fc.property(fc.ipV6(), (s) => {
      const c = canonicalIp(s);
      assert.notEqual(c, null);
      if (c!.includes(':')) assert.deepEqual(parseIpv6(c!), parseIpv6(s));
      else assert.deepEqual(parseIpv6(`::ffff:${c!}`), parseIpv6(s));
    }),
  );
});

test('parseIpv4 ranges', () => {
  assert.equal(parseIpv4('x1.2.3.4y', 1, 8), 0x01020304);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
});

test('parseCidr: IPv4, IPv6, bare, host bits, mapped', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { family: 4, prefix: 8, network: 0x0a000000 });
  assert.deepEqual(parseCidr('10.1.2.3/8'), { family: 4, prefix: 8, network: 0x0a000000 });
  assert.deepEqual(parseCidr('192.0.2.1'), { family: 4, prefix: 32, network: 0xc0000201 });
  assert.deepEqual(parseCidr('0.0.0.0/0'), { family: 4, prefix: 0, network: 0 });
  assert.deepEqual(parseCidr('::ffff:10.0.0.0/104'), { family: 4, prefix: 8, network: 0x0a000000 });
  assert.deepEqual(parseCidr('2001:db8::/32'), { family: 6, prefix: 32, groups: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0] });
  assert.deepEqual(parseCidr('2001:db8:ffff::/33'), { family: 6, prefix: 33, groups: [0x2001, 0xdb8, 0x8000, 0, 0, 0, 0, 0] });
  assert.deepEqual(parseCidr('::1').prefix, 128);
});

test('parseCidr: invalid config throws a clear Error', () => {
  for (const bad of ['10.0.0.0/33', '10.0.0/8', '2001:db8::/129', 'foo', '', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/8/8', 'fe80::1%eth0/64']) {
    assert.throws(() => parseCidr(bad), (e: unknown) => e instanceof Error && e.message.includes('invalid CIDR') && e.message.includes(bad), bad);
  }
  assert.throws(() => compileCidrMatcher(['10.0.0.0/8', 'nonsense']), /invalid CIDR "nonsense"/);
});

test('compileCidrMatcher', () => {
  const m = compileCidrMatcher(['10.0.0.0/8', '192.168.1.0/24', '2001:db8:1::/48', '203.0.113.9']);
  assert.equal(m('10.255.0.1'), true);
  assert.equal(m('11.0.0.1'), false);
  assert.equal(m('192.168.1.200'), true);
  assert.equal(m('192.168.2.1'), false);
  assert.equal(m('203.0.113.9'), true);
  assert.equal(m('203.0.113.10'), false);
  assert.equal(m('2001:db8:1:ffff::1'), true);
  assert.equal(m('2001:DB8:0001::7'), true);
  assert.equal(m('2001:db8:2::1'), false);
  assert.equal(m('::ffff:10.1.1.1'), true, 'mapped tested against IPv4 blocks');
  assert.equal(m('garbage'), false);
  assert.equal(m(''), false);
  const none = compileCidrMatcher([]);
  assert.equal(none('10.0.0.1'), false);
  const all6 = compileCidrMatcher(['::/0']);
  assert.equal(all6('2001:db8::1'), true);
  assert.equal(all6('1.2.3.4'), false);
  const all4 = compileCidrMatcher(['0.0.0.0/0']);
  assert.equal(all4('1.2.3.4'), true);
});

test('property: CIDR matcher agrees with a bit-string reference for IPv4', () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 32 }), (net, ip, prefix) => {
      const bits = (s: string): string => s.split('.').map((x) => Number(x).toString(2).padStart(8, '0')).join('');
      const expected = bits(net).slice(0, prefix) === bits(ip).slice(0, prefix);
      assert.equal(compileCidrMatcher([`${net}/${prefix}`])(ip), expected);
    }),
  );
});

test('subnetOf', () => {
  assert.equal(subnetOf('203.0.113.77'), '203.0.113.0/24');
  assert.equal(subnetOf('::ffff:203.0.113.77'), '203.0.113.0/24');
  assert.equal(subnetOf('2001:db8:1:2:3::4'), '2001:db8:1::/48');
  assert.equal(subnetOf('2001:db8::1'), '2001:db8::/48');
  assert.equal(subnetOf('nope'), '');
});

test('resolveClientIp: XFF ignored from untrusted peers (spoofing)', () => {
  const trusted = compileCidrMatcher(['10.0.0.0/8']);
  assert.equal(resolveClientIp('198.51.100.1', '1.2.3.4', trusted), '198.51.100.1');
  assert.equal(resolveClientIp('198.51.100.1', '10.0.0.5', trusted), '198.51.100.1');
});

test('resolveClientIp: right-most untrusted entry from a trusted peer', () => {
  const trusted = compileCidrMatcher(['10.0.0.0/8', '2001:db8:ffff::/48']);
  assert.equal(resolveClientIp('10.0.0.1', '203.0.113.5', trusted), '203.0.113.5');
  // Client spoofs a leading entry; the proxy appends the real peer: right-most untrusted wins.
  assert.equal(resolveClientIp('10.0.0.1', '6.6.6.6, 203.0.113.5', trusted), '203.0.113.5');
  // Multi-hop through trusted proxies.
  assert.equal(resolveClientIp('10.0.0.1', '6.6.6.6, 203.0.113.5, 10.1.1.1, 10.2.2.2', trusted), '203.0.113.5');
  // Spoofed trusted-looking entry to the left of the real client is never reached.
  assert.equal(resolveClientIp('10.0.0.1', '10.9.9.9, 203.0.113.5', trusted), '203.0.113.5');
  // All trusted: left-most.
  assert.equal(resolveClientIp('10.0.0.1', '10.3.3.3,10.2.2.2', trusted), '10.3.3.3');
  // Garbage: keep the last trusted hop reached.
  assert.equal(resolveClientIp('10.0.0.1', 'unknown', trusted), '10.0.0.1');
  assert.equal(resolveClientIp('10.0.0.1', 'unknown, 10.2.2.2', trusted), '10.2.2.2');
  assert.equal(resolveClientIp('10.0.0.1', '-', trusted), '10.0.0.1');
  assert.equal(resolveClientIp('10.0.0.1', '', trusted), '10.0.0.1');
  // Ports, brackets, IPv6, mapped, whitespace.
  assert.equal(resolveClientIp('10.0.0.1', ' 203.0.113.5:4711 ', trusted), '203.0.113.5');
  assert.equal(resolveClientIp('10.0.0.1', '[2001:DB8::7]:443', trusted), '2001:db8::7');
  assert.equal(resolveClientIp('2001:db8:ffff::2', '2001:db8:1::9, 2001:db8:ffff::3', trusted), '2001:db8:1::9');
  assert.equal(resolveClientIp('10.0.0.1', '::ffff:203.0.113.5', trusted), '203.0.113.5');
});

test('isForwardedForList', () => {
  assert.equal(isForwardedForList('-'), true);
  assert.equal(isForwardedForList('1.2.3.4, 2001:db8::1'), true);
  assert.equal(isForwardedForList('rt=0.003'), false);
  assert.equal(isForwardedForList('1.2.3.4,'), false);
});

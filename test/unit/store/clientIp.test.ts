/** Client addresses to and from the `IPv6` column text: IPv4 stored IPv4-mapped, IPv6 as itself. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fromIpv6Text, ipv4ToIpv6Text, toIpv6Text } from '../../../services/store/clientIp.ts';
import { formatIpv4 } from '../../../services/core/logformat/parseIp.ts';

test('toIpv6Text: IPv4 becomes ::ffff:a.b.c.d, IPv6 is unchanged', () => {
  assert.equal(toIpv6Text('203.0.113.7'), '::ffff:203.0.113.7');
  assert.equal(toIpv6Text('2001:db8::1'), '2001:db8::1');
  assert.equal(toIpv6Text('::ffff:203.0.113.7'), '::ffff:203.0.113.7');
  assert.equal(ipv4ToIpv6Text(0x0a140000), '::ffff:10.20.0.0');
  assert.equal(ipv4ToIpv6Text(0xffffffff), '::ffff:255.255.255.255');
});

test('fromIpv6Text: IPv4-mapped back to the dotted quad (either notation), IPv6 in RFC 5952 form as ClickHouse prints it', () => {
  assert.equal(fromIpv6Text('::ffff:203.0.113.7'), '203.0.113.7');
  assert.equal(fromIpv6Text('::ffff:cb00:7107'), '203.0.113.7');
  assert.equal(fromIpv6Text('::ffff:0.0.0.0'), '0.0.0.0');
  // ClickHouse's IPv6NumToString output, unchanged:
  for (const v6 of ['2001:db8:0:1::', '2001:0:0:1::1', '2001:db8:0:1:1:1:1:1', '::1', '1::2:0:0:3:4', '::1:0:0', 'fe80::']) assert.equal(fromIpv6Text(v6), v6);
  assert.equal(fromIpv6Text('203.0.113.7'), '203.0.113.7');
  assert.equal(fromIpv6Text('not an address'), 'not an address');
});

test('fromIpv6Text undoes toIpv6Text for every IPv4 address', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
      const ip = formatIpv4(n);
      assert.equal(toIpv6Text(ip), ipv4ToIpv6Text(n));
      assert.equal(fromIpv6Text(toIpv6Text(ip)), ip);
    }),
  );
});

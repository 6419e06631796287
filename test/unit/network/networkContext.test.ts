/**
 * Network context: the IP-to-ASN table (core/network/asnTable.ts) read from ip-location-db CSVs and
 * from a MaxMind-format file (services/network/asnSources.ts), the hosting classification
 * (core/network/hostingNetworks.ts) and the lookups the store's client text needs (IPv4, IPv6,
 * IPv4-mapped IPv6).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { AsnTableBuilder, NO_ENTRY, rangeToPrefixes } from '../../../services/core/network/asnTable.ts';
import { HOSTING_ASNS, hostingClassifier } from '../../../services/core/network/hostingNetworks.ts';
import { createNetworkContext, noNetworkContext } from '../../../services/core/network/networkContext.ts';
import { AsnDataError, asnPackageDir, loadNetworkContext, parseAsnCsvLine } from '../../../services/network/asnSources.ts';
import { writeAsnMmdb } from '../../support/mmdbWriter.ts';

const dir = mkdtempSync(join(tmpdir(), 'tw-asn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The same small world in the package's four shapes. */
const V4_TEXT = [
  '3.0.0.0,3.0.255.255,16509,"Amazon.com, Inc."',
  '3.1.0.0,3.1.0.255,14618,"Amazon.com, Inc."',
  '73.0.0.0,73.255.255.255,7922,"Comcast Cable Communications, LLC"',
  '198.51.100.0,198.51.100.127,64500,Example Hosting Ltd',
  '203.0.113.0,203.0.113.255,64501,"Quote ""Inc"""',
];
const V6_TEXT = ['2600:1f00::,2600:1fff:ffff:ffff:ffff:ffff:ffff:ffff,16509,"Amazon.com, Inc."', '2a01:4f8::,2a01:4f8:ffff:ffff:ffff:ffff:ffff:ffff,24940,Hetzner Online GmbH'];

function ipv4Num(t: string): number {
  return t.split('.').reduce((a, p) => a * 256 + Number(p), 0);
}
function ipv6Num(t: string): bigint {
  const [h, tl = ''] = t.split('::') as [string, string?];
  const hs = h === '' ? [] : h.split(':');
  const ts = tl === '' ? [] : tl.split(':');
  return [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts].reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}
const asNum = (lines: string[], v6: boolean): string[] =>
  lines.map((l) => {
    const [s, e, ...rest] = l.split(',');
    return [v6 ? ipv6Num(s!).toString() : ipv4Num(s!).toString(), v6 ? ipv6Num(e!).toString() : ipv4Num(e!).toString(), ...rest].join(',');
  });

writeFileSync(join(dir, 'asn-ipv4.csv'), V4_TEXT.join('\n') + '\n');
writeFileSync(join(dir, 'asn-ipv6.csv'), V6_TEXT.join('\n') + '\n');
const numDir = join(dir, 'num');

async function contexts() {
  mkdirSync(numDir, { recursive: true });
  writeFileSync(join(numDir, 'asn-ipv4-num.csv'), asNum(V4_TEXT, false).join('\n') + '\n');
  writeFileSync(join(numDir, 'asn-ipv6-num.csv'), asNum(V6_TEXT, true).join('\n') + '\n');
  const mmdb = join(dir, 'test-asn.mmdb');
  writeFileSync(
    mmdb,
    writeAsnMmdb([
      { cidr: '3.0.0.0/16', asn: 16509, org: 'Amazon.com, Inc.' },
      { cidr: '3.1.0.0/24', asn: 14618, org: 'Amazon.com, Inc.' },
      { cidr: '73.0.0.0/8', asn: 7922, org: 'Comcast Cable Communications, LLC' },
      { cidr: '198.51.100.0/25', asn: 64500, org: 'Example Hosting Ltd' },
      { cidr: '203.0.113.0/24', asn: 64501, org: 'Quote "Inc"' },
      { cidr: '2600:1f00::/24', asn: 16509, org: 'Amazon.com, Inc.' },
      { cidr: '2a01:4f8::/32', asn: 24940, org: 'Hetzner Online GmbH' },
    ]),
  );
  return {
    text: await loadNetworkContext({ asnDatabase: dir, hostingAsns: [] }),
    num: await loadNetworkContext({ asnDatabase: numDir, hostingAsns: [] }),
    mmdb: await loadNetworkContext({ asnDatabase: mmdb, hostingAsns: [] }),
  };
}

test('lookups on known ranges: IPv4, IPv4-mapped IPv6 (as the store writes clients), IPv6, edges and unknown addresses — the same from text CSV, numeric CSV and .mmdb', async () => {
  const all = await contexts();
  for (const [name, ctx] of Object.entries(all)) {
    const at = (ip: string) => ctx.lookup(ip);
    assert.equal(at('3.0.0.0').asn, 16509, name);
    assert.equal(at('3.0.255.255').asn, 16509, name);
    assert.equal(at('3.1.0.7').asn, 14618, name);
    assert.equal(at('3.1.1.0').asn, 0, `${name}: between ranges`);
    assert.equal(at('::ffff:3.0.7.9').asn, 16509, `${name}: mapped`);
    assert.equal(at('::ffff:300:709').asn, 16509, `${name}: mapped, hex tail`);
    assert.equal(at('73.12.1.2').org, 'Comcast Cable Communications, LLC', name);
    assert.equal(at('198.51.100.127').asn, 64500, name);
    assert.equal(at('198.51.100.128').kind, 'unknown', `${name}: one past the end`);
    assert.equal(at('203.0.113.9').org, 'Quote "Inc"', `${name}: quoted organisation`);
    assert.equal(at('2600:1f00::1').asn, 16509, name);
    assert.equal(at('2600:1fff:ffff:ffff:ffff:ffff:ffff:ffff').asn, 16509, `${name}: last address`);
    assert.equal(at('2600:2000::').asn, 0, `${name}: first after`);
    assert.equal(at('2a01:4f8:c17:1::2').org, 'Hetzner Online GmbH', name);
    for (const ip of ['10.0.0.1', '::1', '::', '255.255.255.255', 'not an ip', '', '1.2.3', '2001:db8::1']) assert.equal(at(ip).kind, 'unknown', `${name}: ${ip}`);
  }
});

test('hosting classification: listed ASNs, organisation names that say hosting, configured additions; residential/other and unknown', async () => {
  const { num } = await contexts();
  assert.deepEqual(num.lookup('3.0.1.1'), { asn: 16509, org: 'Amazon.com, Inc.', kind: 'hosting', provider: 'Amazon Web Services' });
  assert.equal(num.lookup('2a01:4f8::9').provider, 'Hetzner');
  assert.deepEqual(num.lookup('198.51.100.5'), { asn: 64500, org: 'Example Hosting Ltd', kind: 'hosting', provider: 'Example Hosting Ltd' });
  assert.deepEqual(num.lookup('73.1.1.1'), { asn: 7922, org: 'Comcast Cable Communications, LLC', kind: 'residential/other' });
  assert.equal(num.lookup('203.0.113.1').kind, 'residential/other');
  assert.equal(num.hostingAsn('::ffff:3.0.1.1'), 16509);
  assert.equal(num.hostingAsn('73.1.1.1'), 0);
  assert.equal(num.hostingAsn('10.1.1.1'), 0);
  const extra = await loadNetworkContext({ asnDatabase: numDir, hostingAsns: [64501] });
  assert.equal(extra.lookup('203.0.113.1').kind, 'hosting');
  const c = hostingClassifier();
  assert.equal(c.classify(0, 'anything').kind, 'unknown');
  assert.equal(c.classify(64999, 'Hosting Solutions').kind, 'hosting');
  assert.equal(c.classify(64999, 'Ghostinger Telecom').kind, 'residential/other', 'whole words only');
  assert.equal(c.classify(13335, 'Cloudflare, Inc.').kind, 'residential/other', 'CDNs and consumer VPN egress are not hosting');
  for (const h of HOSTING_ASNS) assert.equal(c.classify(h.asn, '').kind, 'hosting');
});

test('no database: every address unknown; a bad file is a clear error', async () => {
  const none = noNetworkContext();
  assert.equal(none.source, null);
  assert.deepEqual(none.lookup('3.0.0.1'), { asn: 0, org: '', kind: 'unknown' });
  assert.equal((await loadNetworkContext({ asnDatabase: 'none', hostingAsns: [] })).lookup('3.0.0.1').kind, 'unknown');
  await assert.rejects(loadNetworkContext({ asnDatabase: join(dir, 'missing.mmdb'), hostingAsns: [] }), AsnDataError);
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, '1.0.0.0,1.0.0.255,13335,ok\nthis is not a range\n');
  await assert.rejects(loadNetworkContext({ asnDatabase: bad, hostingAsns: [] }), /bad\.csv:2: not an ASN range/);
  const notMmdb = join(dir, 'bad.mmdb');
  writeFileSync(notMmdb, 'hello');
  await assert.rejects(loadNetworkContext({ asnDatabase: notMmdb, hostingAsns: [] }), /not a MaxMind DB file/);
  assert.deepEqual(parseAsnCsvLine('1,2,3,"a, ""b"""'), ['1', '2', '3', 'a, "b"']);
});

test('overlapping ranges are clipped, not lost; entries index both families', () => {
  const b = new AsnTableBuilder();
  b.addV4(100, 199, 1, 'a');
  b.addV4(150, 250, 2, 'b');
  b.addV4(160, 170, 3, 'c');
  b.addV6(1n << 100n, (1n << 100n) + 10n, 4, 'd');
  const t = b.build();
  assert.equal(t.clipped, 2);
  assert.equal(t.asnAt(t.findV4(160)), 1);
  assert.equal(t.asnAt(t.findV4(200)), 2);
  assert.equal(t.findV4(251), NO_ENTRY);
  assert.equal(t.size, 3);
  const ctx = createNetworkContext(t, null);
  assert.equal(ctx.lookup('0:10::5').asn, 4);
  assert.throws(() => b.addV4(5, 4, 1, 'x'), RangeError);
});

test('rangeToPrefixes covers exactly the range, with aligned prefixes', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 20n }), (start, span) => {
      const end = start + span > 2n ** 32n - 1n ? 2n ** 32n - 1n : start + span;
      const ps = rangeToPrefixes(start, end, 32);
      let next = start;
      for (const [net, len] of ps) {
        const size = 1n << BigInt(32 - len);
        assert.equal(net, next);
        assert.equal(net % size, 0n);
        next = net + size;
      }
      assert.equal(next, end + 1n);
    }),
  );
  assert.deepEqual(rangeToPrefixes(0n, 2n ** 128n - 1n, 128), [[0n, 0]]);
});

test('the bundled package (@ip-location-db/asn, when installed): real networks classified', { skip: asnPackageDir() === null ? 'optional package not installed' : false }, async () => {
  const ctx = await loadNetworkContext();
  assert.match(ctx.source?.name ?? '', /^@ip-location-db\/asn@/);
  assert.ok(ctx.table.size > 100_000);
  assert.equal(ctx.lookup('::ffff:52.94.76.1').kind, 'hosting'); // Amazon
  assert.equal(ctx.lookup('2a01:4f8::1').asn, 24940); // Hetzner
  assert.equal(ctx.lookup('73.1.2.3').kind, 'residential/other'); // Comcast
  assert.equal(ctx.lookup('10.0.0.1').kind, 'unknown');
});

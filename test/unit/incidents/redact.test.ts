/** Redaction of personal data from text shown to viewers (alert reasons, action notes). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { redactPersonalData } from '../../../services/incidents/redact.ts';

/** Every token of address characters that node itself reads as an IP. */
function addressesIn(text: string): string[] {
  return (text.match(/[0-9A-Fa-f.:]+/g) ?? []).flatMap((t) => [t, t.replace(/[.:]$/, '')]).filter((t) => isIP(t) !== 0);
}

test('campaign reasons lose their network and their user agent', () => {
  assert.equal(redactPersonalData('all members in 198.51.100.0/24', { networks: ['198.51.100.0/24'] }), 'all members in [network]');
  assert.equal(redactPersonalData('all members in 2001:db8:7::/48'), 'all members in [network]');
  // A user agent without a version is only known structurally.
  assert.equal(redactPersonalData('one user agent across 3 networks: CustomHarvester', { userAgents: ['CustomHarvester'] }), 'one user agent across 3 networks: [user agent]');
  assert.equal(
    redactPersonalData('one user agent across 2 networks: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'),
    'one user agent across 2 networks: [user agent]',
  );
  assert.equal(redactPersonalData('seen as python-requests/2.31.0 from 203.0.113.66.'), 'seen as [user agent] from [ip].');
});

test('IPv4, IPv6 (mapped, compressed, with zone), CIDR and addresses with ports are replaced', () => {
  assert.equal(redactPersonalData('from ::ffff:203.0.113.7 and 2001:DB8::1, then fe80::1%eth0'), 'from [ip] and [ip], then [ip]%eth0');
  assert.equal(redactPersonalData('10.0.0.1:8080 blocked'), '[ip]:8080 blocked');
  assert.equal(redactPersonalData('block 10.0.0.0/8 and ::ffff:10.0.0.0/104'), 'block [network] and [network]');
  assert.equal(redactPersonalData('interface:b00c::1'), 'inter[ip]');
  for (const t of ['from ::ffff:203.0.113.7 and 2001:DB8::1', 'fe80::1%eth0', 'x10.0.0.1y', '[2001:db8::5]:443']) assert.deepEqual(addressesIn(redactPersonalData(t)), [], t);
});

test('the detectors\' own wording survives', () => {
  const texts = [
    '97% of tiles in raster order',
    'steady 12.5 tiles/min over 30 min (CV 0.05; gap median 4.8 s ± 0.2 s)',
    'no descriptor before tiles for 100% of images; no Referer; library user agent; no pages, assets or revalidations',
    '1152 tiles this hour, robust z = 14.2 against active clients',
    'one tile every 12.0 min ± 1.5 min (median gap ≥ 5.0 min: no viewport bursts)',
    "overlap 0.05 (≤ 0.2: the work was split; viewers overlap on the same areas)",
    'detected at 2026-03-02T14:00:00Z',
    "no member covered more than 34% of any image's union (≤ 50%)",
  ];
  for (const t of texts) assert.equal(redactPersonalData(t), t);
  // Image ids are shown to viewers anyway and are kept, even when they look like a product token.
  assert.equal(redactPersonalData('revealed 8.0 screens; best 100% of maps/2024 by 203.0.113.66', { keep: ['maps/2024'] }), 'revealed 8.0 screens; best 100% of maps/2024 by [ip]');
});

test('known values are replaced wherever they occur; the placeholder marker cannot be forged', () => {
  assert.equal(redactPersonalData('HarvestBot HarvestBot', { userAgents: ['HarvestBot', '-'] }), '[user agent] [user agent]');
  assert.equal(redactPersonalData('a - b', { userAgents: ['-'] }), 'a - b', 'too short to replace everywhere');
  assert.equal(redactPersonalData('x\uE0000\uE001y 10.1.2.3', { keep: ['never'] }), 'x0y [ip]');
});

test('property: no generated IPv4 or IPv6 address survives, whatever surrounds it', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const v6 = fc.ipV6();
  const filler = fc.string({ maxLength: 12 }).map((s) => s.replace(/[0-9A-Fa-f.:]/g, ' '));
  fc.assert(
    fc.property(fc.array(fc.tuple(filler, fc.oneof(v4, v6), fc.option(fc.integer({ min: 0, max: 128 }))), { minLength: 1, maxLength: 5 }), (parts) => {
      const text = parts.map(([f, ip, p]) => `${f}${ip}${p === null ? '' : `/${p}`}`).join(' ');
      const out = redactPersonalData(text);
      assert.deepEqual(addressesIn(out), [], `${text} → ${out}`);
      for (const [, ip] of parts) assert.equal(out.includes(ip), false, `${ip} in ${out}`);
    }),
    { numRuns: 2000 },
  );
});

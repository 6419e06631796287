/**
 * Block-list decisions written to a real temporary directory: the nginx geo include and the plain
 * CIDR list, TTL per entry, atomic replacement, allow-listed networks never written, severity
 * threshold, campaign alerts with several addresses, state restored after a restart.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createBlockListSink, type BlockListSinkOptions } from '../../services/alerting/blockListSink.ts';
import { applyAlert, cidrsOverlap, parseNginxGeo, renderNginxGeo } from '../../services/alerting/blockList.ts';
import { parseCidr } from '../../services/core/logformat/cidr.ts';
import { makeAlert } from '../support/alerts.ts';
import { tempDir } from '../support/cli.ts';
import { FakeClock } from '../support/fakeClock.ts';

const HOUR = 3_600_000;
const silent = pino({ level: 'silent' });

function sinkIn(dir: string, clock: FakeClock, over: Partial<BlockListSinkOptions> = {}) {
  return createBlockListSink({
    geoFile: join(dir, 'blocked.conf'),
    cidrFile: join(dir, 'blocked.txt'),
    allowCidrs: ['10.20.0.0/16', '2001:db8:aaaa::/48'],
    ttlMs: 2 * HOUR,
    minSeverity: 'high',
    sweepIntervalMs: 0,
    clock,
    logger: silent,
    ...over,
  });
}

describe('block list (pure)', () => {
  test('CIDR overlap is symmetric and family-aware', () => {
    const o = (a: string, b: string): boolean => cidrsOverlap(parseCidr(a), parseCidr(b));
    assert.equal(o('10.0.0.0/8', '10.20.1.2'), true);
    assert.equal(o('10.20.1.2', '10.0.0.0/8'), true);
    assert.equal(o('10.0.0.0/8', '11.0.0.1'), false);
    assert.equal(o('2001:db8::/32', '2001:db8:aaaa::1'), true);
    assert.equal(o('2001:db8::/32', '2001:db9::1'), false);
    assert.equal(o('::/0', '10.0.0.1'), false);
  });

  test('the geo file round-trips its entries', () => {
    const now = Date.parse('2026-01-05T12:00:00Z');
    const policy = { minSeverity: 'high' as const, ttlMs: HOUR, allow: [], maxEntries: 10 };
    const { state } = applyAlert(new Map(), makeAlert({ client: { ips: ['203.0.113.7', '2001:db8:1::5'] } }), now, policy);
    assert.deepEqual(parseNginxGeo(renderNginxGeo(state, 'tw', now)), state);
  });

  test('maxEntries keeps the entries expiring last', () => {
    const policy = { minSeverity: 'low' as const, ttlMs: HOUR, allow: [], maxEntries: 2 };
    let s = applyAlert(new Map(), makeAlert({ id: 'tw-a', client: { ip: '192.0.2.1', ips: [] } }), 0, policy).state;
    s = applyAlert(s, makeAlert({ id: 'tw-b', client: { ip: '192.0.2.2', ips: [] } }), 1000, policy).state;
    s = applyAlert(s, makeAlert({ id: 'tw-c', client: { ip: '192.0.2.3', ips: [] } }), 2000, policy).state;
    assert.deepEqual([...s.keys()].sort(), ['192.0.2.2/32', '192.0.2.3/32']);
  });
});

describe('block-list sink on disk', () => {
  test('writes the geo include and the CIDR list for alerts at or above the severity, never allow-listed addresses', async (t) => {
    const dir = tempDir(t, 'blocklist');
    const clock = new FakeClock(Date.parse('2026-01-05T12:00:00Z'));
    const sink = sinkIn(dir, clock);
    await sink.deliver(makeAlert({ id: 'tw-low', severity: 'medium', client: { ip: '198.51.100.1', ips: ['198.51.100.1'] } }));
    await assert.rejects(readFile(join(dir, 'blocked.conf'), 'utf8'), { code: 'ENOENT' }, 'nothing written below the severity');
    await sink.deliver(
      makeAlert({
        id: 'tw-campaign',
        kind: 'campaign',
        severity: 'critical',
        client: { ip: '203.0.113.7', ips: ['203.0.113.7', '203.0.113.8', '10.20.3.4', '2001:db8:aaaa::9', '2001:db8:1::5', '198.18.0.0/24', 'not-an-ip'] },
      }),
    );
    const geo = await readFile(join(dir, 'blocked.conf'), 'utf8');
    assert.match(geo, /^# Written by tilewatch/);
    const body = geo.split('\n').filter((l) => !l.startsWith('#'));
    assert.deepEqual(body, [
      'geo $tilewatch_blocked {',
      '    default 0;',
      '    198.18.0.0/24 1; # expires 2026-01-05T14:00:00.000Z alert tw-campaign',
      '    2001:db8:1::5/128 1; # expires 2026-01-05T14:00:00.000Z alert tw-campaign',
      '    203.0.113.7/32 1; # expires 2026-01-05T14:00:00.000Z alert tw-campaign',
      '    203.0.113.8/32 1; # expires 2026-01-05T14:00:00.000Z alert tw-campaign',
      '}',
      '',
    ]);
    assert.equal(await readFile(join(dir, 'blocked.txt'), 'utf8'), '198.18.0.0/24\n2001:db8:1::5/128\n203.0.113.7/32\n203.0.113.8/32\n');
    assert.doesNotMatch(geo + (await readFile(join(dir, 'blocked.txt'), 'utf8')), /10\.20\.|aaaa/);
    assert.deepEqual((await readdir(dir)).sort(), ['blocked.conf', 'blocked.txt'], 'no temporary file left behind');
  });

  test('a CIDR overlapping the allow-list is not blocked', async (t) => {
    const dir = tempDir(t, 'blocklist');
    const sink = sinkIn(dir, new FakeClock());
    await sink.deliver(makeAlert({ client: { ip: '10.0.0.0/8', ips: [] } }));
    assert.deepEqual(sink.entries(), []);
  });

  test('entries expire after their TTL; a new version extends it; resolution does not lift it', async (t) => {
    const dir = tempDir(t, 'blocklist');
    const clock = new FakeClock(Date.parse('2026-01-05T12:00:00Z'));
    const sink = sinkIn(dir, clock);
    await sink.deliver(makeAlert({ id: 'tw-a', client: { ip: '192.0.2.1', ips: [] } }));
    await clock.advance(HOUR);
    await sink.deliver(makeAlert({ id: 'tw-b', client: { ip: '192.0.2.2', ips: [] } }));
    await sink.deliver(makeAlert({ id: 'tw-b', version: 2, status: 'resolved', resolvedAt: '2026-01-05T13:00:00Z', client: { ip: '192.0.2.2', ips: [] } }));
    assert.equal((await readFile(join(dir, 'blocked.txt'), 'utf8')), '192.0.2.1/32\n192.0.2.2/32\n');
    await clock.advance(HOUR);
    // 192.0.2.1 expired at 14:00; the next write drops it.
    assert.equal(await sink.sweep(), true);
    assert.equal(await readFile(join(dir, 'blocked.txt'), 'utf8'), '192.0.2.2/32\n');
    assert.equal(await sink.sweep(), false, 'nothing more to drop');
    await sink.deliver(makeAlert({ id: 'tw-b', version: 3, client: { ip: '192.0.2.2', ips: [] } }));
    assert.match(await readFile(join(dir, 'blocked.conf'), 'utf8'), /192\.0\.2\.2\/32 1; # expires 2026-01-05T16:00:00\.000Z alert tw-b/);
  });

  test('a restarted sink restores entries and expiry from the geo file', async (t) => {
    const dir = tempDir(t, 'blocklist');
    const clock = new FakeClock(Date.parse('2026-01-05T12:00:00Z'));
    await sinkIn(dir, clock).deliver(makeAlert({ id: 'tw-a', client: { ip: '192.0.2.1', ips: [] } }));
    await clock.advance(HOUR);
    const again = sinkIn(dir, clock);
    await again.deliver(makeAlert({ id: 'tw-b', client: { ip: '192.0.2.2', ips: [] } }));
    assert.deepEqual(
      again.entries().map((e) => [e.cidr, new Date(e.expiresAt).toISOString()]).sort(),
      [
        ['192.0.2.1/32', '2026-01-05T14:00:00.000Z'],
        ['192.0.2.2/32', '2026-01-05T15:00:00.000Z'],
      ],
    );
  });

  test('replacement is atomic: a reader never sees a partial file', async (t) => {
    const dir = tempDir(t, 'blocklist');
    const clock = new FakeClock();
    const sink = sinkIn(dir, clock, { cidrFile: undefined });
    const geoFile = join(dir, 'blocked.conf');
    await writeFile(geoFile, 'geo $tilewatch_blocked {\n    default 0;\n}\n');
    const ips = Array.from({ length: 400 }, (_, i) => `198.51.${i >> 8}.${i & 255}`);
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const text = await readFile(geoFile, 'utf8');
        reads++;
        assert.ok(text.endsWith('}\n'), `partial file seen: ${text.length} bytes`);
      }
    })();
    for (let i = 0; i < 40; i++) await sink.deliver(makeAlert({ id: `tw-${i}`, client: { ip: ips[i * 10]!, ips: ips.slice(i * 10, i * 10 + 10) } }));
    stop = true;
    await reader;
    assert.ok(reads > 0);
    assert.equal(sink.entries().length, 400);
  });
});

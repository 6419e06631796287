/**
 * Block-list decisions written to a real temporary directory: the nginx geo include and the plain
 * CIDR list, TTL per entry, atomic replacement, allow-listed networks never written, only incidents
 * at high or critical (never low or medium), campaign alerts with several addresses, state restored
 * after a restart.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createBlockListSink, type BlockListSinkOptions } from '../../services/alerting/blockListSink.ts';
import { applyAlert, cidrsOverlap, parseNginxGeo, renderNginxGeo } from '../../services/alerting/blockList.ts';
import type { Alert, Severity } from '../../services/core/alert.ts';
import { parseCidr } from '../../services/core/logformat/cidr.ts';
import { makeAlert } from '../support/alerts.ts';
import { tempDir } from '../support/cli.ts';
import { FakeClock } from '../support/fakeClock.ts';

const HOUR = 3_600_000;
const INC = 'ti-00000000000000000i01';

/** The version as the correlator hands it to the sinks: with its incident and the notice it sent. */
const noticed = (a: Alert, severity: Severity, notice: 'opened' | 'escalated' | 'resolved' = 'opened'): Alert => ({
  ...a,
  incident: { id: INC, severity, status: notice === 'resolved' ? 'resolved' : 'open', alerts: 2, notice },
});
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

  test('only open incidents at high or critical block, judged by the incident: never low or medium, whatever the policy says', () => {
    const now = Date.parse('2026-01-05T12:00:00Z');
    const policy = { minSeverity: 'high' as const, ttlMs: HOUR, allow: [], maxEntries: 10 };
    const at = (severity: Severity, incidentSeverity: Severity, notice: 'opened' | 'escalated' | 'resolved' = 'opened') =>
      [...applyAlert(new Map(), noticed(makeAlert({ severity, client: { ip: '192.0.2.9', ips: [] } }), incidentSeverity, notice), now, policy).state.keys()];
    assert.deepEqual(at('low', 'low'), []);
    assert.deepEqual(at('medium', 'medium'), []);
    assert.deepEqual(at('high', 'high'), ['192.0.2.9/32']);
    assert.deepEqual(at('medium', 'critical', 'escalated'), ['192.0.2.9/32'], 'a confirmed incident blocks the address of the alert behind its notice');
    assert.deepEqual(at('critical', 'critical', 'resolved'), [], 'a resolution adds nothing');
    // A policy below high (a JavaScript caller, an old config) still never blocks low or medium incidents.
    const loose = { ...policy, minSeverity: 'medium' as unknown as 'high' };
    assert.deepEqual([...applyAlert(new Map(), noticed(makeAlert({ severity: 'medium' }), 'medium'), now, loose).state.keys()], []);
  });

  test('entries name their incident in the geo file and read back; lines written before incidents still parse', () => {
    const now = Date.parse('2026-01-05T12:00:00Z');
    const policy = { minSeverity: 'high' as const, ttlMs: HOUR, allow: [], maxEntries: 10 };
    const { state } = applyAlert(new Map(), noticed(makeAlert({ client: { ip: '192.0.2.9', ips: [] } }), 'critical'), now, policy);
    const geo = renderNginxGeo(state, 'tw', now);
    assert.match(geo, new RegExp(`    192\\.0\\.2\\.9/32 1; # expires 2026-01-05T13:00:00\\.000Z alert tw-0123456789abcdef0123 incident ${INC}\n`));
    assert.deepEqual(parseNginxGeo(geo), state);
    assert.deepEqual([...parseNginxGeo('geo $tw {\n    192.0.2.1/32 1; # expires 2026-01-05T13:00:00.000Z alert tw-a\n}\n').values()], [
      { cidr: '192.0.2.1/32', expiresAt: Date.parse('2026-01-05T13:00:00.000Z'), alertId: 'tw-a' },
    ]);
  });

  test('maxEntries keeps the entries expiring last', () => {
    const policy = { minSeverity: 'high' as const, ttlMs: HOUR, allow: [], maxEntries: 2 };
    let s = applyAlert(new Map(), makeAlert({ id: 'tw-a', client: { ip: '192.0.2.1', ips: [] } }), 0, policy).state;
    s = applyAlert(s, makeAlert({ id: 'tw-b', client: { ip: '192.0.2.2', ips: [] } }), 1000, policy).state;
    s = applyAlert(s, makeAlert({ id: 'tw-c', client: { ip: '192.0.2.3', ips: [] } }), 2000, policy).state;
    assert.deepEqual([...s.keys()].sort(), ['192.0.2.2/32', '192.0.2.3/32']);
  });
});

describe('block-list sink on disk', () => {
  test('writes the geo include and the CIDR list for incidents at or above the severity, never allow-listed addresses (a version without an incident is its own)', async (t) => {
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
      '    198.18.0.0/24 1; # expires 2026-01-05T14:00:00.000Z alert tw-campaign incident ti-campaign',
      '    2001:db8:1::5/128 1; # expires 2026-01-05T14:00:00.000Z alert tw-campaign incident ti-campaign',
      '    203.0.113.7/32 1; # expires 2026-01-05T14:00:00.000Z alert tw-campaign incident ti-campaign',
      '    203.0.113.8/32 1; # expires 2026-01-05T14:00:00.000Z alert tw-campaign incident ti-campaign',
      '}',
      '',
    ]);
    assert.equal(await readFile(join(dir, 'blocked.txt'), 'utf8'), '198.18.0.0/24\n2001:db8:1::5/128\n203.0.113.7/32\n203.0.113.8/32\n');
    assert.doesNotMatch(geo + (await readFile(join(dir, 'blocked.txt'), 'utf8')), /10\.20\.|aaaa/);
    assert.deepEqual((await readdir(dir)).sort(), ['blocked.conf', 'blocked.txt'], 'no temporary file left behind');
  });

  test('incident notices: an incident opened at medium blocks nobody; its escalation to critical blocks; its resolution does not lift the block', async (t) => {
    const dir = tempDir(t, 'blocklist');
    const clock = new FakeClock(Date.parse('2026-01-05T12:00:00Z'));
    const sink = sinkIn(dir, clock);
    const member = { client: { ip: '203.0.113.40', ips: ['203.0.113.40'] } };
    await sink.deliver(noticed(makeAlert({ id: 'tw-00000000000000000s01', kind: 'low-and-slow', severity: 'medium', ...member }), 'medium', 'opened'));
    await sink.deliver(noticed(makeAlert({ id: 'tw-00000000000000000s02', severity: 'low', client: { ip: '203.0.113.41', ips: ['203.0.113.41'] } }), 'low', 'opened'));
    await assert.rejects(readFile(join(dir, 'blocked.conf'), 'utf8'), { code: 'ENOENT' }, 'nothing written for low and medium incidents');
    assert.deepEqual(sink.entries(), []);
    await sink.deliver(noticed(makeAlert({ id: 'tw-00000000000000000h01', severity: 'critical', ...member }), 'critical', 'escalated'));
    assert.equal(await readFile(join(dir, 'blocked.txt'), 'utf8'), '203.0.113.40/32\n');
    assert.match(await readFile(join(dir, 'blocked.conf'), 'utf8'), new RegExp(`203\\.0\\.113\\.40/32 1; # expires 2026-01-05T14:00:00\\.000Z alert tw-00000000000000000h01 incident ${INC}`));
    await clock.advance(HOUR);
    await sink.deliver(noticed(makeAlert({ id: 'tw-00000000000000000h01', version: 5, severity: 'critical', status: 'resolved', resolvedAt: '2026-01-05T12:50:00Z', ...member }), 'critical', 'resolved'));
    assert.equal(await readFile(join(dir, 'blocked.txt'), 'utf8'), '203.0.113.40/32\n', 'the resolution leaves the block to its TTL');
    await clock.advance(HOUR);
    assert.equal(await sink.sweep(), true);
    assert.deepEqual(sink.entries(), []);
  });

  test('the sink refuses a severity below high', (t) => {
    const dir = tempDir(t, 'blocklist');
    assert.throws(() => sinkIn(dir, new FakeClock(), { minSeverity: 'medium' as unknown as 'high' }), /minSeverity must be high or critical/);
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

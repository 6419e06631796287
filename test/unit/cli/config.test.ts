import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, createAllowlist, loadConfig } from '../../../services/cli/config.ts';
import { DEFAULT_DETECTOR_CONFIG } from '../../../services/core/detect/detectorConfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'tw-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
function file(obj: unknown): string {
  const p = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

describe('configuration', () => {
  it('defaults to the embedded store under ./data with the documented detector defaults, frozen', () => {
    const c = loadConfig({}, {});
    assert.deepEqual(c.store, { kind: 'embedded', dataDir: './data' });
    assert.deepEqual(c.detector, DEFAULT_DETECTOR_CONFIG);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.detector));
  });

  it('takes a server URL from flags or environment, the password only from the environment', () => {
    const c = loadConfig({ clickhouseUrl: 'http://127.0.0.1:8123' }, { TILEWATCH_CLICKHOUSE_PASSWORD: 's3cret' });
    assert.equal(c.store.kind, 'server');
    assert.equal(c.store.kind === 'server' && c.store.password, 's3cret');
    assert.equal(loadConfig({}, { TILEWATCH_CLICKHOUSE_URL: 'http://h:8123' }).store.kind, 'server');
  });

  it('merges the file with flags, flags winning', () => {
    const p = file({ dataDir: '/srv/tw', logFormat: 'json', detector: { alertScore: 60 }, allowlist: { cidrs: ['10.0.0.0/8'] } });
    const c = loadConfig({ config: p, format: 'common', allowCidr: ['192.0.2.0/24'] }, {});
    assert.deepEqual(c.store, { kind: 'embedded', dataDir: '/srv/tw' });
    assert.equal(c.parser.format, 'common');
    assert.equal(c.detector.alertScore, 60);
    assert.deepEqual(c.allowlist.cidrs, ['10.0.0.0/8', '192.0.2.0/24']);
  });

  it('rejects unknown or mistyped detector settings, bad CIDRs, bad patterns and unreadable files with ConfigError', () => {
    assert.throws(() => loadConfig({ config: file({ detector: { alertScroe: 1 } }) }, {}), ConfigError);
    assert.throws(() => loadConfig({ config: file({ detector: { alertScore: '50' } }) }, {}), ConfigError);
    assert.throws(() => loadConfig({ allowCidr: ['10.0.0.0/33'] }, {}), ConfigError);
    assert.throws(() => loadConfig({ trustedProxy: ['not-a-cidr'] }, {}), ConfigError);
    assert.throws(() => loadConfig({ config: file({ protocols: { patterns: [{ name: 'x', protocol: 'dzi', pattern: '(' }] } }) }, {}), ConfigError);
    assert.throws(() => loadConfig({ config: join(dir, 'missing.json') }, {}), ConfigError);
    assert.throws(() => loadConfig({ clientKey: 'ua' }, {}), ConfigError);
  });

  it('allow-lists by CIDR and by user-agent pattern', () => {
    const allowed = createAllowlist({ cidrs: ['10.20.0.0/16', '2001:db8::/32'], userAgents: ['^UptimeRobot/'] });
    assert.equal(allowed('10.20.3.4', 'python-requests'), true);
    assert.equal(allowed('2001:db8::1', ''), true);
    assert.equal(allowed('203.0.113.1', 'UptimeRobot/2.0'), true);
    assert.equal(allowed('203.0.113.1', 'python-requests'), false);
  });
});

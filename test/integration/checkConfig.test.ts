/**
 * `tilewatch check-config` through the real CLI (issue 17): a good file prints the effective
 * configuration (defaults filled, secrets redacted) with exit 0; each typo that used to pass
 * silently exits 2 naming the key; nothing is opened or created.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_DETECTOR_CONFIG } from '../../services/core/detect/detectorConfig.ts';
import { describeRun, runCli, tempDir } from '../support/cli.ts';

const SECRET_ENV = 'TW_CHECK_CONFIG_SECRET';
const SECRET = 'whsec-check-config-7f3a';

describe('tilewatch check-config', () => {
  test('a good file: exit 0 and the effective configuration as JSON, defaults filled, secrets redacted', async (t) => {
    const dir = tempDir(t, 'check-config-good');
    const config = join(dir, 'tilewatch.json');
    writeFileSync(
      config,
      JSON.stringify({
        $schema: './schemas/config.schema.json',
        trustedProxies: ['10.0.0.0/8'],
        allowlist: { cidrs: ['10.20.0.0/16'] },
        detector: { alertScore: 60 },
        sinks: { webhooks: [{ url: 'https://soc.example/hook', secretEnv: SECRET_ENV }] },
      }),
    );
    process.env[SECRET_ENV] = SECRET; // the CLI child inherits it
    t.after(() => delete process.env[SECRET_ENV]);
    const data = join(dir, 'data');
    const r = await runCli(['check-config', '--config', config, '--data', data, '--allow-cidr', '192.0.2.0/24']);
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(!r.stdout.includes(SECRET), 'the secret is not printed');
    const c = JSON.parse(r.stdout) as {
      store: { kind: string; dataDir: string };
      parser: { format: string; trustedProxies: string[] };
      detector: Record<string, unknown>;
      allowlist: { cidrs: string[] };
      hunts: { everyMs: number } | null;
      sinks: { webhooks: { name: string; secret: string; timeoutMs: number; toleranceSec: number }[]; queueCapacity: number; muteReloadMs: number };
      limits: { maxBytes: number };
    };
    assert.deepEqual(c.store, { kind: 'embedded', dataDir: data });
    assert.deepEqual(c.parser, { format: 'auto', trustedProxies: ['10.0.0.0/8'] });
    assert.deepEqual(c.detector, { ...DEFAULT_DETECTOR_CONFIG, alertScore: 60 });
    assert.deepEqual(c.allowlist.cidrs, ['10.20.0.0/16', '192.0.2.0/24'], 'flags are applied');
    assert.equal(c.hunts?.everyMs, 600_000);
    const hook = c.sinks.webhooks[0]!;
    assert.deepEqual([hook.name, hook.secret, hook.timeoutMs, hook.toleranceSec], ['webhook', '[redacted]', 5000, 300]);
    assert.equal(c.sinks.queueCapacity, 1000);
    assert.equal(c.sinks.muteReloadMs, 30_000);
    assert.equal(c.limits.maxBytes, 2 ** 40);
    assert.equal(existsSync(data), false, 'check-config opens no store');
  });

  const typos: [string, string, RegExp][] = [
    ['allowlist.cidr', '{"allowlist":{"cidr":["10.20.0.0/16"]}}', /allowlist: unknown key "cidr" \(did you mean "cidrs"\?\) \(expected one of: cidrs, userAgents\)/],
    ['trustedProxy', '{"trustedProxy":["10.0.0.0/8"]}', /unknown key "trustedProxy" \(did you mean "trustedProxies"\?\)/],
    ['trustedProxies as a string', '{"trustedProxies":"10.0.0.0/8"}', /trustedProxies: must be an array of CIDR strings, got a string/],
  ];
  for (const [name, text, message] of typos) {
    test(`typo ${name}: exit 2 naming the key`, async (t) => {
      const dir = tempDir(t, 'check-config-typo');
      const config = join(dir, 'tilewatch.json');
      writeFileSync(config, text);
      const r = await runCli(['check-config', '--config', config, '--data', join(dir, 'data')]);
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, message);
      assert.match(r.stderr, new RegExp(`^tilewatch: config file ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `, 'm'), 'the file is named');
      assert.equal(r.stdout, '');
    });
  }

  test('every error is listed, one per line', async (t) => {
    const dir = tempDir(t, 'check-config-many');
    const config = join(dir, 'tilewatch.json');
    writeFileSync(config, JSON.stringify({ trustedProxy: [], allowlist: { cidr: [] }, detector: { alertScore: 'high' } }));
    const r = await runCli(['check-config', '--config', config]);
    assert.equal(r.code, 2, describeRun(r));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 3, r.stderr);
    assert.ok(lines.every((l) => l.startsWith(`tilewatch: config file ${config}: `)), r.stderr);
  });

  test('the same typo stops a real command with exit 2 before the store is opened', async (t) => {
    const dir = tempDir(t, 'check-config-migrate');
    const config = join(dir, 'tilewatch.json');
    writeFileSync(config, '{"trustedProxy":["10.0.0.0/8"]}');
    const data = join(dir, 'data');
    const r = await runCli(['migrate', '--config', config, '--data', data]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /unknown key "trustedProxy"/);
    assert.equal(existsSync(data), false);
  });
});

/**
 * schemas/config.schema.json: it compiles, refuses the typos that used to pass silently (issue 17:
 * `allowlist.cidr`, `trustedProxy`, `trustedProxies` as a string) naming the key, accepts every
 * example configuration in the repository, and agrees with what services/cli/config.ts and
 * services/alerting/sinksConfig.ts read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../services/cli/config.ts';
import { checkConfigFile, createConfigAjv, dottedPath } from '../../../services/cli/configSchema.ts';
import { effectiveConfig } from '../../../services/cli/commands/checkConfig.ts';
import { DEFAULT_DETECTOR_CONFIG } from '../../../services/core/detect/detectorConfig.ts';
import { DEFAULT_HUNT_CONFIG } from '../../../services/core/hunts/huntConfig.ts';
import { DEFAULT_INPUT_LIMITS } from '../../../services/core/validate/inputLimits.ts';

const ROOT = new URL('../../../', import.meta.url);
const SCHEMA_PATH = new URL('schemas/config.schema.json', ROOT);
type Node = Record<string, unknown>;
const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Node;

const dir = mkdtempSync(join(tmpdir(), 'tw-config-schema-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: unknown): string {
  const p = join(dir, `c${++n}.json`);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}
/** The ConfigError's problems for a file, or [] when loadConfig accepts it. */
function problems(content: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig({ config: file(content) }, env);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
}

const ENV = { TW_HOOK_SECRET: 'sec-hook-1', TW_SLACK_SECRET: 'sec-slack-2', TW_AM_TOKEN: 'sec-am-3', TW_KAFKA_PASSWORD: 'sec-kafka-4', TILEWATCH_WEBHOOK_SECRET: 'w', TILEWATCH_SLACK_SECRET: 's' };

/** Every key the schema documents, with values config.ts and sinksConfig.ts accept. */
const EVERY_KEY = {
  $schema: './schemas/config.schema.json',
  dataDir: '/srv/tilewatch',
  clickhouseUrl: 'http://127.0.0.1:8123',
  clickhouseDatabase: 'tiles',
  clickhouseUser: 'tilewatch',
  clickhouseCluster: '{cluster}',
  logFormat: 'combined',
  trustedProxies: ['10.0.0.0/8', '2001:db8::/32'],
  network: { asnDatabase: '/srv/GeoLite2-ASN.mmdb', hostingAsns: [64500] },
  protocols: {
    iiifVersion: 'iiif3',
    thumbnailMaxEdge: 300,
    tileMaxEdge: 2048,
    patterns: [
      { name: 'legacy', protocol: 'dzi', pattern: '^/img/(?<image>[^/]+)/z(?<level>\\d+)/(?<col>\\d+)-(?<row>\\d+)\\.jpg$', flags: 'i', kind: 'tile' },
      { name: 'legacy-info', protocol: 'dzi', pattern: '^/img/(?<image>[^/]+)\\.dzi$', kind: 'info' },
    ],
  },
  detector: { ...DEFAULT_DETECTOR_CONFIG, clientKey: 'ip+ua', alertScore: 60 },
  allowlist: { cidrs: ['10.20.0.0/16'], userAgents: ['^UptimeRobot/'] },
  catalog: 'images.csv',
  hunts: { ...DEFAULT_HUNT_CONFIG, lowAndSlow: { ...DEFAULT_HUNT_CONFIG.lowAndSlow, skipAlerted: false } },
  sinks: {
    queueCapacity: 500,
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    drainTimeoutMs: 5000,
    muteReloadMs: 10_000,
    webUrl: 'https://tilewatch.example/',
    log: { enabled: true, format: 'ecs', minSeverity: 'medium', retry: { maxAttempts: 2 }, queueCapacity: 10 },
    webhooks: [
      { name: 'soc', url: 'https://soc.example/hook', secretEnv: 'TW_HOOK_SECRET', format: 'json', timeoutMs: 4000, toleranceSec: 60, minSeverity: 'low', queueCapacity: 100, retry: { maxAttempts: 5 } },
      { name: 'slack', url: 'https://hooks.slack.example/x', secretEnv: 'TW_SLACK_SECRET', format: 'slack', minSeverity: 'high' },
    ],
    alertmanager: { urls: ['http://am1:9093', 'http://am2:9093'], webUrl: 'https://tw.example/', openTtlMs: 3_600_000, extraLabels: { team: 'soc' }, bearerTokenEnv: 'TW_AM_TOKEN', timeoutMs: 3000, minSeverity: 'medium', queueCapacity: 50, retry: { baseDelayMs: 200 } },
    kafka: { brokers: ['kafka:9092'], topic: 'alerts', format: 'ecs', clientId: 'tw', ssl: true, idempotent: false, sasl: { mechanism: 'plain', username: 'tw', passwordEnv: 'TW_KAFKA_PASSWORD' }, minSeverity: 'low', queueCapacity: 10, retry: { maxAttempts: 1 } },
    blockList: { geoFile: '/etc/nginx/blocked.conf', cidrFile: '/var/lib/tw/blocked.txt', variable: 'tw_blocked', blockSeverity: 'critical', ttlMs: 3_600_000, allowCidrs: ['192.0.2.0/24'], maxEntries: 100, sweepIntervalMs: 1000, minSeverity: 'high', queueCapacity: 10, retry: { maxAttempts: 2 } },
  },
  limits: { ...DEFAULT_INPUT_LIMITS, maxSkewMs: 0 },
};

/** Walks every schema node with its JSON pointer. */
function walk(node: unknown, at: string, visit: (n: Node, at: string) => void): void {
  if (typeof node !== 'object' || node === null) return;
  visit(node as Node, at);
  for (const [k, v] of Object.entries(node)) {
    if (k === 'enum' || k === 'const') continue;
    if (k === 'properties' || k === '$defs') for (const [p, s] of Object.entries(v as Node)) walk(s, `${at}/${k}/${p}`, visit);
    else if (typeof v === 'object') walk(v, `${at}/${k}`, visit);
  }
}
/** The object schema of a section: its `then` for the `false`-or-object sections. */
const objectOf = (n: Node): Node => ((n.then as Node | undefined) ?? n) as Node;
const propsOf = (n: Node): Node => objectOf(n).properties as Node;

describe('schemas/config.schema.json', () => {
  it('compiles (draft 2020-12, strict) and refuses unknown keys in every object, with a description for every key', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(typeof createConfigAjv().compile(schema), 'function');
    let objects = 0;
    walk(schema, '', (node, at) => {
      if (node.type === 'object' && node.properties !== undefined) {
        objects++;
        assert.equal(node.additionalProperties, false, `${at} refuses unknown keys`);
      }
      if (at.match(/\/properties\/[^/]+$/)) assert.ok(typeof node.description === 'string' && node.description.length > 3, `${at} has a description`);
    });
    assert.ok(objects >= 15, `${objects} object schemas`);
    // A "$schema" key at the top of a user's file is allowed (editors).
    assert.deepEqual(checkConfigFile({ $schema: './schemas/config.schema.json' }), []);
  });

  it('rejects each typo of issue 17 naming the key, through loadConfig (exit code 2 via ConfigError)', () => {
    const cidr = problems({ allowlist: { cidr: ['10.20.0.0/16'] } });
    assert.equal(cidr.length, 1, cidr.join('\n'));
    assert.match(cidr[0]!, /^config file .*\.json: allowlist: unknown key "cidr" \(did you mean "cidrs"\?\) \(expected one of: cidrs, userAgents\)$/);

    const proxy = problems({ trustedProxy: ['10.0.0.0/8'] });
    assert.equal(proxy.length, 1, proxy.join('\n'));
    assert.match(proxy[0]!, /unknown key "trustedProxy" \(did you mean "trustedProxies"\?\) \(expected one of: \$schema, dataDir, .*trustedProxies/);

    const str = problems({ trustedProxies: '10.0.0.0/8' });
    assert.deepEqual(str.map((p) => p.replace(/^config file \S+: /, '')), ['trustedProxies: must be an array of CIDR strings, got a string']);
  });

  it('lists every error, not only the first, each by its path and what it should be', () => {
    // 1e400 is valid JSON and parses to Infinity (JSON.stringify would write null).
    const text = JSON.stringify({
      detectr: {},
      detector: { alertScore: '50', clientKey: 'ua' },
      trustedProxies: ['10.0.0.0/33', 7],
      hunts: true,
      sinks: { log: 3, webhooks: [{ url: 'ftp://x', secret: 'literal', toleranceSec: 'INF' }], kafka: { brokers: [] } },
      limits: { maxBytes: -1 },
    }).replace('"toleranceSec":"INF"', '"toleranceSec":1e400');
    const p = problems(text).map((s) => s.replace(/^config file \S+: /, ''));
    const expected = [
      'unknown key "detectr" (did you mean "detector"?)',
      'detector.alertScore: must be a number from 0 to 100, got a string',
      'detector.clientKey: must be one of "ip", "ip+ua", got "ua"',
      'trustedProxies[0]: must be a CIDR string (address/prefix, e.g. 10.0.0.0/8), got "10.0.0.0/33"',
      'trustedProxies[1]: must be a CIDR string (address/prefix, e.g. 10.0.0.0/8), got a number',
      'hunts: must be an object or false, got true',
      'sinks.log: must be an object or true or false, got a number',
      'sinks.webhooks[0]: missing required key "secretEnv"',
      'sinks.webhooks[0].secret: secrets are not read from the config file; put it in an environment variable and name it in "secretEnv"',
      'sinks.webhooks[0].url: must be an http or https URL, got "ftp://x"',
      // 1e400 parses to Infinity; the message sinksConfig.ts gave is kept (test/integration/webhookSink.test.ts).
      'sinks.webhooks[0].toleranceSec: must be an integer from 5 to 3600, got Infinity',
      'sinks.kafka.brokers: must be a non-empty array of strings matching ^[^\\s:]+:\\d{1,5}$, got []',
      'limits.maxBytes: must be a number ≥ 0, got -1',
    ];
    for (const e of expected) assert.ok(p.some((m) => m.startsWith(e)), `missing ${JSON.stringify(e)} in:\n${p.join('\n')}`);
    assert.equal(p.length, expected.length, p.join('\n'));
  });

  it('names keys by dotted path', () => {
    assert.equal(dottedPath(''), '');
    assert.equal(dottedPath('/sinks/webhooks/0/url'), 'sinks.webhooks[0].url');
    assert.equal(dottedPath('/sinks/alertmanager/extraLabels/a-b'), 'sinks.alertmanager.extraLabels["a-b"]');
  });

  it('accepts every example configuration in the repository (README, deploy/, test fixtures), as loadConfig does', () => {
    const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
    const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Node);
    const configs = blocks.filter((b) => Object.keys(b).some((k) => k in propsOf(schema)));
    assert.ok(configs.length >= 2, `README config examples: ${configs.length}`);
    const examples: [string, unknown][] = [
      ...configs.map((c, i): [string, unknown] => [`README block ${i + 1}`, c]),
      ['deploy/tilewatch/tilewatch.json', JSON.parse(readFileSync(new URL('deploy/tilewatch/tilewatch.json', ROOT), 'utf8'))],
      // Files the integration tests write (muteReload, incidentChain, hunts, webhookSink's valid part).
      ['muteReload', { sinks: { muteReloadMs: 1000, webhooks: [{ url: 'http://127.0.0.1:1/hook', secretEnv: 'TW_HOOK_SECRET', retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 500 } }] } }],
      ['incidentChain', { sinks: { webhooks: [{ url: 'http://127.0.0.1:1/hook', secretEnv: 'TW_HOOK_SECRET' }] } }],
      ['hunts', { hunts: { lowAndSlow: { skipAlerted: false } } }],
      ['hunts off', { hunts: false }],
      ['every key', EVERY_KEY],
    ];
    for (const [name, c] of examples) {
      assert.deepEqual(checkConfigFile(c), [], `${name} fits the schema`);
      assert.deepEqual(problems(c, ENV), [], `${name} loads`);
    }
  });

  it('agrees with config.ts: the detector, hunts and limits sections list exactly the defaults\' keys', () => {
    const top = propsOf(schema);
    assert.deepEqual(Object.keys(propsOf(top.detector as Node)).sort(), Object.keys(DEFAULT_DETECTOR_CONFIG).sort());
    assert.deepEqual(Object.keys(propsOf(top.limits as Node)).sort(), Object.keys(DEFAULT_INPUT_LIMITS).sort());
    const hunts = propsOf(top.hunts as Node);
    assert.deepEqual(Object.keys(hunts).sort(), Object.keys(DEFAULT_HUNT_CONFIG).sort());
    for (const [k, v] of Object.entries(DEFAULT_HUNT_CONFIG)) {
      if (typeof v === 'object') assert.deepEqual(Object.keys(propsOf(hunts[k] as Node)).sort(), Object.keys(v as object).sort(), `hunts.${k}`);
    }
    // The defaults themselves fit the schema.
    assert.deepEqual(checkConfigFile({ detector: DEFAULT_DETECTOR_CONFIG, hunts: DEFAULT_HUNT_CONFIG, limits: DEFAULT_INPUT_LIMITS }), []);
  });

  it('agrees with config.ts and sinksConfig.ts on every key: each one misspelt is refused by the schema', () => {
    const c = loadConfig({ config: file(EVERY_KEY) }, ENV);
    assert.equal(c.detector.alertScore, 60);
    assert.equal(c.sinks.kafka?.sasl?.mechanism, 'plain');
    assert.equal(c.hunts?.lowAndSlow.skipAlerted, false);
    assert.deepEqual(c.network, { asnDatabase: '/srv/GeoLite2-ASN.mmdb', hostingAsns: [64500] });
    // Every documented key appears in EVERY_KEY (so the file above exercised the whole schema) …
    const documented: string[] = [];
    walk(schema, '', (_node, at) => {
      if (!at.startsWith('/$defs') && /\/properties\/[^/]+$/.test(at)) documented.push(at.replace(/\/(then|properties|items)/g, '').replace(/^\//, ''));
    });
    const used = new Set<string>();
    const collectKeys = (v: unknown, at: string): void => {
      if (Array.isArray(v)) for (const x of v) collectKeys(x, at);
      else if (typeof v === 'object' && v !== null)
        for (const [k, x] of Object.entries(v)) {
          const p = at === '' ? k : `${at}/${k}`;
          if (!p.startsWith('sinks/alertmanager/extraLabels/')) used.add(p);
          collectKeys(x, p);
        }
    };
    collectKeys(EVERY_KEY, '');
    const unused = documented.filter((k) => !used.has(k) && k !== 'sinks/alertmanager/apiBaseUrl');
    assert.deepEqual(unused, [], 'keys documented by the schema but not in the every-key file');
    // … and each of them, misspelt, is refused naming it.
    for (const key of [...used]) {
      const path = key.split('/');
      const copy = structuredClone(EVERY_KEY) as unknown as Node;
      let parent: Node = copy;
      for (const seg of path.slice(0, -1)) {
        const next = parent[seg];
        parent = (Array.isArray(next) ? next[0] : next) as Node;
      }
      const last = path.at(-1)!;
      parent[`${last}X`] = parent[last];
      delete parent[last];
      const errs = checkConfigFile(copy);
      assert.ok(errs.some((e) => e.includes(`unknown key "${last}X"`)), `${key} misspelt: ${errs.join('\n')}`);
    }
  });

  it('apiBaseUrl, the older form of webUrl, is still accepted', () => {
    assert.deepEqual(problems({ sinks: { alertmanager: { urls: ['http://am:9093'], apiBaseUrl: 'https://tw.example/api' } } }), []);
  });

  it('semantic checks still run after the schema (secrets from the environment, CIDR parsing of flags)', () => {
    const missing = problems({ sinks: { webhooks: [{ url: 'https://soc.example/hook', secretEnv: 'TW_UNSET_SECRET' }] } });
    assert.deepEqual(missing, ['sinks.webhooks[0].secretEnv: environment variable TW_UNSET_SECRET is not set']);
    assert.throws(() => loadConfig({ trustedProxy: ['10.0.0.0/33'] }, {}), ConfigError);
    assert.match(problems('{ not json')[0]!, /^Cannot load config /);
  });

  it('the effective configuration shows defaults and redacts secrets', () => {
    const c = loadConfig({ config: file(EVERY_KEY) }, { ...ENV, TILEWATCH_CLICKHOUSE_PASSWORD: 'sec-ch-5' });
    const shown = JSON.stringify(effectiveConfig(c));
    for (const secret of ['sec-hook-1', 'sec-slack-2', 'sec-am-3', 'sec-kafka-4', 'sec-ch-5']) assert.ok(!shown.includes(secret), `${secret} not shown`);
    const out = JSON.parse(shown) as { store: { password: string }; sinks: { webhooks: { secret: string }[]; muteReloadMs: number }; recognise: { patterns: { pattern: string }[] } };
    assert.equal(out.store.password, '[redacted]');
    assert.equal(out.sinks.webhooks[0]!.secret, '[redacted]');
    assert.equal(new RegExp(out.recognise.patterns[0]!.pattern).source, new RegExp(EVERY_KEY.protocols.patterns[0]!.pattern).source, 'patterns shown as their source');
    const defaults = JSON.parse(JSON.stringify(effectiveConfig(loadConfig({}, {})))) as { sinks: { muteReloadMs: number; webhooks: unknown[] }; detector: unknown };
    assert.equal(defaults.sinks.muteReloadMs, 30_000);
    assert.deepEqual(defaults.detector, DEFAULT_DETECTOR_CONFIG);
  });
});

/** The `sinks` config block: validation with field-naming errors, defaults, secrets from env, and buildSinks. */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildSinks } from '../../../services/alerting/buildSinks.ts';
import { parseSinksConfig, SinksConfigError } from '../../../services/alerting/sinksConfig.ts';
import type { MessageProducer, ProducedMessage, ProducerSettings } from '../../../services/kafka/producer.ts';
import { makeAlert } from '../../support/alerts.ts';
import { FakeClock, flush } from '../../support/fakeClock.ts';

const ENV = { TW_HOOK: 'hook-secret', TW_AM: 'am-token', TW_KAFKA: 'kafka-pass' };

const FULL = {
  queueCapacity: 500,
  retry: { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 30_000 },
  drainTimeoutMs: 5000,
  log: true,
  webhooks: [
    { url: 'https://soc.example/hooks/tilewatch', secretEnv: 'TW_HOOK' },
    { name: 'slack', url: 'https://hooks.slack.com/services/T/B/X', secretEnv: 'TW_HOOK', format: 'slack', minSeverity: 'high', retry: { maxAttempts: 3 } },
  ],
  alertmanager: { urls: ['http://am-1:9093', 'http://am-2:9093'], apiBaseUrl: 'https://tilewatch.example/api', bearerTokenEnv: 'TW_AM', extraLabels: { env: 'prod' } },
  kafka: { brokers: ['kafka-1:9092'], sasl: { username: 'tw', passwordEnv: 'TW_KAFKA' }, ssl: true },
  blockList: { geoFile: '/etc/nginx/tilewatch-blocked.conf', cidrFile: '/var/lib/tilewatch/blocked.txt', ttlMs: 3_600_000, allowCidrs: ['192.0.2.0/24'] },
};

const errorOf = (raw: unknown, env: Record<string, string> = ENV): string => {
  try {
    parseSinksConfig(raw, env);
  } catch (err) {
    assert.ok(err instanceof SinksConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a SinksConfigError');
};

describe('parseSinksConfig', () => {
  test('no block: no sinks, documented defaults', () => {
    const c = parseSinksConfig(undefined, {});
    assert.deepEqual(
      { ...c, retry: { ...c.retry } },
      { queueCapacity: 1000, retry: { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000 }, drainTimeoutMs: 10_000, webUrl: null, log: null, webhooks: [], alertmanager: null, kafka: null, blockList: null },
    );
    assert.ok(Object.isFrozen(c));
  });

  test('a full block: defaults filled per sink, overrides kept, secrets resolved from env and redacted when printed', () => {
    const c = parseSinksConfig(FULL, ENV);
    assert.equal(c.webhooks[0]!.name, 'webhook');
    assert.equal(c.webhooks[0]!.format, 'json');
    assert.equal(c.webhooks[0]!.timeoutMs, 5000);
    assert.equal(c.webhooks[0]!.toleranceSec, 300);
    assert.deepEqual({ ...c.webhooks[0]!.retry }, { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 30_000 });
    assert.equal(c.webhooks[0]!.queueCapacity, 500);
    assert.equal(c.webhooks[0]!.secret.reveal(), 'hook-secret');
    assert.deepEqual({ ...c.webhooks[1]!.retry }, { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 30_000 }, 'unset fields come from the block-wide retry');
    assert.equal(c.webhooks[1]!.minSeverity, 'high');
    assert.equal(c.alertmanager!.bearerToken!.reveal(), 'am-token');
    assert.equal(c.alertmanager!.openTtlMs, 7 * 24 * 3_600_000);
    assert.equal(c.alertmanager!.webUrl, 'https://tilewatch.example/', 'the older apiBaseUrl names the server whose root serves the web page');
    assert.equal(parseSinksConfig({ alertmanager: { urls: ['http://am:9093'], webUrl: 'https://tw.example/console' } }, ENV).alertmanager!.webUrl, 'https://tw.example/console');
    assert.equal(c.kafka!.topic, 'tile-alerts');
    assert.equal(c.kafka!.sasl!.mechanism, 'scram-sha-512');
    assert.equal(c.kafka!.sasl!.password.reveal(), 'kafka-pass');
    assert.equal(c.blockList!.blockSeverity, 'high');
    assert.equal(c.blockList!.variable, 'tilewatch_blocked');
    const printed = JSON.stringify(c) + inspect(c, { depth: 10 });
    for (const secret of Object.values(ENV)) assert.ok(!printed.includes(secret), `${secret} leaked`);
  });

  test('webhook toleranceSec: an integer from 5 to 3600; NaN, negative, infinite and fractional values are refused by name', () => {
    const hook = (over: Record<string, unknown>) => ({ webhooks: [{ url: 'https://x', secretEnv: 'TW_HOOK', ...over }] });
    assert.equal(parseSinksConfig(hook({ toleranceSec: 60, timeoutMs: 60_000 }), ENV).webhooks[0]!.toleranceSec, 60);
    const refused: Array<[unknown, string]> = [
      [Number.NaN, 'NaN'],
      [-300, '-300'],
      [0, '0'],
      [4, '4'],
      [3601, '3601'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
      [JSON.parse('1e400') as number, 'Infinity'],
      [1.5, '1.5'],
      ['300', '"300"'],
      [null, 'null'],
    ];
    for (const [v, shown] of refused) assert.equal(errorOf(hook({ toleranceSec: v })), `sinks.webhooks[0].toleranceSec: must be an integer from 5 to 3600, got ${shown}`);
    assert.match(errorOf(hook({ toleranceSec: 10, timeoutMs: 10_001 })), /^sinks\.webhooks\[0\]\.timeoutMs: must be at most toleranceSec × 1000 \(10000\)/);
  });

  test('errors name the bad field', () => {
    const cases: Array<[unknown, RegExp, Record<string, string>?]> = [
      [[], /^sinks: must be an object$/],
      [{ webhook: [] }, /^sinks: unknown field "webhook"$/],
      [{ queueCapacity: 0 }, /^sinks\.queueCapacity: must be an integer from 1/],
      [{ retry: { maxAttempts: 1.5 } }, /^sinks\.retry\.maxAttempts: must be an integer/],
      [{ retry: { baseDelayMs: 1000, maxDelayMs: 10 } }, /^sinks\.retry\.maxDelayMs: must be at least baseDelayMs/],
      [{ webhooks: [{ secretEnv: 'TW_HOOK' }] }, /^sinks\.webhooks\[0\]\.url: is required$/],
      [{ webhooks: [{ url: 'ftp://x', secretEnv: 'TW_HOOK' }] }, /^sinks\.webhooks\[0\]\.url: must be an http or https URL/],
      [{ webhooks: [{ url: 'https://x', secretEnv: 'TW_HOOK' }, { url: 'not a url', secretEnv: 'TW_HOOK' }] }, /^sinks\.webhooks\[1\]\.url: is not a URL/],
      [{ webhooks: [{ url: 'https://x', secret: 'literal' }] }, /^sinks\.webhooks\[0\]\.secret: secrets are not read from the config file/],
      [{ webhooks: [{ url: 'https://x' }] }, /^sinks\.webhooks\[0\]\.secretEnv: is required/],
      [{ webhooks: [{ url: 'https://x', secretEnv: 'NOPE' }] }, /^sinks\.webhooks\[0\]\.secretEnv: environment variable NOPE is not set$/],
      [{ webhooks: [{ url: 'https://x', secretEnv: 'TW_HOOK', format: 'teams' }] }, /^sinks\.webhooks\[0\]\.format: must be one of json, slack/],
      [{ webhooks: [{ url: 'https://x', secretEnv: 'TW_HOOK', minSeverity: 'urgent' }] }, /^sinks\.webhooks\[0\]\.minSeverity: must be one of low, medium, high, critical/],
      [{ webhooks: [{ url: 'https://x', secretEnv: 'TW_HOOK', name: 'a' }, { url: 'https://y', secretEnv: 'TW_HOOK', name: 'a' }] }, /two sinks are named "a"/],
      [{ alertmanager: { urls: [] } }, /^sinks\.alertmanager\.urls: must be a non-empty array/],
      [{ alertmanager: { urls: ['am:9093'] } }, /^sinks\.alertmanager\.urls\[0\]: must be an http or https URL/],
      [{ alertmanager: { urls: ['http://am:9093'], extraLabels: { 'bad-name': 'x' } } }, /^sinks\.alertmanager\.extraLabels: must map label names/],
      [{ kafka: { brokers: ['kafka'] } }, /^sinks\.kafka\.brokers\[0\]: must be host:port/],
      [{ kafka: { brokers: ['k:9092'], sasl: { username: 'u', password: 'p' } } }, /^sinks\.kafka\.sasl\.password: secrets are not read/],
      [{ blockList: { cidrFile: '/x' } }, /^sinks\.blockList\.geoFile: is required$/],
      [{ blockList: { geoFile: '/x', allowCidrs: ['10.0.0.0/33'] } }, /^sinks\.blockList\.allowCidrs\[0\]: invalid CIDR/],
      [{ blockList: { geoFile: '/x', variable: '$blocked' } }, /^sinks\.blockList\.variable: must be an nginx variable name/],
      [{ blockList: { geoFile: '/x', blockSeverity: 'medium' } }, /^sinks\.blockList\.blockSeverity: must be one of high, critical, got "medium"$/],
      [{ alertmanager: { urls: ['http://am:9093'], webUrl: 'https://tw.example/', apiBaseUrl: 'https://tw.example/api' } }, /^sinks\.alertmanager\.apiBaseUrl: give webUrl only/],
      [{ alertmanager: { urls: ['http://am:9093'], webUrl: 'tw.example' } }, /^sinks\.alertmanager\.webUrl: is not a URL/],
      [{ log: 'yes' }, /^sinks\.log: must be true, false or an object$/],
      [{ log: { enabled: true, level: 'info' } }, /^sinks\.log: unknown field "level"$/],
    ];
    for (const [raw, re] of cases) assert.match(errorOf(raw), re, JSON.stringify(raw));
  });
});

describe('buildSinks', () => {
  test('builds every configured sink in order, hands Kafka settings to the producer factory, and delivers', async () => {
    const produced: Array<{ topic: string; messages: readonly ProducedMessage[] }> = [];
    const settings: ProducerSettings[] = [];
    let disconnected = false;
    const producerFactory = (s: ProducerSettings): MessageProducer => {
      settings.push(s);
      return {
        connect: () => Promise.resolve(),
        send: (topic, messages) => {
          produced.push({ topic, messages });
          return Promise.resolve();
        },
        disconnect: () => {
          disconnected = true;
          return Promise.resolve();
        },
      };
    };
    const requests: string[] = [];
    const fakeFetch = (url: string | URL | Request): Promise<Response> => {
      requests.push(String(url));
      return Promise.resolve(new Response(null, { status: 200 }));
    };
    const cfg = parseSinksConfig({ ...FULL, blockList: undefined }, ENV);
    const registry = new Registry();
    const clock = new FakeClock();
    const d = buildSinks(cfg, { logger: pino({ level: 'silent' }), producerFactory, clock, registry, fetch: fakeFetch as typeof fetch });
    assert.deepEqual(d.sinkNames, ['log', 'webhook', 'slack', 'alertmanager', 'kafka']);
    assert.deepEqual(settings, [{ brokers: ['kafka-1:9092'], clientId: 'tilewatch-alerts', ssl: true, idempotent: true, sasl: { mechanism: 'scram-sha-512', username: 'tw', password: 'kafka-pass' } }]);
    d.push(makeAlert({ severity: 'medium' }));
    await flush();
    assert.deepEqual(requests.sort(), ['http://am-1:9093/api/v2/alerts', 'http://am-2:9093/api/v2/alerts', 'https://soc.example/hooks/tilewatch'], 'slack wants high and above');
    assert.equal(produced[0]!.topic, 'tile-alerts');
    assert.deepEqual(await d.drain(1000), { drained: true, left: 0, leftBySink: {} });
    assert.ok(disconnected, 'drain disconnects the producer');
    assert.match(await registry.metrics(), /tilewatch_sink_delivered_total\{sink="kafka"\} 1/);
  });
});

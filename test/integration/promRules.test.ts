/**
 * Prometheus alerting rules for tilewatch itself (deploy/prometheus/tilewatch-rules.yml): Debian's
 * promtool checks them and runs their unit tests, and every tilewatch_* metric they use is one a
 * tilewatch process actually registers. The compose stack's Alertmanager config
 * (deploy/alertmanager/alertmanager.yml) passes amtool and routes tilewatch's incidents to their own
 * group per incident.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ALERTNAME } from '../../services/alerting/alertmanagerPayload.ts';
import { createSinkMetrics } from '../../services/alerting/sinkMetrics.ts';
import { createMetrics } from '../../services/observability/metrics.ts';
import { REPO_ROOT } from '../support/cli.ts';

const run = promisify(execFile);
const DIR = join(REPO_ROOT, 'deploy', 'prometheus');
const PROMTOOL = '/usr/bin/promtool';
const AMTOOL = '/usr/bin/amtool';
const AM_CONFIG = join(REPO_ROOT, 'deploy', 'alertmanager', 'alertmanager.yml');

test('promtool check rules accepts the rules file', async () => {
  const { stdout } = await run(PROMTOOL, ['check', 'rules', 'tilewatch-rules.yml'], { cwd: DIR });
  assert.match(stdout, /SUCCESS: \d+ rules found/);
});

test('promtool test rules: each rule fires on its fault and stays quiet otherwise', async () => {
  const r = await run(PROMTOOL, ['test', 'rules', 'tilewatch-rules.test.yml'], { cwd: DIR }).catch((err: { stdout: string; stderr: string }) => {
    throw new Error(`promtool test rules failed:\n${err.stdout}\n${err.stderr}`);
  });
  assert.match(r.stdout, /SUCCESS/);
});

test('every tilewatch_* metric in the rules is registered by tilewatch', async () => {
  const metrics = createMetrics();
  createSinkMetrics(metrics.registry);
  const registered = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
  const rules = readFileSync(join(DIR, 'tilewatch-rules.yml'), 'utf8');
  const used = new Set([...rules.matchAll(/\b(tilewatch_\w+)\b/g)].map((m) => m[1]!));
  assert.ok(used.size >= 6, `expected the rules to use tilewatch metrics, found ${[...used].join(', ')}`);
  for (const name of used) assert.ok(registered.has(name), `${name} is used by a rule but no tilewatch process registers it`);
  for (const alert of ['TilewatchConsumerLagGrowing', 'TilewatchDeadLettersRising', 'TilewatchNoData', 'TilewatchSinkFailures', 'TilewatchInsertErrors'])
    assert.match(rules, new RegExp(`alert: ${alert}\\b`));
});

test('promtool check metrics accepts what a tilewatch process exposes (names, units, types), runtime metrics under their standard names', async () => {
  const metrics = createMetrics();
  createSinkMetrics(metrics.registry);
  // Values with labels, so every family has samples.
  metrics.lag.set({ topic: 't', partition: '0' }, 3);
  metrics.deadLetters.inc({ topic: 't', reason: 'format_mismatch' }, 2);
  metrics.deadLetters.inc({ topic: 't', reason: 'store_rejected' });
  metrics.alerts.inc({ kind: 'bulk-harvest', severity: 'high' });
  metrics.batchRows.observe(100);
  const text = await metrics.registry.metrics();
  assert.match(text, /^process_cpu_seconds_total /m, 'the runtime metrics keep their standard names');
  assert.match(text, /^tilewatch_build_info\{version="[^"]+",node="[^"]+"\} 1$/m);
  const child = execFile(PROMTOOL, ['check', 'metrics']);
  const out = new Promise<{ code: number | null; output: string }>((resolve) => {
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
  child.stdin!.end(text);
  const r = await out;
  assert.equal(r.output.trim(), '', `promtool check metrics found problems:\n${r.output}`);
  assert.equal(r.code, 0);
});

test('amtool accepts the Alertmanager config; incidents take the per-incident route, the rest the default one', { skip: existsSync(AMTOOL) ? false : `${AMTOOL} not installed (apt-get install prometheus-alertmanager)` }, async () => {
  const check = await run(AMTOOL, ['check-config', AM_CONFIG]);
  assert.match(check.stdout, /SUCCESS/);
  const route = async (...labels: string[]): Promise<string> => (await run(AMTOOL, ['config', 'routes', 'test', `--config.file=${AM_CONFIG}`, '--tree', ...labels])).stdout;
  assert.match(await route('alertname=TilewatchIncident', 'incident_id=ti-0123456789abcdef0123', 'severity=critical'), /\{alertname="TilewatchIncident"\}/);
  assert.doesNotMatch(await route('alertname=TilewatchSinkFailures', 'sink=webhook', 'severity=warning'), /TilewatchIncident/);
  const config = parseYaml(readFileSync(AM_CONFIG, 'utf8')) as { route: { routes?: Array<{ matchers?: string[]; group_by?: string[] }> } };
  const incidents = config.route.routes?.find((r) => r.matchers?.includes(`alertname="${ALERTNAME}"`));
  assert.deepEqual(incidents?.group_by, ['incident_id'], 'one group per incident, so its notices update one thread');
});

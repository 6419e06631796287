/**
 * The alert outbox on the production path: `tilewatch ingest` from librdkafka's mock cluster with a
 * signed webhook sink to a loopback receiver that verifies every request.
 *
 * 1. The webhook is down (503): a scraper's incident is stored and tried (refused attempts, a
 *    backlog on /metrics), and the graceful stop says how many notices stay in the outbox.
 * 2. The webhook is up and the same member (group and --client-id) starts again: it delivers what the
 *    first run left, then a second scraper's incident — every notice of both runs exactly once.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Alert } from '../../services/core/alert.ts';
import { tempDir } from '../support/cli.ts';
import { background, metric, startIngest, stopGracefully, tileLine, waitReady } from '../support/ingest.ts';
import { produceLines, startCluster, stopCluster, waitFor, type MockKafkaCluster } from '../support/kafka.ts';
import { switchableReceiver } from '../support/webhookReceiver.ts';

const TOPIC = 'tile-access-outbox';
const SECRET = 'whsec-outbox-ingest-0123456789';
const SECRET_ENV = 'TW_OUTBOX_INGEST_SECRET';
const LEFT_MSG = 'alert versions not delivered before shutdown: they stay in the outbox and are delivered after the next start';

/** A raster sweep of the 40×32-tile level by one client, one tile per second from `t0`. */
function sweep(ip: string, ua: string, t0: number): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  let i = 0;
  for (let row = 0; row < 32; row++) for (let col = 0; col < 40; col++, i++) out.push({ key: ip, value: tileLine(ip, t0 + i * 1000, col, row, ua) });
  return out;
}

/** id:version of the notice versions (incident.notice set) an --alerts-out file holds. */
function notices(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Alert)
    .filter((a) => a.incident?.notice !== undefined)
    .map((a) => `${a.id}:${a.version}`);
}

describe('alert outbox with Kafka ingest', () => {
  let cluster: MockKafkaCluster;
  before(() => {
    cluster = startCluster({ brokers: 1, topics: { [TOPIC]: 2 } });
  });
  after(() => stopCluster(cluster));

  test('a member stopped while the webhook is down delivers the rest after its restart, each notice once', { timeout: 240_000 }, async (t) => {
    const dir = tempDir(t, 'outbox-ingest');
    const data = join(dir, 'data');
    const hook = await switchableReceiver(t, SECRET);
    process.env[SECRET_ENV] = SECRET;
    t.after(() => delete process.env[SECRET_ENV]);
    const config = join(dir, 'tilewatch.json');
    const webhook = { name: 'soc', url: hook.url, secretEnv: SECRET_ENV, timeoutMs: 2000, retry: { baseDelayMs: 100, maxDelayMs: 500 } };
    writeFileSync(config, JSON.stringify({ network: { asnDatabase: 'none' }, sinks: { drainTimeoutMs: 1000, muteReloadMs: 0, webhooks: [webhook] } }));
    const extra = ['--config', config, '--no-hunts', '--client-id', 'member-1'];
    const run1 = join(dir, 'run1.jsonl');
    const run2 = join(dir, 'run2.jsonl');
    const t0 = Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000;

    // 1. Down: scraper A's incident is stored and tried.
    hook.mode = 'down';
    const first = await startIngest({ bootstrap: cluster.bootstrap, topic: TOPIC, group: 'tw-outbox', data, alertsOut: run1, extra });
    t.after(() => void (first.child.exitCode === null && first.child.signalCode === null && first.child.kill('SIGKILL')));
    await waitReady(first, 90_000);
    await produceLines(cluster.bootstrap, TOPIC, [...background(300, t0), ...sweep('203.0.113.7', 'python-requests/2.31.0', t0)]);
    await waitFor(() => hook.attempts.length >= 2, 90_000, `refused attempts at the webhook (stderr: ${first.stderr().slice(-400)})`, 100);
    const backlog = await metric(first.port, 'tilewatch_sink_backlog');
    const failures = await metric(first.port, 'tilewatch_sink_failures_total');
    await stopGracefully(first);
    const left = first
      .stderr()
      .split('\n')
      .filter((l) => l.includes(LEFT_MSG))
      .map((l) => (JSON.parse(l) as { left: Record<string, number>; origin: string }));
    const noticed1 = notices(run1);
    assert.ok(noticed1.length >= 1, 'scraper A paged');
    assert.equal(hook.accepted.length, 0, 'nothing accepted while down');
    assert.ok(backlog >= 1 && failures >= 2, `the outage showed on /metrics: backlog ${backlog}, failures ${failures}`);
    assert.deepEqual(left.map((l) => [l.origin, l.left]), [['ingest:tw-outbox:member-1', { soc: noticed1.length }]], 'the stop says how many stay, under the member\'s outbox name');

    // 2. Up; the same member again: the rest, then scraper B.
    hook.mode = 'up';
    const second = await startIngest({ bootstrap: cluster.bootstrap, topic: TOPIC, group: 'tw-outbox', data, alertsOut: run2, extra });
    t.after(() => void (second.child.exitCode === null && second.child.signalCode === null && second.child.kill('SIGKILL')));
    await waitReady(second, 90_000);
    await waitFor(() => hook.accepted.length >= noticed1.length, 60_000, `the first run's notices after the restart (stderr: ${second.stderr().slice(-400)})`, 100);
    await produceLines(cluster.bootstrap, TOPIC, sweep('192.0.2.44', 'Go-http-client/1.1', t0 + 60 * 60_000));
    await waitFor(() => notices(run2).some((k) => !noticed1.includes(k)) && hook.accepted.length > noticed1.length, 90_000, `scraper B's notice (stderr: ${second.stderr().slice(-400)})`, 100);
    await stopGracefully(second);

    const expected = [...new Set([...noticed1, ...notices(run2)])].sort();
    const got = hook.accepted.map((r) => `${r.alert.id}:${r.alert.version}`);
    t.diagnostic(`run 1: ${noticed1.length} notices left (${hook.attempts.length - got.length} refused attempts in all); delivered ${JSON.stringify(got)}`);
    assert.deepEqual([...got].sort(), expected, 'every notice of both runs, each once');
    assert.equal(new Set(hook.accepted.map((r) => r.key)).size, got.length, 'one idempotency key per notice');
    assert.deepEqual(hook.refused, []);
  });
});

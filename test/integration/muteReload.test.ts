/**
 * A mute added through the API reaches a running process's sinks (mute rules are re-read every
 * `sinks.muteReloadMs`). End to end in one `tilewatch serve` child — Kafka ingest, detection and the
 * incident API in one process, which is the only way both can use one embedded chDB directory
 * (chDB locks a data directory to one process; see test/integration/store-lock.test.ts) — against
 * librdkafka's mock cluster, with a signed webhook sink to a loopback receiver:
 *
 * 1. scraper A sweeps an image → its incident reaches the webhook (the sink works, nothing muted);
 * 2. an admin adds a `mute` rule for scraper B's address with POST /api/v1/suppressions on the
 *    running process; its /metrics shows the rule in force after the next reload;
 * 3. scrapers B and C sweep at the same time → C's incident reaches the webhook, B's is counted as
 *    muted and stored (the API lists B's alert) but never delivered, even after the drain at stop.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, REPO_ROOT, childEnv, runCliOk, tempDir } from '../support/cli.ts';
import { background, metric, stopGracefully, tileLine, waitReady, type Ingest } from '../support/ingest.ts';
import { freePort, produceLines, startCluster, stopCluster, waitFor, type MockKafkaCluster } from '../support/kafka.ts';
import { verifiedReceiver } from '../support/webhookReceiver.ts';

const TOPIC = 'tile-access-mute';
const SECRET = 'whsec-mute-reload-0123456789';
const RELOAD_MS = 300;

const A = { ip: '203.0.113.7', ua: 'python-requests/2.31.0' };
const B = { ip: '192.0.2.44', ua: 'Go-http-client/1.1' }; // muted while serve runs
const C = { ip: '198.18.7.9', ua: 'Scrapy/2.11.0 (+https://scrapy.org)' };

interface Delivered {
  readonly ip: string;
  readonly alert: string;
  readonly incident: string;
  readonly notice: string;
}

/** A raster sweep of the 40×32-tile level by each client in `who`, interleaved, one tile per second each from `t0`. */
function sweeps(who: ReadonlyArray<{ ip: string; ua: string }>, t0: number): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  let i = 0;
  for (let row = 0; row < 32; row++)
    for (let col = 0; col < 40; col++, i++) for (const c of who) out.push({ key: c.ip, value: tileLine(c.ip, t0 + i * 1000, col, row, c.ua) });
  return out;
}

describe('mute rules reach a running serve', () => {
  let cluster: MockKafkaCluster;
  before(() => {
    cluster = startCluster({ brokers: 1, topics: { [TOPIC]: 2 } });
  });
  after(() => stopCluster(cluster));

  test('a mute added through the API stops the next notice for its address; others still page', { timeout: 240_000 }, async (t) => {
    const dir = tempDir(t, 'mute-reload');
    const data = join(dir, 'data');
    const hook = await verifiedReceiver(t, SECRET);
    const delivered = (): Delivered[] => hook.accepted.map((a) => ({ ip: a.client.ip, alert: a.id, incident: a.incident!.id, notice: a.incident!.notice ?? '' }));
    const { token } = JSON.parse((await runCliOk(['token', 'create', '--name', 'soc-admin', '--role', 'admin', '--json', '--data', data])).stdout) as { token: string };

    const config = join(dir, 'tilewatch.json');
    const sinks = { muteReloadMs: RELOAD_MS, webhooks: [{ url: hook.url, secretEnv: 'TW_MUTE_TEST_SECRET', retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 500 } }] };
    writeFileSync(config, JSON.stringify({ sinks }));
    const [port, apiPort] = [await freePort(), await freePort()];
    const api = `http://127.0.0.1:${apiPort}`;
    const args = [BIN, 'serve', '--brokers', cluster.bootstrap, '--topic', TOPIC, '--group', 'tw-mute', '--data', data, '--config', config];
    args.push('--http-port', String(port), '--listen', `127.0.0.1:${apiPort}`, '--quiet', '--no-hunts', '--max-batch-ms', '300', '--session-timeout-ms', '3000', '--log-level', 'warn');
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...childEnv(), TW_MUTE_TEST_SECRET: SECRET }, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    const serve: Ingest = { child, port, stderr: () => err, exited };
    t.after(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    await waitReady(serve, 90_000);
    const auth = { authorization: `Bearer ${token}` };
    const ips = (): string[] => [...new Set(delivered().map((d) => d.ip))].sort();

    // 1. No mute yet: scraper A's incident is delivered.
    const t0 = Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000;
    await produceLines(cluster.bootstrap, TOPIC, [...background(300, t0), ...sweeps([A], t0)]);
    await waitFor(() => delivered().some((d) => d.ip === A.ip), 90_000, `A's incident at the webhook (stderr: ${err.slice(-500)})`, 100);
    assert.equal(await metric(port, 'tilewatch_mute_rules'), 0);

    // 2. An admin mutes B's address through the API of the running process.
    const res = await fetch(`${api}/api/v1/suppressions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'mute', cidr: `${B.ip}/32`, note: 'known partner mirror' }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const rule = (await res.json()) as { id: string; type: string };
    assert.equal(rule.type, 'mute');
    // Wait for the next reload (the gauge), but let the sink judge: without a reload the rule never
    // comes into force, B pages, and the assertions below say so.
    const added = Date.now();
    const inForce = await waitFor(async () => (await metric(port, 'tilewatch_mute_rules')) === 1, 15_000, 'tilewatch_mute_rules = 1', 50).then(
      () => Date.now() - added,
      () => null,
    );

    // 3. B and C sweep at once: C pages, B is muted (counted, stored, never delivered).
    await produceLines(cluster.bootstrap, TOPIC, sweeps([B, C], t0 + 30 * 60_000));
    await waitFor(() => delivered().some((d) => d.ip === C.ip), 90_000, `C's incident at the webhook (stderr: ${err.slice(-500)})`, 100);
    // B's alert stored: its notice was pushed (or muted) in the same emit, before the table write.
    let listed: Array<{ id: string; client: { ip: string } }> = [];
    await waitFor(
      async () => {
        const r = (await (await fetch(`${api}/api/v1/alerts?client=${B.ip}`, { headers: auth })).json()) as { items: typeof listed };
        listed = r.items;
        return listed.length > 0;
      },
      60_000,
      "B's alert stored and listed by the API",
      100,
    );
    assert.ok(listed.every((a) => a.client.ip === B.ip), JSON.stringify(listed));
    const muted = await metric(port, 'tilewatch_alerts_muted_total');

    await stopGracefully(serve); // drains the sink queues: anything queued for B would arrive now
    const seen = JSON.stringify(delivered().map((d) => `${d.ip} ${d.notice}`));
    assert.deepEqual(delivered().filter((d) => d.ip === B.ip), [], `the muted address never reached the sink (deliveries: ${seen})`);
    assert.deepEqual(ips(), [C.ip, A.ip].sort(), 'A (before the mute) and C (not muted) paged');
    assert.deepEqual(hook.refused, [], 'every delivery verified');
    assert.ok(muted >= 1, `B's notice counted as muted (tilewatch_alerts_muted_total = ${muted})`);
    assert.notEqual(inForce, null, 'the running serve reported the new rule in force (tilewatch_mute_rules = 1)');
    t.diagnostic(`mute in force ${inForce} ms after the POST (muteReloadMs ${RELOAD_MS}); deliveries: ${seen}`);
  });
});

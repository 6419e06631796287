/**
 * `tilewatch ingest` against librdkafka's mock cluster (a real Kafka-protocol broker, in this
 * process) over real sockets, with the real CLI as a child process and the embedded store. Each
 * test asserts that the stored rows equal the produced messages exactly: count, lineage, no duplicates.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../services/store/openStore.ts';
import { tempDir } from '../support/cli.ts';
import { sqlRows } from '../support/store.ts';
import { background, metric, startIngest as startShared, stopGracefully, tileLine, waitHunted, waitReady, type Ingest } from '../support/ingest.ts';
import { produceLines, startCluster, stopCluster, waitFor, waitUntilCommitted, type MockKafkaCluster } from '../support/kafka.ts';

const TOPIC = 'tile-access';
const PARTITIONS = 4;
const GROUP = 'tw-test';

function startIngest(bootstrap: string, data: string, alertsOut: string, group = GROUP, topic = TOPIC): Promise<Ingest> {
  return startShared({ bootstrap, topic, group, data, alertsOut });
}

/** Waits until the ingest has stored everything up to the topic's end (its counters stop moving). */
async function waitUntilIdle(ing: Ingest, minMessages: number, timeoutMs = 60_000): Promise<void> {
  let last = -1;
  let stableSince = Date.now();
  let lastErr = '';
  try {
    await waitFor(
      async () => {
        const n = await metric(ing.port, 'tilewatch_ingest_messages_total').catch((e: unknown) => {
          lastErr = String((e as Error).cause ?? e);
          return -1;
        });
        if (n !== last) {
          last = n;
          stableSince = Date.now();
          return false;
        }
        return n >= minMessages && Date.now() - stableSince > 2000;
      },
      timeoutMs,
      `ingest to consume ≥ ${minMessages} messages`,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last count ${last} ${lastErr}; exit ${String(ing.child.exitCode)}; stderr: ${ing.stderr().slice(-800)}`, { cause: err });
  }
}

async function storedCounts(data: string): Promise<{ rows: number; distinct: number; dead: number; deadReasons: Record<string, number> }> {
  const store = await openStore({ kind: 'embedded', dataDir: data });
  try {
    const [r] = await (await store.client.query({ query: "SELECT count() AS rows, uniqExact(partition, line) AS distinct FROM tile_requests WHERE source LIKE 'kafka:%'", format: 'JSONEachRow' })).json<{ rows: string; distinct: string }>();
    const dl = await (await store.client.query({ query: 'SELECT reason, count() AS n FROM dead_letters GROUP BY reason', format: 'JSONEachRow' })).json<{ reason: string; n: string }>();
    return { rows: Number(r!.rows), distinct: Number(r!.distinct), dead: dl.reduce((a, x) => a + Number(x.n), 0), deadReasons: Object.fromEntries(dl.map((x) => [x.reason, Number(x.n)])) };
  } finally {
    await store.close();
  }
}

describe('tilewatch ingest against the mock Kafka cluster', () => {
  let cluster: MockKafkaCluster;
  before(() => {
    cluster = startCluster({ brokers: 1, topics: { [TOPIC]: PARTITIONS } });
  });
  after(() => stopCluster(cluster));

  it('stores every good message once with lineage, sends poison to dead letters, stops gracefully', async (t) => {
    const dir = tempDir(t, 'kafka-basic');
    const data = join(dir, 'data');
    const good = background(3000, Date.UTC(2026, 2, 2, 10));
    const poison = [
      { key: 'p1', value: '' },
      { key: 'p2', value: Buffer.from([0xc3, 0x28, 0xff]) },
      { key: 'p3', value: 'this is not an access log line' },
      { key: 'p4', value: '{"message": ""}' },
    ];
    await produceLines(cluster.bootstrap, TOPIC, [...good.slice(0, 1500), ...poison, ...good.slice(1500)]);
    const ing = await startIngest(cluster.bootstrap, data, join(dir, 'alerts.jsonl'));
    await waitUntilIdle(ing, good.length + poison.length);
    await waitUntilCommitted(cluster.bootstrap, GROUP, TOPIC, 30_000);
    await stopGracefully(ing);
    const c = await storedCounts(data);
    assert.equal(c.rows, good.length);
    assert.equal(c.distinct, good.length, 'no message stored twice');
    assert.deepEqual(c.deadReasons, { 'empty message': 1, 'not UTF-8': 1, 'format mismatch at $remote_addr': 1, 'empty message field': 1 });
  });

  it('survives kill -9 at random points, restarting 10 times, with every request stored exactly once', async (t) => {
    const dir = tempDir(t, 'kafka-kill');
    const data = join(dir, 'data');
    const alertsOut = join(dir, 'alerts.jsonl');
    const t0 = Date.UTC(2026, 2, 3, 10);
    const msgs = background(12_000, t0);
    // A scrape keyed by its IP, interleaved: it spans the kills and must be detected once.
    const scraper = '203.0.113.66';
    let i = 0;
    for (let row = 0; row < 32; row++) for (let col = 0; col < 40; col++, i++) msgs.splice(i * 9, 0, { key: scraper, value: tileLine(scraper, t0 + i * 1000, col, row) });
    let produced = 0;
    const producing = produceLines(cluster.bootstrap, TOPIC, msgs, { batchSize: 200, afterBatch: (n) => void (produced = n) });
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 10; k++) {
      const ing = await startIngest(cluster.bootstrap, data, alertsOut);
      // Let it join and work a random while (sometimes mid-insert, sometimes between insert and commit).
      await new Promise((r) => setTimeout(r, 4000 + rand() * 4000));
      ing.child.kill('SIGKILL');
      await ing.exited;
    }
    await producing;
    assert.equal(produced, msgs.length);
    const ing = await startShared({ bootstrap: cluster.bootstrap, topic: TOPIC, group: GROUP, data, alertsOut, extra: ['--log-level', 'info'] });
    await waitReady(ing);
    await waitUntilCommitted(cluster.bootstrap, GROUP, TOPIC, 90_000);
    // The hunts: the member holding the hunt lease runs them one session timeout after taking it.
    // Window 10:10 is due once every partition is stored past it plus the lateness (the scrape runs to 10:21).
    await waitHunted(ing, t0 + 10 * 60_000);
    await stopGracefully(ing);
    const c = await storedCounts(data);
    assert.equal(c.rows, msgs.length, 'every produced request is stored');
    assert.equal(c.distinct, msgs.length, 'and none twice');
    const alerts = readFileSync(alertsOut, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; version: number; client: { ip: string } });
    const firsts = alerts.filter((a) => a.client.ip === scraper && a.version === 1);
    assert.equal(new Set(firsts.map((a) => a.id)).size, 1, 'the scrape is detected as one alert across the restarts');
    assert.equal(firsts.length, 1, 'raised once, not again after a restart');
    const others = new Set(alerts.filter((a) => a.client.ip !== scraper).map((a) => a.client.ip));
    assert.deepEqual([...others], [], 'no viewer alerted');
    // The hunts ran inside ingest over the stored event time (10-minute grid; the scrape spans 21 minutes).
    const runs = await sqlRows<{ hunt: string; windows: string }>(data, `SELECT hunt, uniqExact(window_end) AS windows FROM hunt_runs GROUP BY hunt`);
    assert.ok(runs.some((r) => r.hunt === 'campaign' && Number(r.windows) >= 1), `hunt runs: ${JSON.stringify(runs)}`);
  });

  it('rides out a broker outage and injected fetch errors without losing or duplicating a request', async (t) => {
    const dir = tempDir(t, 'kafka-broker');
    const data = join(dir, 'data');
    const first = background(2000, Date.UTC(2026, 2, 4, 10));
    const second = background(1000, Date.UTC(2026, 2, 4, 11)).map((m) => ({ key: `x${m.key}`, value: m.value.replace('198.51.', '192.0.') }));
    // Its own topic and group: no members left over from the kill test to wait out.
    const topic = 'tile-access-outage';
    const group = 'tw-outage';
    cluster.createTopic(topic, PARTITIONS);
    await produceLines(cluster.bootstrap, topic, first);
    const ing = await startIngest(cluster.bootstrap, data, join(dir, 'alerts.jsonl'), group, topic);
    await waitReady(ing);
    cluster.pushRequestErrors(1, [6, 6, 6]); // Fetch: NOT_LEADER_FOR_PARTITION three times
    cluster.brokerDown(1);
    await new Promise((r) => setTimeout(r, 3000));
    cluster.brokerUp(1);
    await produceLines(cluster.bootstrap, topic, second);
    await waitUntilCommitted(cluster.bootstrap, group, topic, 90_000);
    await stopGracefully(ing);
    const c = await storedCounts(data);
    assert.equal(c.rows, first.length + second.length);
    assert.equal(c.distinct, first.length + second.length);
    assert.equal(c.dead, 0);
  });
});

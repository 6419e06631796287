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
import { killWindow, storeState, type KillWindow, type StoreState } from '../support/faultEvidence.ts';
import {
  assertExact,
  background,
  expectedPairs,
  metric,
  startIngest as startShared,
  stopGracefully,
  storedLineage,
  tileLine,
  waitHunted,
  waitReady,
  type Ingest,
} from '../support/ingest.ts';
import { kafkaClient, produceLines, startCluster, stopCluster, topicWatermarks, waitFor, waitUntilCommitted, type MockKafkaCluster } from '../support/kafka.ts';

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
    // Its own topic and group: the exact set of (partition, offset) pairs is the whole topic.
    const topic = 'tile-access-kill';
    const group = 'tw-kill';
    cluster.createTopic(topic, PARTITIONS);
    const t0 = Date.UTC(2026, 2, 3, 10);
    const msgs = background(12_000, t0);
    // A scrape keyed by its IP, interleaved: it spans the kills and must be detected once.
    const scraper = '203.0.113.66';
    let i = 0;
    for (let row = 0; row < 32; row++) for (let col = 0; col < 40; col++, i++) msgs.splice(i * 9, 0, { key: scraper, value: tileLine(scraper, t0 + i * 1000, col, row) });
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    // Every run has new messages to work on: a tenth of them is produced while it runs.
    const RUNS = 10;
    const chunk = Math.ceil(msgs.length / RUNS);
    let produced = 0;
    // Odd runs are killed at a random time once storing; even runs kill themselves at a random stored batch (1 or 2),
    // alternately after its confirmation and before its commit, and after its inserts and before its
    // confirmation, so the window between insert and commit is hit whatever the timing.
    const phases = ['--debug-kill-after-insert', '--debug-kill-before-confirm'] as const;
    let prev: StoreState | null = null;
    const logs: string[] = [];
    const windows: Array<{ run: number; how: string; window: KillWindow }> = [];
    for (let k = 0; k < RUNS; k++) {
      const how = k % 2 === 0 ? `${phases[(k / 2) % 2]!} ${1 + Math.floor(rand() * 2)}` : `at ${Math.round(rand() * 1500)} ms after its first stored rows`;
      const extra = ['--max-batch-rows', '400', ...(k % 2 === 0 ? how.split(' ') : [])];
      const ing = await startShared({ bootstrap: cluster.bootstrap, topic, group, data, alertsOut, extra });
      const producing = produceLines(cluster.bootstrap, topic, msgs.slice(k * chunk, (k + 1) * chunk), { batchSize: 200 }).then((n) => void (produced += n));
      if (k % 2 === 0) {
        const r = await Promise.race([ing.exited, new Promise<null>((res) => setTimeout(() => res(null), 60_000))]);
        if (r === null) ing.child.kill('SIGKILL');
        assert.equal(r?.signal, 'SIGKILL', `run ${k + 1} killed itself (${how}) (stderr: ${ing.stderr().slice(-500)})`);
      } else {
        // Mid-stream: after its first stored rows (a kill while it is still joining proves nothing).
        await waitFor(async () => (await metric(ing.port, 'tilewatch_ingest_rows_total').catch(() => 0)) > 0, 60_000, `run ${k + 1} storing (stderr: ${ing.stderr().slice(-300)})`, 100);
        await new Promise((r) => setTimeout(r, Number(/\d+/.exec(how)![0])));
        ing.child.kill('SIGKILL');
      }
      await ing.exited;
      await producing;
      logs.push(ing.stderr());
      const state = await storeState(data, cluster.bootstrap, group, topic);
      assertExact(state.pairs, [...new Set(state.pairs)], `after kill ${k + 1}`);
      const window = killWindow(prev, state);
      windows.push({ run: k + 1, how, window });
      t.diagnostic(`kill ${k + 1} (${how}): ${window.hit ? `in the window (stored ahead of committed on [${window.aheadOfCommitted.join(',')}], ${window.newOpenUnits.length} unconfirmed units)` : 'outside the window'}`);
      // A self-kill lands in its window by construction: prove it did.
      if (k % 2 === 0) {
        if (how.startsWith('--debug-kill-after-insert')) assert.ok(window.aheadOfCommitted.length > 0, `run ${k + 1}: stored ahead of committed after ${how}`);
        else assert.ok(window.newOpenUnits.length > 0, `run ${k + 1}: an unconfirmed unit left after ${how}`);
      }
      prev = state;
    }
    assert.equal(produced, msgs.length);
    assert.ok(windows.filter((w) => w.window.hit).length >= RUNS / 2, `at least half the kills landed between a batch's insert and its commit: ${JSON.stringify(windows)}`);
    const ing = await startShared({ bootstrap: cluster.bootstrap, topic, group, data, alertsOut, extra: ['--log-level', 'info'] });
    let hunted: Error | null = null;
    try {
      await waitReady(ing);
      await waitUntilCommitted(cluster.bootstrap, group, topic, 90_000);
      // The hunts: the member holding the hunt lease runs them one session timeout after taking it.
      // Window 10:10 is due once every partition is stored past it plus the lateness (the scrape runs to 10:21).
      hunted = await waitHunted(ing, t0 + 10 * 60_000, 30_000).then(
        () => null,
        (err: Error) => err,
      );
      await stopGracefully(ing);
    } finally {
      if (ing.child.exitCode === null && ing.child.signalCode === null) ing.child.kill('SIGKILL');
    }
    if (hunted) {
      // What the hunt lease reads: the group's commits and their event-time metadata.
      const admin = kafkaClient(cluster.bootstrap).admin();
      await admin.connect();
      const [tp] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      await admin.disconnect();
      t.diagnostic(`no hunt window ran; the group's commits: ${JSON.stringify(tp?.partitions)}`);
    }
    logs.push(ing.stderr());
    assert.ok(logs.some((l) => /inserted a batch left unconfirmed again/.test(l)), 'a unit a kill left unconfirmed was repaired by a later run');
    const stored = await storedLineage(data);
    assertExact(stored.pairs, expectedPairs(await topicWatermarks(cluster.bootstrap, topic)), 'after 10 kills');
    const alerts = readFileSync(alertsOut, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; version: number; client: { ip: string } });
    const firsts = alerts.filter((a) => a.client.ip === scraper && a.version === 1);
    assert.equal(new Set(firsts.map((a) => a.id)).size, 1, 'the scrape is detected as one alert across the restarts');
    assert.equal(firsts.length, 1, 'raised once, not again after a restart');
    const others = new Set(alerts.filter((a) => a.client.ip !== scraper).map((a) => a.client.ip));
    assert.deepEqual([...others], [], 'no viewer alerted');
    // The hunts ran inside ingest over the stored event time (10-minute grid; the scrape spans 21 minutes).
    const runs = await sqlRows<{ hunt: string; windows: string }>(data, `SELECT hunt, uniqExact(window_end) AS windows FROM hunt_runs GROUP BY hunt`);
    // This failed in 3 of 4 runs while a commit's event time was the newest consumed since the
    // assignment (a restart that read only older or stored messages lowered it, and the 10:10 window
    // never became due). Now each confirmation in kafka_offsets keeps the partition's event time and a
    // new owner starts from it.
    await t.test('the hunts ran after the kills', () => {
      assert.equal(hunted, null, String(hunted?.message));
      assert.ok(runs.some((r) => r.hunt === 'campaign' && Number(r.windows) >= 1), `hunt runs: ${JSON.stringify(runs)}`);
    });
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
    t.after(() => void (ing.child.exitCode === null && ing.child.signalCode === null && ing.child.kill('SIGKILL')));
    await waitReady(ing);
    // While the ingest reads `first`, `second` is being produced; halfway through it the broker goes
    // down for 3 s. The producer's next send is in flight during the outage and is acknowledged after it.
    const during = { producedAtDown: -1, producedAtUp: -1, stderrAtDown: 0, stderrAtUp: 0, notReady: [] as string[], metricsAtDown: new Map<string, number>(), metricsAtUp: new Map<string, number>() };
    const WATCHED = ['tilewatch_ingest_fences_total', 'tilewatch_rebalances_total', 'tilewatch_insert_errors_total'];
    const snapshot = async (): Promise<Map<string, number>> => new Map(await Promise.all(WATCHED.map(async (n) => [n, await metric(ing.port, n)] as [string, number])));
    let produced = 0;
    // Takes the broker down (before the producer's next send), then watches the ingest for 3 s and brings it back.
    let outageDone: Promise<void> | null = null;
    const startOutage = async (): Promise<void> => {
      during.metricsAtDown = await snapshot();
      during.producedAtDown = produced;
      during.stderrAtDown = ing.stderr().length;
      cluster.pushRequestErrors(1, [6, 6, 6]); // Fetch: NOT_LEADER_FOR_PARTITION three times
      cluster.brokerDown(1);
      outageDone = (async () => {
        const until = Date.now() + 3000;
        while (Date.now() < until) {
          const res = await fetch(`http://127.0.0.1:${ing.port}/readyz`).catch(() => null);
          if (res && res.status !== 200) during.notReady.push(await res.text());
          await new Promise((r) => setTimeout(r, 100));
        }
        during.metricsAtUp = await snapshot();
        during.stderrAtUp = ing.stderr().length;
        during.producedAtUp = produced;
        cluster.brokerUp(1);
      })();
    };
    await produceLines(cluster.bootstrap, topic, second, {
      batchSize: 100,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
      afterBatch: async (n) => {
        produced = n;
        if (n === second.length / 2) await startOutage();
      },
    });
    await outageDone;
    assert.ok(during.producedAtDown > 0 && during.producedAtDown < second.length, `the outage began mid-production (${during.producedAtDown} of ${second.length} sent)`);
    assert.equal(during.producedAtUp, during.producedAtDown, 'nothing is acknowledged while the only broker is down');
    assert.equal(produced, second.length, 'the rest was sent across the outage');
    // The outage reached the ingest's Kafka client: it logged the lost connection (kafkajs, at warn or error).
    const logged = ing.stderr().slice(during.stderrAtDown, during.stderrAtUp);
    assert.match(logged, /Connection|ECONNREFUSED|KafkaJS/i, `the ingest's client saw the outage (stderr during it: ${logged.slice(0, 500)})`);
    await waitUntilCommitted(cluster.bootstrap, group, topic, 90_000);
    await stopGracefully(ing);
    const stored = await storedLineage(data);
    assertExact(stored.pairs, expectedPairs(await topicWatermarks(cluster.bootstrap, topic)), 'across the broker outage');
    assert.deepEqual(stored.deadReasons, {});
    const counted = WATCHED.filter((n) => (during.metricsAtUp.get(n) ?? 0) > (during.metricsAtDown.get(n) ?? 0));
    t.diagnostic(`during the outage: /readyz not ready ${during.notReady.length}× ${JSON.stringify([...new Set(during.notReady)])}; metrics that rose: ${counted.join(', ') || 'none'}; logged: ${logged.slice(0, 400)}`);
    await t.test('the outage shows on /readyz or in an error metric', { todo: 'issue 16: a broker outage neither drops readiness nor counts a Kafka error (no such metric)' }, () => {
      assert.ok(during.notReady.length > 0 || counted.length > 0, `readiness stayed up and ${WATCHED.join(', ')} did not move during a 3 s outage of the only broker`);
    });
  });
});

/**
 * Hunts with a lease (services/ingest/kafka/huntLease.ts; issue 16 item 5), for real: two
 * `tilewatch ingest` processes in one consumer group on librdkafka's mock cluster, hunts on in both.
 * Only the member holding partition 0 runs hunt windows; after it is killed -9, the other takes the
 * lease and runs the next windows within two minutes; hunt_runs holds every window once.
 *
 * The shared store is served by this test process, not by a ClickHouse server: chDB (the embedded
 * engine) binds a data directory to one process, so two ingest processes cannot open one store
 * directly. This process opens it and serves ClickHouse's HTTP interface over it (startSharedStore in
 * test/support/ingest.ts, as much of it as @clickhouse/client uses); the children reach it with
 * `--clickhouse-url`, as they would a server. What this does not cover: a real ClickHouse server,
 * and the production partition assigner (the mock needs `--partition-assigner mock-safe`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../services/store/openStore.ts';
import { tempDir } from '../support/cli.ts';
import { alertLines, loggedLines as logged, startIngest, startSharedStore, stopGracefully, tileLine, waitReady, type Ingest, type SharedStore } from '../support/ingest.ts';
import { produceLines, startCluster, stopCluster, waitFor, type MockKafkaCluster } from '../support/kafka.ts';

const PARTITIONS = 4;
const T0 = Date.UTC(2026, 2, 10, 10);
const MIN = 60_000;

/** One request a second of event time from `from` (s) to `to` (s) after T0, distinct clients spread over every partition. */
function traffic(from: number, to: number): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  for (let s = from; s < to; s++) {
    const ip = `198.51.${(s >> 8) & 255}.${s & 255}`;
    out.push({ key: ip, value: tileLine(ip, T0 + s * 1000, s % 7, s % 5, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36') });
  }
  return out;
}

describe('hunts with a lease (mock cluster, two ingest processes, one shared store)', () => {
  let cluster: MockKafkaCluster;
  let shared: SharedStore;
  before(async () => {
    cluster = startCluster({ brokers: 1 });
  });
  after(async () => {
    await shared?.close();
    stopCluster(cluster);
  });

  it('one hunter per group; kill -9 of it moves the lease; every window runs once', { timeout: 300_000 }, async (t) => {
    const topic = 'tw-hunt-lease';
    const group = 'tw-hunt-lease';
    cluster.createTopic(topic, PARTITIONS);
    const dir = tempDir(t, 'kafka-hunt-lease');
    shared = await startSharedStore(join(dir, 'shared'));
    const configFile = join(dir, 'tilewatch.json');
    // Leases are under test, not network context: without ASN data neither process writes the 44 MB of
    // prefixes through the test's HTTP front of chDB at start (both at once took past the readiness wait).
    writeFileSync(configFile, JSON.stringify({ hunts: { latenessMs: 0 }, network: { asnDatabase: 'none' } }));
    const start = (name: string): Promise<Ingest> =>
      startIngest({
        bootstrap: cluster.bootstrap,
        topic,
        group,
        data: join(dir, `unused-${name}`),
        alertsOut: join(dir, `${name}.jsonl`),
        extra: ['--clickhouse-url', shared.url, '--config', configFile, '--hunt-every', '1', '--partition-assigner', 'mock-safe', '--log-level', 'info', '--client-id', name],
      });
    const a = await start('a');
    const b = await start('b');
    const children = [a, b];
    t.after(() => {
      for (const c of children) c.child.kill('SIGKILL');
    });
    await Promise.all([waitReady(a), waitReady(b)]);

    const store = await openStore({ kind: 'server', url: shared.url });
    t.after(() => store.close());
    const runs = async (): Promise<Array<{ hunt: string; end: number; n: number }>> =>
      (
        await (
          await store.client.query({ query: 'SELECT hunt, toUnixTimestamp64Milli(window_end) AS end, count() AS n FROM hunt_runs GROUP BY hunt, end ORDER BY end', format: 'JSONEachRow' })
        ).json<{ hunt: string; end: string; n: string }>()
      ).map((r) => ({ hunt: r.hunt, end: Number(r.end), n: Number(r.n) }));
    let lastSeen = Number.NEGATIVE_INFINITY;
    const newest = async (): Promise<number> => (lastSeen = Math.max(Number.NEGATIVE_INFINITY, ...(await runs()).map((r) => r.end)));
    const tail = (c: Ingest): string =>
      c
        .stderr()
        .split('\n')
        .filter((l) => /"level":(40|50)|hunt/.test(l))
        .slice(-6)
        .join('\n');

    // Phase 1: 20 minutes of event time over every partition.
    await produceLines(cluster.bootstrap, topic, traffic(0, 20 * 60));
    await waitFor(async () => (await newest()) >= T0 + 19 * MIN, 60_000, 'the hunter to reach the end of phase 1', 500).catch((err: Error) => {
      throw new Error(`${err.message}; hunt_runs to ${lastSeen}; a: ${tail(a)}; b: ${tail(b)}`);
    });
    // The lease may move once while the two members join (a member alone in the group holds partition
    // 0 until the other joins); windows run on one member only.
    const hunters = children.filter((c) => logged(c, 'hunt window run').length > 0);
    assert.equal(hunters.length, 1, `exactly one member ran windows (a: ${logged(a, 'hunt window run').length}, b: ${logged(b, 'hunt window run').length})`);
    const hunter = hunters[0]!;
    assert.ok(logged(hunter, 'hunt lease taken').length >= 1, 'the hunter took the lease');
    const other = hunter === a ? b : a;
    assert.equal(logged(other, 'hunt window run').length, 0, 'the other member ran no window');
    const phase1 = await runs();
    assert.ok(phase1.every((r) => r.n === 1), `each window once in hunt_runs: ${JSON.stringify(phase1.filter((r) => r.n > 1))}`);

    // kill -9 the hunter; then phase 2: 10 more minutes of event time.
    hunter.child.kill('SIGKILL');
    await hunter.exited;
    const killedAt = Date.now();
    const before = await newest();
    await produceLines(cluster.bootstrap, topic, traffic(20 * 60, 30 * 60));
    await waitFor(async () => (await newest()) >= T0 + 29 * MIN, 120_000, 'the other member to run the next windows', 500);
    const tookOver = logged(other, 'hunt lease taken').filter((l) => l.time >= killedAt);
    assert.equal(tookOver.length, 1, 'the survivor took the lease once after the kill');
    const firstAfter = logged(other, 'hunt window run')[0];
    t.diagnostic(`failover: lease taken ${tookOver[0]!.time - killedAt} ms and first window run ${firstAfter ? firstAfter.time - killedAt : 'none'} ms after the kill`);
    assert.ok(firstAfter && firstAfter.time - killedAt < 120_000, `the survivor ran a window within two minutes of the kill (${firstAfter ? firstAfter.time - killedAt : 'none'} ms)`);
    assert.ok(logged(other, 'hunt window run').every((l) => Date.parse(l.windowEnd!) > before), 'it resumed after the windows the dead hunter ran (hunt_runs)');

    const all = await runs();
    assert.deepEqual(
      all.filter((r) => r.n > 1),
      [],
      'no window twice in hunt_runs',
    );
    const windows = new Set(all.map((r) => r.end));
    assert.equal(logged(hunter, 'hunt window run').length + logged(other, 'hunt window run').length, windows.size, 'every window run by exactly one member');
    await stopGracefully(other);
    // Hunt alerts reach the sinks once: no hunt alert version was emitted by both members.
    const huntKinds = new Set(['low-and-slow', 'campaign', 'image-exposure']);
    const versions = [...alertLines(join(dir, 'a.jsonl')), ...alertLines(join(dir, 'b.jsonl'))]
      .filter((l) => huntKinds.has((l as { kind?: string }).kind ?? ''))
      .map((l) => `${l.id}#${l.version}`);
    assert.equal(new Set(versions).size, versions.length, 'no hunt alert version emitted twice');
  });
});

/**
 * Kafka ingest under faults, against librdkafka's mock cluster (a real Kafka-protocol broker in this
 * process) and real chDB stores: ClickHouse rejecting inserts for a while (the pipeline in-process),
 * kill -9 exactly between insert and commit, two ingest processes in one group with one leaving
 * mid-stream, the dead-letter topic, and re-publishing keyed by client for a detection worker.
 * Every test asserts the stored rows equal the produced messages exactly: count, (partition,
 * offset) set, no duplicates.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { KafkaMessage } from 'kafkajs';
import { loadConfig, createAllowlist } from '../../services/cli/config.ts';
import { emptyCatalog } from '../../services/ingest/catalog.ts';
import { KafkaIngest } from '../../services/ingest/kafka/kafkaIngest.ts';
import { createKafkajsConsumer } from '../../services/kafka/kafkajsConsumer.ts';
import { createMetrics } from '../../services/observability/metrics.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';
import { tempDir } from '../support/cli.ts';
import { sqlRows } from '../support/store.ts';
import {
  alertLines,
  assertExact,
  background,
  expectedPairs,
  metric,
  startIngest,
  stopGracefully,
  storedLineage,
  waitReady,
  withScrape,
} from '../support/ingest.ts';
import { committedOffsets, kafkaClient, produceLines, startCluster, stopCluster, topicWatermarks, waitFor, waitUntilCommitted, type MockKafkaCluster } from '../support/kafka.ts';

const PARTITIONS = 4;
const T0 = Date.UTC(2026, 2, 10, 10);

/** Reads every message of a topic from the beginning with a fresh group (until `count` arrived). */
async function readTopic(bootstrap: string, topic: string, count: number): Promise<Array<{ partition: number; message: KafkaMessage }>> {
  const consumer = kafkaClient(bootstrap, { clientId: 'tw-test-reader' }).consumer({ groupId: `reader-${topic}-${Date.now()}`, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  const out: Array<{ partition: number; message: KafkaMessage }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        out.push({ partition, message });
        await Promise.resolve();
      },
    });
    await waitFor(() => out.length >= count, 60_000, `${count} messages on ${topic} (have ${out.length})`, 100);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

describe('Kafka ingest under faults (mock cluster, real chDB)', () => {
  let cluster: MockKafkaCluster;
  before(() => {
    cluster = startCluster({ brokers: 1 });
  });
  after(() => stopCluster(cluster));

  it('pauses while ClickHouse rejects inserts, commits nothing unstored, and resumes by itself (pipeline in-process)', async (t) => {
    const topic = 'tw-store-fault';
    const group = 'tw-store-fault';
    cluster.createTopic(topic, PARTITIONS);
    const data = join(tempDir(t, 'kafka-store-fault'), 'data');
    const store = await openStore({ kind: 'embedded', dataDir: data });
    await migrate(store.client);
    const config = loadConfig({ data }, {});
    const logger = pino({ level: 'silent' });
    const metrics = createMetrics();
    const maxBatchRows = 500;
    const consumer = createKafkajsConsumer(
      // Small partition fetches, so what is buffered while the store is down is visibly bounded.
      { brokers: cluster.brokerList, clientId: 'tw-fault', ssl: false, topic, groupId: group, fromBeginning: true, sessionTimeoutMs: 10_000, fetch: { maxBytesPerPartition: 64 << 10, maxWaitTimeInMs: 200 } },
      logger,
    );
    const ingest = new KafkaIngest({
      consumer,
      store,
      topic,
      parser: config.parser,
      recognise: config.recognise,
      detector: config.detector,
      catalog: emptyCatalog(),
      isAllowed: createAllowlist(config.allowlist),
      maxBatchRows,
      maxBatchMs: 200,
      backoffMs: 50,
      maxBackoffMs: 400,
      metrics,
      logger,
      onAlert: () => undefined,
    });
    const errors = async (): Promise<number> => (await metrics.insertErrors.get()).values.reduce((a, v) => a + v.value, 0);
    const storedRows = async (): Promise<number> =>
      Number((await (await store.client.query({ query: 'SELECT count() AS n FROM tile_requests', format: 'JSONEachRow' })).json<{ n: string }>())[0]?.n);
    try {
      await ingest.start();
      const first = background(2000, T0);
      await produceLines(cluster.bootstrap, topic, first);
      await waitUntilCommitted(cluster.bootstrap, group, topic, 60_000);
      const marks1 = await topicWatermarks(cluster.bootstrap, topic);
      assert.equal(await storedRows(), first.length);

      // A real engine failure: every insert into tile_requests violates this constraint until it is dropped.
      await store.client.command({ query: 'ALTER TABLE tile_requests ADD CONSTRAINT tw_fault CHECK 0' });
      const second = background(12_000, T0 + 3_600_000, '192.0');
      await produceLines(cluster.bootstrap, topic, second);
      await waitFor(async () => (await errors()) >= 5, 60_000, '5 failed insert attempts');
      const consumedAt5 = ingest.stats.messages;
      const e5 = await errors();
      await waitFor(async () => (await errors()) >= e5 + 4, 60_000, '4 more failed insert attempts');
      const consumedAt9 = ingest.stats.messages;
      assert.equal(consumedAt9, consumedAt5, 'nothing is consumed while the store is down (fetching paused)');
      // Held: the batch being retried plus the one filling behind it, each ≤ 4 × maxBatchRows + one partition fetch (64 KiB ≈ 550 lines).
      assert.ok(consumedAt9 - first.length <= 2 * (4 * maxBatchRows + 550), `bounded buffers: ${consumedAt9 - first.length} messages held`);
      assert.ok(consumedAt9 - first.length < second.length, 'the backlog stays in Kafka');
      assert.equal(ingest.health().ready, false);
      assert.match(ingest.health().reason, /store unavailable: tile_requests: .*tw_fault/);
      assert.equal(await storedRows(), first.length, 'nothing of the failing batches is stored');
      const committed = await committedOffsets(cluster.bootstrap, group, topic);
      for (const [p, m] of marks1) assert.equal(committed.get(p), m.high, `partition ${p}: nothing committed beyond what is stored`);

      await store.client.command({ query: 'ALTER TABLE tile_requests DROP CONSTRAINT tw_fault' });
      await waitUntilCommitted(cluster.bootstrap, group, topic, 90_000);
      assert.equal(ingest.health().ready, true, 'ready again without a restart');
      await ingest.stop();
      const rows = await (await store.client.query({ query: 'SELECT partition, toString(line) AS line FROM tile_requests', format: 'JSONEachRow' })).json<{ partition: number; line: string }>();
      assertExact(
        rows.map((r) => `${r.partition}/${r.line}`),
        expectedPairs(await topicWatermarks(cluster.bootstrap, topic)),
        'after the outage',
      );
    } finally {
      await ingest.stop().catch(() => undefined);
      await store.close();
    }
  });

  it('is exact when killed (-9) right after an insert and before its commit, three times, and alerts once', async (t) => {
    const topic = 'tw-kill-commit';
    const group = 'tw-kill-commit';
    cluster.createTopic(topic, PARTITIONS);
    const dir = tempDir(t, 'kafka-kill-commit');
    const data = join(dir, 'data');
    const alertsOut = join(dir, 'alerts.jsonl');
    const scraper = '203.0.113.77';
    const msgs = withScrape(3000, T0, scraper, 3);
    await produceLines(cluster.bootstrap, topic, msgs);
    const marks = await topicWatermarks(cluster.bootstrap, topic);
    for (let k = 0; k < 3; k++) {
      const ing = await startIngest({ bootstrap: cluster.bootstrap, topic, group, data, alertsOut, extra: ['--max-batch-rows', '400', '--debug-kill-after-insert', '2'] });
      const r = await ing.exited;
      assert.equal(r.signal, 'SIGKILL', `run ${k + 1} killed itself after its second stored batch (stderr: ${ing.stderr().slice(-500)})`);
      // The window was hit: ClickHouse holds offsets the group has not committed.
      const stored = await storedLineage(data);
      const committed = await committedOffsets(cluster.bootstrap, group, topic);
      const storedEnd = new Map<number, number>();
      for (const pair of stored.pairs) {
        const [p, o] = pair.split('/').map(Number) as [number, number];
        storedEnd.set(p, Math.max(storedEnd.get(p) ?? -1, o + 1));
      }
      const ahead = [...storedEnd].filter(([p, end]) => end > (committed.get(p) ?? -1));
      assert.ok(ahead.length > 0, `run ${k + 1}: stored ahead of committed on some partition`);
      assertExact(stored.pairs, [...new Set(stored.pairs)], `after kill ${k + 1}`);
    }
    const ing = await startIngest({ bootstrap: cluster.bootstrap, topic, group, data, alertsOut });
    await waitReady(ing);
    await waitUntilCommitted(cluster.bootstrap, group, topic, 90_000);
    await stopGracefully(ing);
    const stored = await storedLineage(data);
    assertExact(stored.pairs, expectedPairs(marks), 'after three kills between insert and commit');
    const alerts = alertLines(alertsOut);
    const firsts = alerts.filter((a) => a.client.ip === scraper && a.version === 1);
    assert.equal(firsts.length, 1, `the scrape is alerted once across the kills (${firsts.length} version-1 lines)`);
    assert.deepEqual([...new Set(alerts.filter((a) => a.client.ip !== scraper).map((a) => a.client.ip))], [], 'no viewer alerted');
  });

  it('is exact when killed (-9) between a batch\'s inserts and its confirmation: the restart reads the unit again from Kafka and inserts it with its token', async (t) => {
    const topic = 'tw-kill-confirm';
    const group = 'tw-kill-confirm';
    cluster.createTopic(topic, PARTITIONS);
    const dir = tempDir(t, 'kafka-kill-confirm');
    const data = join(dir, 'data');
    const msgs = withScrape(2400, T0, '203.0.113.78', 3);
    await produceLines(cluster.bootstrap, topic, msgs);
    const marks = await topicWatermarks(cluster.bootstrap, topic);
    for (let k = 0; k < 2; k++) {
      const ing = await startIngest({ bootstrap: cluster.bootstrap, topic, group, data, extra: ['--max-batch-rows', '400', '--debug-kill-before-confirm', '2'] });
      const r = await ing.exited;
      assert.equal(r.signal, 'SIGKILL', `run ${k + 1} killed itself before a confirmation (stderr: ${ing.stderr().slice(-500)})`);
      if (k > 0) assert.match(ing.stderr(), /inserted a batch left unconfirmed again/, `run ${k + 1} repaired the unit the kill before it left`);
      // The window was hit: a unit's intent is stored without its confirmation, and its rows are stored.
      const open = await sqlRows<{ n: string }>(
        data,
        `SELECT toString(count()) AS n FROM kafka_units AS u
         WHERE u.last_offset > (SELECT coalesce(max(o.last_offset), -1) FROM kafka_offsets AS o WHERE o.stream = u.stream AND o.partition = u.partition)`,
      );
      assert.ok(Number(open[0]?.n) > 0, `run ${k + 1}: an unconfirmed unit is left`);
      const stored = await storedLineage(data);
      assertExact(stored.pairs, [...new Set(stored.pairs)], `after kill ${k + 1}`);
    }
    const ing = await startIngest({ bootstrap: cluster.bootstrap, topic, group, data });
    await waitReady(ing);
    await waitUntilCommitted(cluster.bootstrap, group, topic, 90_000);
    await stopGracefully(ing);
    assert.match(ing.stderr(), /inserted a batch left unconfirmed again/, 'the last run repaired the unit the second kill left');
    const stored = await storedLineage(data);
    assertExact(stored.pairs, expectedPairs(marks), 'after two kills between insert and confirmation');
  });

  it('two ingest processes share a group; one leaves mid-stream (SIGTERM) and the other takes over: the union of both stores is exact', async (t) => {
    const topic = 'tw-two-members';
    const group = 'tw-two-members';
    cluster.createTopic(topic, PARTITIONS);
    const dir = tempDir(t, 'kafka-two');
    // The mock-safe assigner (services/dev/mockSafeAssigner.ts): with kafkajs' round robin this passed 6
    // of 6 runs alone, but in a full CI run one member never became ready (the mock cluster's
    // follower-sync race, ARCHITECTURE.md), so the production assigner is not exercised here.
    const extra = ['--max-batch-rows', '300', '--partition-assigner', 'mock-safe'];
    const a = await startIngest({ bootstrap: cluster.bootstrap, topic, group, data: join(dir, 'a'), extra });
    const b = await startIngest({ bootstrap: cluster.bootstrap, topic, group, data: join(dir, 'b'), extra });
    // The last batch waits until a has left, so a leaves mid-stream however slow the machine is.
    let aLeft = (): void => undefined;
    const left = new Promise<void>((r) => (aLeft = r));
    try {
      await Promise.all([waitReady(a), waitReady(b)]);
      // Both members hold partitions before anything is produced.
      await waitFor(async () => (await metric(a.port, 'tilewatch_assigned_partitions')) + (await metric(b.port, 'tilewatch_assigned_partitions')) === PARTITIONS && (await metric(a.port, 'tilewatch_assigned_partitions')) > 0, 60_000, 'both members assigned');
      const msgs = background(8000, T0);
      let produced = 0;
      const producing = produceLines(cluster.bootstrap, topic, msgs, {
        batchSize: 100,
        afterBatch: async (n) => {
          produced = n;
          if (n === msgs.length - 100) await left;
          await new Promise((r) => setTimeout(r, 20));
        },
      });
      await waitFor(async () => produced >= 3000 && (await metric(a.port, 'tilewatch_ingest_rows_total')) > 0 && (await metric(b.port, 'tilewatch_ingest_rows_total')) > 0, 60_000, 'both members storing');
      const producedAtStop = produced;
      await stopGracefully(a);
      const producedAfterStop = produced;
      aLeft();
      assert.ok(producedAfterStop < msgs.length, `a left mid-stream (${producedAtStop}..${producedAfterStop} of ${msgs.length} produced while it stopped)`);
      await waitFor(async () => (await metric(b.port, 'tilewatch_assigned_partitions')) === PARTITIONS, 60_000, 'b takes every partition');
      await producing;
      await waitUntilCommitted(cluster.bootstrap, group, topic, 90_000);
      await stopGracefully(b);
    } finally {
      aLeft();
      for (const ing of [a, b]) if (ing.child.exitCode === null && ing.child.signalCode === null) ing.child.kill('SIGKILL');
    }
    const [sa, sb] = [await storedLineage(join(dir, 'a')), await storedLineage(join(dir, 'b'))];
    assert.ok(sa.pairs.length > 0 && sb.pairs.length > 0, 'both members stored a share');
    assertExact([...sa.pairs, ...sb.pairs], expectedPairs(await topicWatermarks(cluster.bootstrap, topic)), 'union of both stores');
  });

  it('produces bad messages to the dead-letter topic with reason and source headers, besides dead_letters', async (t) => {
    const topic = 'tw-dlt-src';
    const dlt = 'tw-dlt';
    const group = 'tw-dlt';
    cluster.createTopic(topic, PARTITIONS);
    cluster.createTopic(dlt, 1);
    const data = join(tempDir(t, 'kafka-dlt'), 'data');
    const good = background(1000, T0);
    const notUtf8 = Buffer.from([0xc3, 0x28, 0xff]);
    const poison = [
      { key: 'p1', value: '' },
      { key: 'p2', value: notUtf8 },
      { key: 'p3', value: 'this is not an access log line' },
    ];
    await produceLines(cluster.bootstrap, topic, [...good.slice(0, 500), ...poison, ...good.slice(500)]);
    const ing = await startIngest({ bootstrap: cluster.bootstrap, topic, group, data, extra: ['--dead-letter-topic', dlt] });
    await waitReady(ing);
    await waitUntilCommitted(cluster.bootstrap, group, topic, 60_000);
    await stopGracefully(ing);
    const stored = await storedLineage(data);
    assert.equal(stored.pairs.length, good.length);
    assert.deepEqual(stored.deadReasons, { 'empty message': 1, 'not UTF-8': 1, 'format mismatch at $remote_addr': 1 });
    const got = await readTopic(cluster.bootstrap, dlt, poison.length);
    assert.equal(got.length, poison.length, 'one dead-letter message per bad message');
    const byReason = new Map(got.map(({ message }) => [String(message.headers?.reason), message]));
    assert.deepEqual([...byReason.keys()].sort(), ['empty message', 'format mismatch at $remote_addr', 'not UTF-8']);
    assert.deepEqual(byReason.get('not UTF-8')?.value, notUtf8, 'the raw bytes, unchanged');
    assert.equal(byReason.get('format mismatch at $remote_addr')?.value?.toString(), 'this is not an access log line');
    // Where each bad message went, read from the source topic itself (keys p1..p3 are unique).
    const source = await readTopic(cluster.bootstrap, topic, good.length + poison.length);
    const at = new Map(source.filter(({ message }) => /^p\d$/.test(String(message.key))).map(({ partition, message }) => [String(message.key), `${partition}/${message.offset}`]));
    assert.equal(at.size, poison.length, 'every bad message found in the source topic');
    const expectedSource = { 'empty message': at.get('p1'), 'not UTF-8': at.get('p2'), 'format mismatch at $remote_addr': at.get('p3') };
    const gotSource = Object.fromEntries(
      got.map(({ message }) => {
        assert.equal(String(message.headers?.['source-topic']), topic);
        return [String(message.headers?.reason), `${String(message.headers?.['source-partition'])}/${String(message.headers?.['source-offset'])}`];
      }),
    );
    assert.deepEqual(gotSource, expectedSource, 'each dead letter names the exact partition and offset of its bad message');
  });

  it('re-publishes parsed requests keyed by client; a detection worker on that topic alerts the scrape once', async (t) => {
    const raw = 'tw-raw-unkeyed';
    const keyed = 'tw-requests-keyed';
    cluster.createTopic(raw, PARTITIONS);
    cluster.createTopic(keyed, PARTITIONS);
    const dir = tempDir(t, 'kafka-republish');
    const scraper = '203.0.113.88';
    // Unkeyed: the shipper cannot key by client, so the scrape is spread over every partition.
    const msgs = withScrape(2000, T0, scraper, 3).map((m, i) => ({ key: `shipper-${i % 16}`, value: m.value }));
    await produceLines(cluster.bootstrap, raw, msgs);
    const front = await startIngest({ bootstrap: cluster.bootstrap, topic: raw, group: 'tw-front', data: join(dir, 'front'), alertsOut: join(dir, 'front-alerts.jsonl'), extra: ['--republish-topic', keyed] });
    const worker = await startIngest({ bootstrap: cluster.bootstrap, topic: keyed, group: 'tw-detect', data: join(dir, 'worker'), alertsOut: join(dir, 'alerts.jsonl'), extra: ['--no-store'] });
    try {
      await Promise.all([waitReady(front), waitReady(worker)]);
      await waitUntilCommitted(cluster.bootstrap, 'tw-front', raw, 60_000);
      await waitUntilCommitted(cluster.bootstrap, 'tw-detect', keyed, 60_000);
      await stopGracefully(front);
      await stopGracefully(worker);
    } finally {
      for (const ing of [front, worker]) if (ing.child.exitCode === null && ing.child.signalCode === null) ing.child.kill('SIGKILL');
    }
    const fs = await storedLineage(join(dir, 'front'));
    assertExact(fs.pairs, expectedPairs(await topicWatermarks(cluster.bootstrap, raw)), 'front store');
    const ws = await storedLineage(join(dir, 'worker'));
    assert.equal(ws.pairs.length, 0, 'the worker stores no requests (--no-store)');
    const keyedMarks = await topicWatermarks(cluster.bootstrap, keyed);
    assert.equal([...keyedMarks.values()].reduce((a, m) => a + m.high - m.low, 0), msgs.length, 'one keyed message per request (no crash: no duplicates)');
    const got = await readTopic(cluster.bootstrap, keyed, msgs.length);
    const partitionsOf = new Map<string, Set<number>>();
    for (const { partition, message } of got) {
      const key = String(message.key);
      const rec = JSON.parse(String(message.value)) as { ip: string; ts: number; path: string; src: string };
      assert.equal(rec.ip, key, 'keyed by client');
      (partitionsOf.get(key) ?? partitionsOf.set(key, new Set()).get(key)!).add(partition);
    }
    assert.deepEqual([...partitionsOf.values()].filter((s) => s.size > 1), [], 'each client in one partition');
    assert.equal(alertLines(join(dir, 'front-alerts.jsonl')).length, 0, 'the re-publishing ingest does not detect');
    const alerts = alertLines(join(dir, 'alerts.jsonl'));
    const firsts = alerts.filter((a) => a.client.ip === scraper && a.version === 1);
    assert.equal(firsts.length, 1, 'the worker alerts the scrape once');
    assert.deepEqual([...new Set(alerts.filter((a) => a.client.ip !== scraper).map((a) => a.client.ip))], [], 'no viewer alerted');
  });
});

/**
 * The Kafka test broker is real: librdkafka's mock cluster (Debian librdkafka1, started in-process
 * through koffi) speaks the Kafka protocol over loopback TCP, and kafkajs — the client ingest uses —
 * produces, consumes in a group, commits and resumes against it, and rides out injected faults.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Consumer, EachBatchPayload, PartitionAssigner, Producer } from 'kafkajs';
import { mockSafeRoundRobin } from '../../services/dev/mockSafeAssigner.ts';
import {
  committedOffsets,
  createProducer,
  kafkaClient,
  produceLines,
  startCluster,
  stopCluster,
  topicWatermarks,
  waitFor,
  type MockKafkaCluster,
  type ProduceMessage,
} from '../support/kafka.ts';
import { childEnv, REPO_ROOT } from '../support/cli.ts';

/** Group settings that keep rebalances short on the mock (see the note in consumeInGroup). */
const GROUP = { sessionTimeout: 4_000, heartbeatInterval: 400, rebalanceTimeout: 4_000, maxWaitTimeInMs: 100 } as const;

/** Bounds a cleanup step so one stuck client cannot hang the file. */
async function bounded(what: string, p: Promise<unknown>, ms = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers teardown: clients first (each bounded), then the cluster. Runs whether the test passed or not. */
function teardown(t: TestContext, cluster: MockKafkaCluster, clients: Array<Consumer | Producer>): void {
  t.after(async () => {
    for (const c of clients) await bounded('kafkajs disconnect', c.disconnect()).catch(() => {});
    stopCluster(cluster);
  });
}

interface Seen {
  partition: number;
  offset: number;
  key: string;
  seq: number;
}

/**
 * A group consumer with autoCommit off that records every message and, after processing each batch,
 * commits the next offset with commitOffsets — capped at `commitCap(partition)` to simulate a
 * consumer that dies before committing the tail.
 *
 * Mock timing (librdkafka 2.0.2, measured): the first JoinGroup into an empty group waits 3 s (its
 * group.initial.rebalance.delay); a join after a member left waits the rest of sessionTimeout − 1 s.
 */
async function consumeInGroup(
  cluster: MockKafkaCluster,
  groupId: string,
  topic: string,
  clients: Array<Consumer | Producer>,
  opts: { commitCap?: (partition: number) => number; assigners?: PartitionAssigner[] } = {},
): Promise<{ consumer: Consumer; seen: Seen[]; joinedAfterMs: () => number; assignment: () => number[] }> {
  const commitCap = opts.commitCap ?? (() => Number.POSITIVE_INFINITY);
  const consumer = kafkaClient(cluster.bootstrap, { clientId: `test-${groupId}` }).consumer({
    groupId,
    ...GROUP,
    ...(opts.assigners ? { partitionAssigners: opts.assigners } : {}),
  });
  clients.push(consumer);
  const seen: Seen[] = [];
  const committed = new Map<number, number>();
  const started = Date.now();
  let joinedAt = 0;
  let assigned: number[] = [];
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joinedAt = Date.now();
    assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort((x, y) => x - y);
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }: EachBatchPayload) => {
      for (const m of batch.messages) {
        const value = JSON.parse(m.value?.toString() ?? 'null') as { seq: number };
        seen.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString() ?? '', seq: value.seq });
      }
      const last = batch.messages.at(-1);
      if (!last) return;
      const next = Math.min(Number(last.offset) + 1, commitCap(batch.partition));
      if (next > (committed.get(batch.partition) ?? 0)) {
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(next) }]);
        committed.set(batch.partition, next);
      }
      await heartbeat();
    },
  });
  return { consumer, seen, joinedAfterMs: () => (joinedAt === 0 ? -1 : joinedAt - started), assignment: () => assigned };
}

const countBy = <T>(xs: readonly T[], f: (x: T) => string | number): Map<string | number, number> => {
  const m = new Map<string | number, number>();
  for (const x of xs) m.set(f(x), (m.get(f(x)) ?? 0) + 1);
  return m;
};

describe('librdkafka mock cluster + kafkajs (real Kafka protocol over loopback)', () => {
  test('5,000 keyed messages: group consume with eachBatch + commitOffsets, then resume from committed offsets', async (t) => {
    const topic = 'tile-access';
    const cluster = startCluster({ brokers: 1 });
    const clients: Array<Consumer | Producer> = [];
    teardown(t, cluster, clients);
    cluster.createTopic(topic, 4);
    assert.match(cluster.bootstrap, /^127\.0\.0\.1:\d+$/);

    // Keyed like Vector's kafka sink keyed by client IP: 61 clients.
    const messages: ProduceMessage[] = Array.from({ length: 5_000 }, (_, seq) => ({
      key: `198.51.100.${seq % 61}`,
      value: JSON.stringify({ seq, line: `198.51.100.${seq % 61} - - "GET /iiif/img${seq % 7}/${seq % 13 * 512},0,512,512/512,/0/default.jpg HTTP/1.1" 200 4096` }),
    }));
    assert.equal(await produceLines(cluster.bootstrap, topic, messages, { batchSize: 500 }), 5_000);

    const marks = await topicWatermarks(cluster.bootstrap, topic);
    assert.deepEqual([...marks.keys()].sort(), [0, 1, 2, 3]);
    const high = (p: number): number => marks.get(p)?.high ?? -1;
    assert.equal([0, 1, 2, 3].reduce((s, p) => s + high(p), 0), 5_000, 'high watermarks add up to what was produced');
    for (const [p, m] of marks) assert.equal(m.low, 0, `partition ${p} kept from offset 0`);

    // First consumer: sees everything, but commits only up to ~60 % of each partition (its "crash" point).
    const cut = (p: number): number => Math.floor(high(p) * 0.6);
    const a = await consumeInGroup(cluster, 'tilewatch-ingest-test', topic, clients, { commitCap: cut });
    await waitFor(() => a.seen.length >= 5_000, 20_000, 'first consumer to see 5,000 messages');
    t.diagnostic(`first join after ${a.joinedAfterMs()} ms`);

    // Exact counts per partition (each offset exactly once, contiguous) and per key.
    const byPartition = countBy(a.seen, (s) => s.partition);
    for (const p of [0, 1, 2, 3]) {
      assert.equal(byPartition.get(p), high(p), `partition ${p} count`);
      const offsets = a.seen.filter((s) => s.partition === p).map((s) => s.offset);
      assert.deepEqual(offsets, Array.from({ length: high(p) }, (_, i) => i), `partition ${p}: offsets 0..${high(p) - 1} in order, once`);
    }
    const expectedByKey = countBy(messages, (m) => m.key ?? '');
    assert.deepEqual(new Map([...countBy(a.seen, (s) => s.key)].sort()), new Map([...expectedByKey].sort()), 'per-key counts');
    for (const key of expectedByKey.keys()) {
      const mine = a.seen.filter((s) => s.key === key);
      assert.equal(new Set(mine.map((s) => s.partition)).size, 1, `key ${key} lives on one partition`);
      assert.ok(mine.every((s, i) => i === 0 || s.seq > (mine[i - 1]?.seq ?? -1)), `key ${key} arrives in produce order`);
    }
    assert.equal(new Set(a.seen.map((s) => s.seq)).size, 5_000, 'every message once');

    await waitFor(async () => {
      const c = await committedOffsets(cluster.bootstrap, 'tilewatch-ingest-test', topic);
      return [0, 1, 2, 3].every((p) => c.get(p) === cut(p));
    }, 5_000, 'commits to reach the cut');
    const leaveStarted = Date.now();
    await a.consumer.disconnect();
    t.diagnostic(`disconnect (LeaveGroup) took ${Date.now() - leaveStarted} ms`);

    // Restart in the same group: it must start exactly at the committed offsets.
    const expectedTail = [0, 1, 2, 3].reduce((s, p) => s + high(p) - cut(p), 0);
    const b = await consumeInGroup(cluster, 'tilewatch-ingest-test', topic, clients);
    await waitFor(() => b.seen.length >= expectedTail, 20_000, `second consumer to see the ${expectedTail} uncommitted messages`);
    t.diagnostic(`rejoin after a leave took ${b.joinedAfterMs()} ms`);
    await new Promise((r) => setTimeout(r, 300)); // anything re-delivered beyond the tail would show up now
    assert.equal(b.seen.length, expectedTail, 'nothing before the committed offsets is re-delivered');
    for (const p of [0, 1, 2, 3]) {
      const offsets = b.seen.filter((s) => s.partition === p).map((s) => s.offset);
      assert.deepEqual(offsets, Array.from({ length: high(p) - cut(p) }, (_, i) => cut(p) + i), `partition ${p} resumes at ${cut(p)}`);
    }
    await waitFor(async () => {
      const c = await committedOffsets(cluster.bootstrap, 'tilewatch-ingest-test', topic);
      return [0, 1, 2, 3].every((p) => c.get(p) === high(p));
    }, 5_000, 'second consumer to commit everything');
  });

  test('3 brokers: broker 2 down then up while producing with retries — every message delivered once', async (t) => {
    const topic = 'tile-access-ha';
    const cluster = startCluster({ brokers: 3 });
    const clients: Array<Consumer | Producer> = [];
    teardown(t, cluster, clients);
    cluster.createTopic(topic, 6, 3);
    cluster.setPartitionLeader(topic, 0, 2); // make sure broker 2 leads something
    assert.equal(cluster.brokerList.length, 3);

    const errors: string[] = [];
    const client = kafkaClient(cluster.bootstrap, {
      clientId: 'test-ha-producer',
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1_000 },
      level: 'error',
      onLog: (e) => errors.push(e.log.message),
    });
    const producer = createProducer(client);
    clients.push(producer);
    await producer.connect();

    const total = 3_000;
    const perBatch = 100;
    let upTimer: NodeJS.Timeout | undefined;
    t.after(() => clearTimeout(upTimer));
    let slowest = 0;
    for (let b = 0; b * perBatch < total; b++) {
      if (b === 5) {
        cluster.brokerDown(2);
        upTimer = setTimeout(() => cluster.brokerUp(2), 1_200);
      }
      const started = Date.now();
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: perBatch }, (_, i) => {
          const seq = b * perBatch + i;
          return { key: `203.0.113.${seq % 53}`, value: JSON.stringify({ seq }) };
        }),
      });
      slowest = Math.max(slowest, Date.now() - started);
    }
    t.diagnostic(`slowest send ${slowest} ms; kafkajs errors logged while broker 2 was down: ${errors.length}`);
    assert.ok(slowest >= 800, `a send waited for broker 2 to come back (slowest ${slowest} ms)`);
    assert.ok(errors.some((m) => /ECONNREFUSED|Closed connection|Connection error/.test(m)), `the outage was seen: ${errors.slice(0, 3).join(' | ')}`);

    const marks = await topicWatermarks(cluster.bootstrap, topic);
    assert.equal([...marks.values()].reduce((s, m) => s + m.high - m.low, 0), total, 'exactly one copy of each message in the log');
    const c = await consumeInGroup(cluster, 'ha-check', topic, clients);
    await waitFor(() => c.seen.length >= total, 20_000, 'consumer to read everything back');
    assert.deepEqual(
      [...new Set(c.seen.map((s) => s.seq))].sort((x, y) => x - y),
      Array.from({ length: total }, (_, i) => i),
      'every sequence number arrived',
    );
    assert.equal(c.seen.length, total, 'no duplicates');
  });

  test('injected Produce errors: NOT_LEADER_FOR_PARTITION is retried, a non-retriable error surfaces; RTT delays', async (t) => {
    const topic = 'faults';
    const cluster = startCluster({ brokers: 1 });
    const clients: Array<Consumer | Producer> = [];
    teardown(t, cluster, clients);
    cluster.createTopic(topic, 1);

    const producer = createProducer(kafkaClient(cluster.bootstrap, { clientId: 'test-faults', retry: { retries: 5, initialRetryTime: 50, maxRetryTime: 500 } }));
    clients.push(producer);
    const produceRequests: number[] = [];
    producer.on(producer.events.REQUEST, (e) => {
      if (e.payload.apiKey === 0) produceRequests.push(e.payload.duration);
    });
    await producer.connect();

    const PRODUCE = 0;
    const NOT_LEADER_FOR_PARTITION = 6;
    const MESSAGE_TOO_LARGE = 10;
    cluster.pushRequestErrors(PRODUCE, [NOT_LEADER_FOR_PARTITION, NOT_LEADER_FOR_PARTITION, NOT_LEADER_FOR_PARTITION]);
    await producer.send({ topic, messages: [{ key: 'k', value: 'retried' }] });
    assert.equal(produceRequests.length, 4, 'three failed Produce requests, then one that succeeded');
    assert.equal((await topicWatermarks(cluster.bootstrap, topic)).get(0)?.high, 1, 'the message was appended once');

    cluster.pushRequestErrors(PRODUCE, [MESSAGE_TOO_LARGE]);
    await assert.rejects(
      producer.send({ topic, messages: [{ value: 'rejected' }] }),
      (e: Error & { type?: string; retriable?: boolean }) => {
        assert.match(`${e.name} ${e.message} ${e.type ?? ''}`, /MESSAGE_TOO_LARGE|larger than the max/i);
        return true;
      },
    );
    assert.equal(produceRequests.length, 5, 'a non-retriable error is not retried');
    assert.equal((await topicWatermarks(cluster.bootstrap, topic)).get(0)?.high, 1, 'nothing appended for the rejected send');

    cluster.setRtt(1, 250);
    const started = Date.now();
    await producer.send({ topic, messages: [{ value: 'slow' }] });
    const took = Date.now() - started;
    cluster.setRtt(1, 0);
    assert.ok(took >= 240, `RTT of 250 ms applied (send took ${took} ms)`);
  });

  test('two members in one group split the partitions, and one takes all after the other leaves (mockSafeRoundRobin)', async (t) => {
    const topic = 'tile-access-scale';
    const cluster = startCluster({ brokers: 1 });
    const clients: Array<Consumer | Producer> = [];
    teardown(t, cluster, clients);
    cluster.createTopic(topic, 4);

    // Without the delayed assigner the mock answers a late follower's SyncGroup with INVALID_REQUEST
    // and kafkajs crashes that member for good (see services/dev/mockSafeAssigner.ts).
    const crashes: string[] = [];
    const members = await Promise.all(
      [0, 1].map(() => consumeInGroup(cluster, 'tilewatch-scale-test', topic, clients, { assigners: [mockSafeRoundRobin()] })),
    );
    for (const m of members) m.consumer.on(m.consumer.events.CRASH, (e) => crashes.push(e.payload.error.message));
    await waitFor(() => members.every((m) => m.assignment().length === 2), 15_000, 'both members to get 2 partitions');
    t.diagnostic(`both joined after ${Math.max(...members.map((m) => m.joinedAfterMs()))} ms`);
    assert.deepEqual([...members[0]!.assignment(), ...members[1]!.assignment()].sort(), [0, 1, 2, 3], 'partitions split, none shared');

    const messages = Array.from({ length: 2_000 }, (_, seq) => ({ key: `192.0.2.${seq % 41}`, value: JSON.stringify({ seq }) }));
    await produceLines(cluster.bootstrap, topic, messages);
    const seenBy = (): number => members[0]!.seen.length + members[1]!.seen.length;
    await waitFor(() => seenBy() >= 2_000, 15_000, 'both members to consume 2,000 messages');
    for (const m of members) {
      assert.ok(m.seen.length > 0, 'each member consumed something');
      assert.ok(m.seen.every((s) => m.assignment().includes(s.partition)), 'only from its own partitions');
    }
    assert.equal(new Set([...members[0]!.seen, ...members[1]!.seen].map((s) => s.seq)).size, 2_000, 'each message once across the group');

    // Scale in: member 1 leaves; member 0 must take over all four partitions and the new messages.
    const leftAt = Date.now();
    await members[1]!.consumer.disconnect();
    await waitFor(() => members[0]!.assignment().length === 4, 15_000, 'the remaining member to own all partitions');
    t.diagnostic(`handover after a leave took ${Date.now() - leftAt} ms`);
    const before = members[0]!.seen.length;
    await produceLines(cluster.bootstrap, topic, messages.slice(0, 400));
    await waitFor(() => members[0]!.seen.length >= before + 400, 15_000, 'the remaining member to consume the next 400');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(members[0]!.seen.length, before + 400, 'committed messages are not re-delivered after the handover');
    assert.deepEqual(crashes, [], 'no consumer crashed');
  });

  test('mockKafkaMain: one JSON line with the bootstrap, serves clients, exits 0 when stdin closes', async (t) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services/dev/mockKafkaMain.ts'), '--topic', 'tile-access:8', '--topic', 'other:2'], {
      cwd: REPO_ROOT,
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no JSON line after 20 s; stderr:\n${stderr}`)), 20_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, nl));
        }
      });
      child.on('exit', (code) => reject(new Error(`exited early (${code}); stderr:\n${stderr}`)));
    });
    const info = JSON.parse(line) as { bootstrap: string; topics: Record<string, number> };
    assert.match(info.bootstrap, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(info.topics, { 'tile-access': 8, other: 2 });

    await produceLines(info.bootstrap, 'tile-access', [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }]);
    const marks = await topicWatermarks(info.bootstrap, 'tile-access');
    assert.equal(marks.size, 8);
    assert.equal([...marks.values()].reduce((s, m) => s + m.high, 0), 2);

    child.stdin.end();
    assert.equal(await exited, 0, `clean exit; stderr:\n${stderr}`);
    assert.match(stderr, /stopping \(stdin closed\)/);
  });
});

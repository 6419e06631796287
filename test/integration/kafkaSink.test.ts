/**
 * The Kafka sink through the kafkajs producer adapter against librdkafka's mock cluster (a real
 * Kafka-protocol broker), consumed back with kafkajs: key = alert id, value = the alert JSON,
 * headers kind/severity/version/status, every version of an alert in one partition in order. A
 * broker outage is ridden out by the dispatcher's retries.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Consumer } from 'kafkajs';
import { pino } from 'pino';
import { createSinkDispatcher } from '../../services/alerting/dispatcher.ts';
import { createKafkaSink } from '../../services/alerting/kafkaSink.ts';
import type { Alert } from '../../services/core/alert.ts';
import { createKafkajsProducer } from '../../services/ingest/kafka/kafkajsProducer.ts';
import { makeAlert, versions } from '../support/alerts.ts';
import { kafkaClient, startCluster, stopCluster, waitFor } from '../support/kafka.ts';

interface Got {
  partition: number;
  offset: number;
  key: string;
  value: Alert;
  headers: Record<string, string>;
}

async function consumeAll(bootstrap: string, topic: string, groupId: string, until: (got: Got[]) => boolean): Promise<Got[]> {
  const consumer: Consumer = kafkaClient(bootstrap, { clientId: `test-${groupId}` }).consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  const got: Got[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        got.push({ partition, offset: Number(message.offset), key: String(message.key), value: JSON.parse(String(message.value)) as Alert, headers });
        return Promise.resolve();
      },
    });
    await waitFor(() => until(got), 20_000, `messages on ${topic} (got ${got.length})`, 50);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('Kafka sink (librdkafka mock cluster)', () => {
  test('alert versions land keyed by id with the alert as value and kind/severity/version headers, in order per alert', async (t) => {
    const cluster = startCluster({ brokers: 1, topics: { 'tile-alerts': 4 } });
    t.after(() => stopCluster(cluster));
    const logger = pino({ level: 'silent' });
    const producer = createKafkajsProducer({ brokers: cluster.brokerList, clientId: 'tilewatch-alerts-test', ssl: false, requestTimeoutMs: 3000, idempotent: false }, logger);
    const d = createSinkDispatcher({ sinks: [createKafkaSink({ producer })], logger, retry: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 20 } });
    t.after(() => d.drain(5000));

    const ids = ['tw-00000000000000000a01', 'tw-00000000000000000b02', 'tw-00000000000000000c03', 'tw-00000000000000000d04'];
    const all = ids.flatMap((id) => versions(id, 2, true));
    // Interleave the alerts' versions as the detector would emit them.
    const order = [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11].map((i) => all[i]!);
    for (const a of order) d.push(a);
    await waitFor(() => d.stats().sinks[0]!.delivered === order.length, 20_000, 'all versions produced');

    const got = await consumeAll(cluster.bootstrap, 'tile-alerts', 'check-1', (g) => g.length >= order.length);
    assert.equal(got.length, order.length);
    for (const m of got) {
      assert.equal(m.key, m.value.id);
      assert.deepEqual(m.headers, {
        kind: m.value.kind,
        severity: m.value.severity,
        version: String(m.value.version),
        status: m.value.status,
        'content-type': 'application/json',
      });
    }
    for (const id of ids) {
      const mine = got.filter((m) => m.key === id);
      assert.equal(new Set(mine.map((m) => m.partition)).size, 1, `${id}: one partition`);
      assert.deepEqual(
        mine.sort((a, b) => a.offset - b.offset).map((m) => [m.value.version, m.value.status]),
        [
          [1, 'open'],
          [2, 'open'],
          [3, 'resolved'],
        ],
        `${id}: versions in order`,
      );
      assert.deepEqual(mine[2]!.value, all.find((a) => a.id === id && a.version === 3));
    }
    assert.ok(new Set(got.map((m) => m.partition)).size > 1, 'keys spread over partitions');
  });

  test('a broker outage is retried with backoff and the version arrives once the broker is back', async (t) => {
    const cluster = startCluster({ brokers: 1, topics: { 'tile-alerts': 1 } });
    t.after(() => stopCluster(cluster));
    const logger = pino({ level: 'silent' });
    const producer = createKafkajsProducer({ brokers: cluster.brokerList, clientId: 'tilewatch-alerts-outage', ssl: false, requestTimeoutMs: 1000, idempotent: false }, logger);
    const d = createSinkDispatcher({ sinks: [createKafkaSink({ producer })], logger, retry: { baseDelayMs: 200, maxDelayMs: 500, maxAttempts: 50 } });
    t.after(() => d.drain(5000));
    await producer.connect();
    cluster.brokerDown(-1);
    d.push(makeAlert({ id: 'tw-0000000000000000ffff' }));
    await waitFor(() => d.stats().sinks[0]!.failedAttempts >= 1, 30_000, 'a failed attempt while the broker is down');
    assert.equal(d.stats().sinks[0]!.delivered, 0);
    cluster.brokerUp(-1);
    await waitFor(() => d.stats().sinks[0]!.delivered === 1, 30_000, 'delivery after the broker is back');
    const got = await consumeAll(cluster.bootstrap, 'tile-alerts', 'check-2', (g) => g.length >= 1);
    assert.deepEqual(
      got.map((m) => [m.key, m.value.version]),
      [['tw-0000000000000000ffff', 1]],
    );
  });
});

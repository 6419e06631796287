/**
 * The Kafka sink through the kafkajs producer adapter against librdkafka's mock cluster (a real
 * Kafka-protocol broker), consumed back with kafkajs: key = incident id, value = the alert version
 * that caused the notice with its incident, headers for the incident and the alert, every notice of
 * an incident in one partition in order. A broker outage is ridden out by the dispatcher's retries.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Consumer } from 'kafkajs';
import { pino } from 'pino';
import { createSinkDispatcher } from '../../services/alerting/dispatcher.ts';
import { createKafkaSink } from '../../services/alerting/kafkaSink.ts';
import type { Alert, Severity } from '../../services/core/alert.ts';
import { createKafkajsProducer } from '../../services/kafka/kafkajsProducer.ts';
import { makeAlert } from '../support/alerts.ts';
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
  test('incident notices land keyed by incident id with the version and its incident as value, in order per incident', async (t) => {
    const cluster = startCluster({ brokers: 1, topics: { 'tile-alerts': 4 } });
    t.after(() => stopCluster(cluster));
    const logger = pino({ level: 'silent' });
    const producer = createKafkajsProducer({ brokers: cluster.brokerList, clientId: 'tilewatch-alerts-test', ssl: false, requestTimeoutMs: 3000, idempotent: false }, logger);
    const d = createSinkDispatcher({ sinks: [createKafkaSink({ producer })], logger, retry: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 20 } });
    t.after(() => d.drain(5000));

    // Four incidents, each opened by one alert, escalated by another, resolved by the first.
    const incidents = ['ti-00000000000000000a01', 'ti-00000000000000000b02', 'ti-00000000000000000c03', 'ti-00000000000000000d04'];
    const noticesOf = (inc: string): Alert[] => {
      const first = `tw-${inc.slice(3)}`;
      const second = `tw-${inc.slice(3, -2)}ff`;
      const incident = (severity: Severity, notice: 'opened' | 'escalated' | 'resolved', alerts: number) => ({ id: inc, severity, status: notice === 'resolved' ? ('resolved' as const) : ('open' as const), alerts, notice });
      return [
        makeAlert({ id: first, severity: 'medium', incident: incident('medium', 'opened', 1) }),
        makeAlert({ id: second, severity: 'critical', version: 2, incident: incident('critical', 'escalated', 2) }),
        makeAlert({ id: first, severity: 'medium', version: 3, status: 'resolved', resolvedAt: '2026-01-05T12:20:00.000Z', incident: incident('critical', 'resolved', 2) }),
      ];
    };
    const all = incidents.flatMap(noticesOf);
    // Interleave the incidents' notices as the correlator would emit them.
    const order = [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11].map((i) => all[i]!);
    for (const a of order) d.push(a);
    await waitFor(() => d.stats().sinks[0]!.delivered === order.length, 20_000, 'all notices produced');

    const got = await consumeAll(cluster.bootstrap, 'tile-alerts', 'check-1', (g) => g.length >= order.length);
    assert.equal(got.length, order.length);
    for (const m of got) {
      const inc = m.value.incident!;
      assert.equal(m.key, inc.id);
      assert.deepEqual(m.headers, {
        incident: inc.id,
        'incident-severity': inc.severity,
        'incident-status': inc.status,
        notice: inc.notice,
        alerts: String(inc.alerts),
        alert: m.value.id,
        kind: m.value.kind,
        severity: m.value.severity,
        version: String(m.value.version),
        status: m.value.status,
        'idempotency-key': `${inc.id}:${inc.notice}:${m.value.id}:${m.value.version}`,
        'content-type': 'application/json',
      });
    }
    for (const inc of incidents) {
      const mine = got.filter((m) => m.key === inc);
      assert.equal(new Set(mine.map((m) => m.partition)).size, 1, `${inc}: one partition for all its notices, whichever alert caused them`);
      const sorted = mine.sort((a, b) => a.offset - b.offset);
      assert.deepEqual(
        sorted.map((m) => [m.value.incident!.notice, m.value.incident!.severity, m.value.id]),
        [
          ['opened', 'medium', `tw-${inc.slice(3)}`],
          ['escalated', 'critical', `tw-${inc.slice(3, -2)}ff`],
          ['resolved', 'critical', `tw-${inc.slice(3)}`],
        ],
        `${inc}: notices in order`,
      );
      assert.deepEqual(sorted[2]!.value, noticesOf(inc)[2]);
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
      got.map((m) => [m.key, m.value.id, m.value.version]),
      [['ti-0000000000000000ffff', 'tw-0000000000000000ffff', 1]],
    );
  });
});

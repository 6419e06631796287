/**
 * Kafka helpers for tests: a real Kafka-protocol broker (librdkafka's mock cluster, in-process via
 * koffi — see services/dev/mockKafkaCluster.ts) and kafkajs clients that do not flood the output.
 *
 * kafkajs is CommonJS and spreads its error classes into module.exports, so Node's ESM loader does
 * not see them as named exports: import the default and destructure (as done here).
 */
import { createServer } from 'node:net';
import kafkajs from 'kafkajs';
import type { Kafka as KafkaClient, KafkaConfig, LogEntry, Producer, ProducerConfig, RetryOptions } from 'kafkajs';
import { startMockKafkaCluster } from '../../services/dev/mockKafkaCluster.ts';
import type { MockKafkaCluster, MockKafkaClusterOptions } from '../../services/dev/mockKafkaCluster.ts';

const { Kafka, logLevel, Partitioners } = kafkajs;

export type { MockKafkaCluster };

/** Starts a mock cluster in this process; pair with {@link stopCluster} (or `cluster.close()`). */
export function startCluster(opts: MockKafkaClusterOptions & { topics?: Record<string, number> } = {}): MockKafkaCluster {
  const cluster = startMockKafkaCluster(opts);
  try {
    for (const [name, partitions] of Object.entries(opts.topics ?? {})) cluster.createTopic(name, partitions, Math.min(3, cluster.brokerCount));
  } catch (e) {
    cluster.close();
    throw e;
  }
  return cluster;
}

/** Closes a cluster if there is one (safe in `finally`/`after` whatever happened before). */
export function stopCluster(cluster: MockKafkaCluster | undefined): void {
  cluster?.close();
}

export interface ClientOptions {
  readonly clientId?: string;
  readonly retry?: RetryOptions;
  /** Receives kafkajs' log entries at `level` and above (default: none are produced). */
  readonly onLog?: (entry: LogEntry) => void;
  readonly level?: 'error' | 'warn' | 'info' | 'debug';
  readonly connectionTimeout?: number;
  readonly requestTimeout?: number;
}

/**
 * A kafkajs client for `bootstrap` ("host:port,host:port"). Silent by default: logLevel NOTHING and
 * a no-op logCreator, so neither kafkajs' JSON lines nor its partitioner warning reach the output.
 */
export function kafkaClient(bootstrap: string | readonly string[], opts: ClientOptions = {}): KafkaClient {
  const brokers = typeof bootstrap === 'string' ? bootstrap.split(',').filter((s) => s.length > 0) : [...bootstrap];
  const onLog = opts.onLog;
  const levels = { error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG } as const;
  const config: KafkaConfig = {
    clientId: opts.clientId ?? 'tilewatch-test',
    brokers,
    connectionTimeout: opts.connectionTimeout ?? 3_000,
    requestTimeout: opts.requestTimeout ?? 10_000,
    logLevel: onLog ? levels[opts.level ?? 'warn'] : logLevel.NOTHING,
    logCreator: () => (entry) => onLog?.(entry),
  };
  if (opts.retry) config.retry = opts.retry;
  return new Kafka(config);
}

/** A producer with the Java-compatible (default) partitioner chosen explicitly, so kafkajs does not warn. */
export function createProducer(client: KafkaClient, config: ProducerConfig = {}): Producer {
  return client.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config });
}

export interface ProduceMessage {
  readonly key?: string;
  readonly value: string | Buffer;
}

export interface ProduceOptions {
  /** Messages per `producer.send()` call. Default 500. */
  readonly batchSize?: number;
  /** acks: -1 (all, default), 1 or 0. */
  readonly acks?: number;
  readonly retry?: RetryOptions;
  readonly idempotent?: boolean;
  /** Called after each batch is acknowledged, with the number of messages sent so far. */
  readonly afterBatch?: (sent: number) => void | Promise<void>;
}

/**
 * Produces `messages` to `topic` in order, `batchSize` per request, with a fresh (silent) producer
 * that is always disconnected. Keyed messages go to murmur2(key) % partitions like the Java client.
 * Returns the number of messages acknowledged.
 */
export async function produceLines(
  bootstrap: string,
  topic: string,
  messages: readonly ProduceMessage[],
  opts: ProduceOptions = {},
): Promise<number> {
  const batchSize = opts.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const clientOpts: ClientOptions = opts.retry ? { clientId: 'tilewatch-test-producer', retry: opts.retry } : { clientId: 'tilewatch-test-producer' };
  const producerConfig: ProducerConfig = opts.idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {};
  const producer = createProducer(kafkaClient(bootstrap, clientOpts), producerConfig);
  await producer.connect();
  let sent = 0;
  try {
    for (let i = 0; i < messages.length; i += batchSize) {
      const batch = messages.slice(i, i + batchSize).map((m) => (m.key === undefined ? { value: m.value } : { key: m.key, value: m.value }));
      await producer.send({ topic, acks: opts.acks ?? -1, messages: batch });
      sent += batch.length;
      await opts.afterBatch?.(sent);
    }
  } finally {
    await producer.disconnect();
  }
  return sent;
}

/**
 * Polls `predicate` every `intervalMs` until it returns true; rejects after `timeoutMs` with
 * `what` (and the predicate's last error, if it threw) in the message.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition', intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await predicate()) return;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: last error ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Sum of (high watermark − low watermark) per partition, from ListOffsets via a kafkajs admin. */
export async function topicWatermarks(bootstrap: string, topic: string): Promise<Map<number, { low: number; high: number }>> {
  const admin = kafkaClient(bootstrap, { clientId: 'tilewatch-test-admin' }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
  } finally {
    await admin.disconnect();
  }
}

/** Committed offset per partition of `groupId` on `topic` (-1 where nothing is committed). */
export async function committedOffsets(bootstrap: string, groupId: string, topic: string): Promise<Map<number, number>> {
  const admin = kafkaClient(bootstrap, { clientId: 'tilewatch-test-admin' }).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the group has committed every partition of `topic` up to its high watermark. */
export async function waitUntilCommitted(bootstrap: string, groupId: string, topic: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const [marks, committed] = await Promise.all([topicWatermarks(bootstrap, topic), committedOffsets(bootstrap, groupId, topic)]);
      for (const [p, m] of marks) if (m.high > 0 && (committed.get(p) ?? -1) < m.high) return false;
      return true;
    },
    timeoutMs,
    `group ${groupId} to commit ${topic} to its end`,
    250,
  );
}

/** A TCP port free on loopback right now (for a child's --http-port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

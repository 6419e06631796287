import { Kafka, PartitionAssigners, logLevel, type Consumer, type LogEntry, type PartitionAssigner, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumerHandlers, KafkaConnection, KafkaConsumer, KafkaSettings } from './consumer.ts';

/** A kafkajs client for these connection settings, its own logs routed to pino (shared with kafkajsProducer.ts). */
export function createKafkajsClient(
  settings: KafkaConnection,
  logger: Logger,
  component = 'kafkajs',
  opts: { readonly retries?: number; readonly requestTimeoutMs?: number } = {},
): Kafka {
  const log = logger.child({ component });
  return new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    ssl: settings.ssl,
    ...(settings.sasl ? { sasl: settings.sasl as SASLOptions } : {}),
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeout: opts.requestTimeoutMs } : {}),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const fields = { kafkajs: rest };
        if (level <= logLevel.ERROR) log.error(fields, String(message));
        else log.warn(fields, String(message));
      },
    retry: { retries: opts.retries ?? 8, initialRetryTime: 200 },
  });
}

/** kafkajs-only choices, made by the composition root. */
export interface KafkajsConsumerOptions {
  /**
   * Partition assigner (a kafkajs assigner factory). Default: kafkajs' round robin. The CLI passes
   * its dev-only mock-safe assigner for `--partition-assigner mock-safe` (librdkafka's mock cluster).
   */
  readonly partitionAssigner?: PartitionAssigner;
}

/**
 * KafkaConsumer over kafkajs: eachBatch, no auto-commit, one partition batch at a time (the
 * handler's await is the backpressure).
 */
export function createKafkajsConsumer(settings: KafkaSettings, logger: Logger, options: KafkajsConsumerOptions = {}): KafkaConsumer {
  const kafka = createKafkajsClient(settings, logger);
  const fetch = { maxBytes: 16 << 20, maxBytesPerPartition: 4 << 20, maxWaitTimeInMs: 250, ...settings.fetch };
  let consumer: Consumer | null = null;

  return {
    async start(handlers: ConsumerHandlers) {
      const c = kafka.consumer({
        groupId: settings.groupId,
        sessionTimeout: settings.sessionTimeoutMs,
        heartbeatInterval: Math.max(500, Math.floor(settings.sessionTimeoutMs / 10)),
        // One fetch brings up to 16 MiB over all partitions; the handler's batch (not kafkajs') decides inserts.
        maxBytes: fetch.maxBytes,
        maxBytesPerPartition: fetch.maxBytesPerPartition,
        // An idle fetch returns after this long: it bounds how late a caught-up consumer sees a new message.
        maxWaitTimeInMs: fetch.maxWaitTimeInMs,
        retry: { retries: 8 },
        partitionAssigners: [options.partitionAssigner ?? PartitionAssigners.roundRobin],
      });
      consumer = c;
      c.on(c.events.REBALANCING, () => handlers.onRebalancing());
      c.on(c.events.GROUP_JOIN, (e) => {
        const assigned = Object.entries(e.payload.memberAssignment).flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
        handlers.onAssigned(assigned).catch((err: unknown) => handlers.onCrash(err as Error));
      });
      c.on(c.events.HEARTBEAT, () => handlers.onHeartbeat?.());
      c.on(c.events.CRASH, (e) => {
        if (!e.payload.restart) handlers.onCrash(e.payload.error);
      });
      await c.connect();
      await c.subscribe({ topics: [settings.topic], fromBeginning: settings.fromBeginning });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, heartbeat, isStale, resolveOffset }) => {
          await handlers.onBatch(
            {
              topic: batch.topic,
              partition: batch.partition,
              highWatermark: batch.highWatermark,
              // kafkajs' own message objects (offset, key, value and more): no copy per message.
              messages: batch.messages,
            },
            { heartbeat, isStale, resolveOffset },
          );
        },
      });
    },
    async commit(offsets) {
      if (!consumer || offsets.length === 0) return;
      await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, ...(o.metadata !== undefined ? { metadata: o.metadata } : {}) })));
    },
    async stop() {
      if (!consumer) return;
      const c = consumer;
      consumer = null;
      await c.disconnect();
    },
  };
}

import { Kafka, logLevel, type Consumer, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumerHandlers, KafkaConsumer, KafkaSettings } from './consumer.ts';

/**
 * KafkaConsumer over kafkajs: eachBatch, no auto-commit, one partition batch at a time (the
 * handler's await is the backpressure), kafkajs' own logs routed to pino.
 */
export function createKafkajsConsumer(settings: KafkaSettings, logger: Logger): KafkaConsumer {
  const log = logger.child({ component: 'kafkajs' });
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    ssl: settings.ssl,
    ...(settings.sasl ? { sasl: settings.sasl as SASLOptions } : {}),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const fields = { kafkajs: rest };
        if (level <= logLevel.ERROR) log.error(fields, String(message));
        else log.warn(fields, String(message));
      },
    retry: { retries: 8, initialRetryTime: 200 },
  });
  let consumer: Consumer | null = null;

  return {
    async start(handlers: ConsumerHandlers) {
      const c = kafka.consumer({
        groupId: settings.groupId,
        sessionTimeout: settings.sessionTimeoutMs,
        heartbeatInterval: Math.max(500, Math.floor(settings.sessionTimeoutMs / 10)),
        maxBytesPerPartition: 4 << 20,
        retry: { retries: 8 },
      });
      consumer = c;
      c.on(c.events.REBALANCING, () => handlers.onRebalancing());
      c.on(c.events.GROUP_JOIN, (e) => {
        const assigned = Object.entries(e.payload.memberAssignment).flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
        handlers.onAssigned(assigned).catch((err: unknown) => handlers.onCrash(err as Error));
      });
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
              messages: batch.messages.map((m) => ({ offset: m.offset, key: m.key, value: m.value })),
            },
            { heartbeat, isStale, resolveOffset },
          );
        },
      });
    },
    async commit(offsets) {
      if (!consumer || offsets.length === 0) return;
      await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
    },
    seek(tp, offset) {
      consumer?.seek({ topic: tp.topic, partition: tp.partition, offset });
    },
    async stop() {
      if (!consumer) return;
      const c = consumer;
      consumer = null;
      await c.disconnect();
    },
  };
}

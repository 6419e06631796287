import { Partitioners, type Producer } from 'kafkajs';
import { createKafkajsClient } from './kafkajsConsumer.ts';
import type { Logger } from 'pino';
import type { MessageProducer, ProducerSettings } from './producer.ts';

/**
 * MessageProducer over kafkajs: Java-compatible partitioner (murmur2 of the key), acks = all, one
 * request in flight (so a retry cannot reorder messages of one key), idempotent unless
 * `settings.idempotent` is false (see producer.ts), a few quick internal retries (callers retry
 * longer with their own backoff), kafkajs logs routed to pino.
 */
export function createKafkajsProducer(settings: ProducerSettings, logger: Logger): MessageProducer {
  const kafka = createKafkajsClient(settings, logger, 'kafkajs-producer', { retries: 3, requestTimeoutMs: settings.requestTimeoutMs ?? 10_000 });
  let producer: Producer | null = null;
  let connecting: Promise<Producer> | null = null;

  const connected = (): Promise<Producer> => {
    if (producer) return Promise.resolve(producer);
    connecting ??= (async () => {
      const idempotent = settings.idempotent ?? true;
      const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent, maxInFlightRequests: 1 });
      try {
        await p.connect();
      } catch (err) {
        await p.disconnect().catch(() => {});
        throw err;
      }
      producer = p;
      return p;
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  return {
    async connect() {
      await connected();
    },
    async send(topic, messages) {
      const p = await connected();
      await p.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key, value: m.value, ...(m.headers ? { headers: { ...m.headers } } : {}) })),
      });
    },
    async disconnect() {
      const p = producer ?? (connecting ? await connecting.catch(() => null) : null);
      producer = null;
      await p?.disconnect();
    },
  };
}

import type { KafkaConnection } from './consumer.ts';
/**
 * The producing half of the Kafka seam (consumer.ts is the consuming half): everything tilewatch
 * needs to publish, implemented over kafkajs in kafkajsProducer.ts, so the client library can be
 * replaced without touching the alert sinks.
 */

export interface ProducedMessage {
  /** Partitioning key (murmur2, Java-compatible): all messages with one key land in one partition, in order. */
  readonly key: string;
  readonly value: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface MessageProducer {
  /** Connects; idempotent. `send` connects on first use too. */
  connect(): Promise<void>;
  /** Resolves once every message is acknowledged by all in-sync replicas (acks = all); rejects otherwise. */
  send(topic: string, messages: readonly ProducedMessage[]): Promise<void>;
  /** Flushes nothing (send is synchronous with its acks) and closes connections; idempotent. */
  disconnect(): Promise<void>;
}

export interface ProducerSettings extends KafkaConnection {
  /** Per request. Default 10,000 ms. */
  readonly requestTimeoutMs?: number;
  /**
   * Idempotent producer (default true). librdkafka's mock cluster reports no controller broker, which
   * kafkajs' non-transactional InitProducerId needs: false there (delivery is at least once either way).
   */
  readonly idempotent?: boolean;
}

import type { Alert } from '../core/alert.ts';
import type { MessageProducer, ProducedMessage } from '../ingest/kafka/producer.ts';
import type { AlertSink } from './sink.ts';

export const DEFAULT_ALERTS_TOPIC = 'tile-alerts';

/**
 * One alert version as a Kafka message (pure): key = alert id (so every version of an alert lands
 * in one partition, in order, and a compacted topic keeps the newest), value = the alert JSON
 * (schemas/alert.schema.json), headers = kind, severity, version, status and content type.
 */
export function alertMessage(alert: Alert): ProducedMessage {
  return {
    key: alert.id,
    value: JSON.stringify(alert),
    headers: { kind: alert.kind, severity: alert.severity, version: String(alert.version), status: alert.status, 'content-type': 'application/json' },
  };
}

export interface KafkaSinkOptions {
  /** Default 'kafka'. */
  readonly name?: string;
  readonly producer: MessageProducer;
  /** Default 'tile-alerts'. */
  readonly topic?: string;
}

/** Publishes each alert version to a topic; the producer connects on first delivery and is closed by `close()`. */
export function createKafkaSink(opts: KafkaSinkOptions): AlertSink {
  const topic = opts.topic ?? DEFAULT_ALERTS_TOPIC;
  return {
    name: opts.name ?? 'kafka',
    async deliver(alert) {
      await opts.producer.send(topic, [alertMessage(alert)]);
    },
    async close() {
      await opts.producer.disconnect();
    },
  };
}

import type { Alert } from '../core/alert.ts';
import type { MessageProducer, ProducedMessage } from '../kafka/producer.ts';
import { incidentPageUrl } from './alertmanagerPayload.ts';
import { ecsAlert } from './ecsAlert.ts';
import { noticeIdempotencyKey, noticeOf } from './incidentNotice.ts';
import type { AlertSink } from './sink.ts';

export const DEFAULT_ALERTS_TOPIC = 'tile-alerts';

/**
 * One incident notice as a Kafka message (pure): key = incident id (every notice of an incident
 * lands in one partition, in order, and a compacted topic keeps its newest), value = the alert
 * version that caused the notice with its `incident` (schemas/alert.schema.json; as the webhook's
 * JSON body, with `incident.url` when the page's address is known), or with `format: 'ecs'` the
 * notice in Elastic Common Schema (ecsAlert.ts); headers = the incident (`incident`,
 * `incident-severity`, `incident-status`, `notice`, `alerts`, `incident-url` when known), the alert
 * (`alert`, `kind`, `severity`, `version`, `status`), `idempotency-key` (the same for every delivery
 * of this version, restarts included: {@link noticeIdempotencyKey}) and content type.
 */
export function alertMessage(alert: Alert, opts: { format?: 'json' | 'ecs'; webUrl?: string | null } = {}): ProducedMessage {
  const inc = noticeOf(alert);
  const url = opts.webUrl ? incidentPageUrl(opts.webUrl, inc.id) : null;
  return {
    key: inc.id,
    value: JSON.stringify(opts.format === 'ecs' ? ecsAlert(alert, { webUrl: opts.webUrl ?? null }) : { ...alert, incident: url ? { ...inc, url } : inc }),
    headers: {
      incident: inc.id,
      'incident-severity': inc.severity,
      'incident-status': inc.status,
      notice: inc.notice,
      alerts: String(inc.alerts),
      alert: alert.id,
      kind: alert.kind,
      severity: alert.severity,
      version: String(alert.version),
      status: alert.status,
      ...(url ? { 'incident-url': url } : {}),
      'idempotency-key': noticeIdempotencyKey(alert),
      'content-type': 'application/json',
    },
  };
}

export interface KafkaSinkOptions {
  /** Default 'kafka'. */
  readonly name?: string;
  readonly producer: MessageProducer;
  /** Default 'tile-alerts'. */
  readonly topic?: string;
  /** Message values: 'json' (the alert with its incident) or 'ecs' (ecsAlert.ts). Default 'json'. */
  readonly format?: 'json' | 'ecs';
  /** The web page (`sinks.webUrl`), for the link to the incident: `incident.url` and the `incident-url` header (ECS: `event.url`). */
  readonly webUrl?: string | null;
}

/** Publishes each incident notice to a topic; the producer connects on first delivery and is closed by `close()`. */
export function createKafkaSink(opts: KafkaSinkOptions): AlertSink {
  const topic = opts.topic ?? DEFAULT_ALERTS_TOPIC;
  return {
    name: opts.name ?? 'kafka',
    async deliver(alert) {
      await opts.producer.send(topic, [alertMessage(alert, { format: opts.format ?? 'json', webUrl: opts.webUrl ?? null })]);
    },
    async close() {
      await opts.producer.disconnect();
    },
  };
}

import { randomUUID } from 'node:crypto';
import type { Alert } from '../core/alert.ts';
import { slackMessage } from './alertText.ts';
import { incidentPageUrl } from './alertmanagerPayload.ts';
import { ecsAlert } from './ecsAlert.ts';
import type { Clock as SinkClock } from '../core/clock.ts';
import { postJson, type FetchFn } from './httpPost.ts';
import { noticeIdempotencyKey, noticeOf } from './incidentNotice.ts';
import type { AlertSink } from './sink.ts';
import { signWebhook } from './webhookSignature.ts';

export interface WebhookSinkOptions {
  /** Sink name for metrics and logs. Default 'webhook'. */
  readonly name?: string;
  readonly url: string;
  /** HMAC-SHA256 key for `X-Tilewatch-Signature` (see webhookSignature.ts). Never sent, logged or put in an error. */
  readonly secret: string;
  /**
   * 'json': the alert version with its incident; 'slack': `{ text }` with the notice summary and the
   * reasons; 'ecs': the notice in Elastic Common Schema field names (ecsAlert.ts). Default 'json'.
   */
  readonly format?: WebhookFormat;
  /** The web page (`sinks.webUrl`), for the link to the incident: `incident.url`, the Slack text's link, ECS `event.url`. */
  readonly webUrl?: string | null;
  /** Per attempt. Default 5,000 ms. */
  readonly timeoutMs?: number;
  readonly clock: Pick<SinkClock, 'now'>;
  /** Default: Node's global fetch (undici). */
  readonly fetch?: FetchFn;
  /** The nonce of each attempt; must never repeat. Default: a random UUID. */
  readonly nonce?: () => string;
}

export type WebhookFormat = 'json' | 'slack' | 'ecs';

/**
 * The request body for one incident notice, as sent (pure). JSON: the alert version that caused the
 * notice (schemas/alert.schema.json) with its `incident` (id, severity, status, alerts, notice) always
 * present — for a version that carries it, the version itself (incidentNotice.ts for the others) —
 * and, when the page's address is known, `incident.url`: `<webUrl>?incident=<id>`, the incident in
 * the web page. Slack: the text ends with that link. ECS: the notice as an Elastic Common Schema
 * document (ecsAlert.ts), the link in `event.url`.
 */
export function webhookBody(alert: Alert, format: WebhookFormat, webUrl: string | null = null): string {
  const inc = noticeOf(alert);
  const url = webUrl ? incidentPageUrl(webUrl, inc.id) : null;
  if (format === 'slack') {
    const m = slackMessage(alert);
    return JSON.stringify(url ? { text: `${m.text}\n<${url}|Open incident ${inc.id}>` } : m);
  }
  if (format === 'ecs') return JSON.stringify(ecsAlert(alert, { webUrl }));
  return JSON.stringify({ ...alert, incident: url ? { ...inc, url } : inc });
}

/** The notice's idempotency key (incidentNotice.ts {@link noticeIdempotencyKey}), the `Idempotency-Key` header. */
export function webhookIdempotencyKey(alert: Alert): string {
  return noticeIdempotencyKey(alert);
}

/**
 * POSTs each incident notice to a URL, signed with scheme v2 (webhookSignature.ts): every attempt
 * has its own timestamp and nonce, and all attempts of one notice share `Idempotency-Key:
 * <incident id>:<notice>:<alert id>:<version>`, which is signed too. 2xx is success; 5xx, 408, 429,
 * timeouts and network errors are retried by the dispatcher; other statuses are permanent failures.
 * Errors name the URL's scheme, host and port only (httpPost.ts).
 */
export function createWebhookSink(opts: WebhookSinkOptions): AlertSink {
  const fetchFn = opts.fetch ?? fetch;
  const format = opts.format ?? 'json';
  const timeoutMs = opts.timeoutMs ?? 5000;
  const nonce = opts.nonce ?? randomUUID;
  return {
    name: opts.name ?? 'webhook',
    async deliver(alert, signal) {
      const body = webhookBody(alert, format, opts.webUrl ?? null);
      const delivery = { idempotencyKey: webhookIdempotencyKey(alert), nonce: nonce() };
      const headers = { ...signWebhook(opts.secret, body, opts.clock.now(), delivery), 'user-agent': 'tilewatch' };
      await postJson(fetchFn, opts.url, body, headers, timeoutMs, signal);
    },
  };
}

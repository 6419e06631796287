import type { Alert } from '../core/alert.ts';
import { slackMessage } from './alertText.ts';
import type { SinkClock } from './clock.ts';
import { postJson, type FetchFn } from './httpPost.ts';
import type { AlertSink } from './sink.ts';
import { IDEMPOTENCY_HEADER, signWebhook } from './webhookSignature.ts';

export interface WebhookSinkOptions {
  /** Sink name for metrics and logs. Default 'webhook'. */
  readonly name?: string;
  readonly url: string;
  /** HMAC-SHA256 key for `X-Tilewatch-Signature` (see webhookSignature.ts). */
  readonly secret: string;
  /** 'json': the alert version itself; 'slack': `{ text }` with a one-line summary and the reasons. Default 'json'. */
  readonly format?: 'json' | 'slack';
  /** Per attempt. Default 5,000 ms. */
  readonly timeoutMs?: number;
  readonly clock: Pick<SinkClock, 'now'>;
  /** Default: Node's global fetch (undici). */
  readonly fetch?: FetchFn;
}

/** The request body for one alert version, as sent (pure). */
export function webhookBody(alert: Alert, format: 'json' | 'slack'): string {
  return JSON.stringify(format === 'slack' ? slackMessage(alert) : alert);
}

/**
 * POSTs each alert version to a URL, signed with a timestamp (fresh per attempt) and carrying
 * `Idempotency-Key: <id>:<version>` (the same on every attempt). 2xx is success; 5xx, 408, 429,
 * timeouts and network errors are retried by the dispatcher; other statuses are permanent failures.
 */
export function createWebhookSink(opts: WebhookSinkOptions): AlertSink {
  const fetchFn = opts.fetch ?? fetch;
  const format = opts.format ?? 'json';
  const timeoutMs = opts.timeoutMs ?? 5000;
  return {
    name: opts.name ?? 'webhook',
    async deliver(alert, signal) {
      const body = webhookBody(alert, format);
      const headers = { ...signWebhook(opts.secret, body, opts.clock.now()), [IDEMPOTENCY_HEADER]: `${alert.id}:${alert.version}`, 'user-agent': 'tilewatch' };
      await postJson(fetchFn, opts.url, body, headers, timeoutMs, signal);
    },
  };
}

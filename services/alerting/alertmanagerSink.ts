import type { Severity } from '../core/alert.ts';
import type { Clock as SinkClock } from '../core/clock.ts';
import { postJson, RetryableHttpError, type FetchFn } from './httpPost.ts';
import { noticeOf } from './incidentNotice.ts';
import { isPermanentSinkError, PermanentSinkError, type AlertSink } from './sink.ts';
import { toAlertmanagerAlerts } from './alertmanagerPayload.ts';

export interface AlertmanagerSinkOptions {
  /** Default 'alertmanager'. */
  readonly name?: string;
  /**
   * Base URLs of the Alertmanager instances (`http://am:9093`). An HA cluster needs every
   * instance to receive every alert (as Prometheus does); a version counts as delivered once all
   * accepted it, and a retry re-sends to all (posting the same alert again is idempotent).
   */
  readonly urls: readonly string[];
  /** The tilewatch web page (`https://tilewatch.example/`): `generatorURL` = `<webUrl>?incident=<id>`. Default: none. */
  readonly webUrl?: string;
  /** See {@link toAlertmanagerAlerts}. Default 7 days. */
  readonly openTtlMs?: number;
  readonly extraLabels?: Readonly<Record<string, string>>;
  /** Open incidents whose last sent severity is remembered (to end the old label set on a change). Default 10,000. */
  readonly rememberIncidents?: number;
  /** Sent as `Authorization: Bearer …` when set (Alertmanager behind a proxy). */
  readonly bearerToken?: string;
  /** Per request. Default 5,000 ms. */
  readonly timeoutMs?: number;
  readonly clock: Pick<SinkClock, 'now'>;
  readonly fetch?: FetchFn;
}

/**
 * Sends incident notices to Alertmanager's API v2 (`POST <url>/api/v2/alerts`), one Alertmanager
 * alert per incident (alertmanagerPayload.ts).
 */
export function createAlertmanagerSink(opts: AlertmanagerSinkOptions): AlertSink {
  if (opts.urls.length === 0) throw new Error('alertmanager sink: at least one URL is required');
  const fetchFn = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const endpoints = opts.urls.map((u) => `${u.replace(/\/+$/, '')}/api/v2/alerts`);
  const headers: Record<string, string> = { 'user-agent': 'tilewatch', ...(opts.bearerToken ? { authorization: `Bearer ${opts.bearerToken}` } : {}) };
  // Last severity label sent firing per open incident, oldest first (Map order); bounded, forgotten on resolution.
  const sent = new Map<string, Severity>();
  const remember = opts.rememberIncidents ?? 10_000;
  return {
    name: opts.name ?? 'alertmanager',
    async deliver(alert, signal) {
      const incident = noticeOf(alert);
      const previousSeverity = sent.get(incident.id);
      const body = JSON.stringify(
        toAlertmanagerAlerts(alert, {
          now: opts.clock.now(),
          ...(previousSeverity !== undefined ? { previousSeverity } : {}),
          ...(opts.openTtlMs !== undefined ? { openTtlMs: opts.openTtlMs } : {}),
          ...(opts.webUrl !== undefined ? { webUrl: opts.webUrl } : {}),
          ...(opts.extraLabels !== undefined ? { extraLabels: opts.extraLabels } : {}),
        }),
      );
      const results = await Promise.allSettled(endpoints.map((url) => postJson(fetchFn, url, body, headers, timeoutMs, signal)));
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
      if (errors.length === 0) {
        sent.delete(incident.id);
        if (incident.status === 'open') {
          sent.set(incident.id, incident.severity);
          if (sent.size > remember) sent.delete(sent.keys().next().value!);
        }
        return;
      }
      const message = errors.map((e) => e.message).join('; ');
      // Retry when any instance may still accept it; permanent only when every failure is.
      if (errors.every(isPermanentSinkError)) throw new PermanentSinkError(message);
      throw new RetryableHttpError(message);
    },
  };
}

import type { Logger } from 'pino';
import { noticeSummary } from './alertText.ts';
import { incidentPageUrl } from './alertmanagerPayload.ts';
import { ecsAlert } from './ecsAlert.ts';
import { noticeOf } from './incidentNotice.ts';
import type { AlertSink } from './sink.ts';

/**
 * Logs each incident notice as one pino line at `info` (`msg: "incident notice"`): the incident
 * (id, severity, status, notice, alerts, and `url` in the web page when `webUrl` is known), the alert that caused the notice, and `summary`
 * (`incident ti-… opened (high), 1 alert: HIGH bulk-harvest by …`). The user agent (untrusted) is
 * nested under `client`.
 */
export function createLogSink(logger: Logger, name = 'log', webUrl: string | null = null): AlertSink {
  // At info whatever the process log level (default warn): a configured sink is asked for its lines.
  const log = logger.child({ component: 'sink', sink: name }, { level: 'info' });
  return {
    name,
    deliver(a) {
      const inc = noticeOf(a);
      log.info(
        {
          incident: { id: inc.id, severity: inc.severity, status: inc.status, notice: inc.notice, alerts: inc.alerts, ...(webUrl ? { url: incidentPageUrl(webUrl, inc.id) } : {}) },
          alert: { id: a.id, version: a.version, kind: a.kind, severity: a.severity, score: a.score, status: a.status, detectedAt: a.detectedAt, resolvedAt: a.resolvedAt },
          client: { ip: a.client.ip, ips: a.client.ips.length, subnet: a.client.subnet, userAgent: a.client.userAgent },
          images: a.images.map((i) => i.id),
          summary: noticeSummary(a),
        },
        'incident notice',
      );
      return Promise.resolve();
    },
  };
}

/** Where ECS lines go: anything with `write` (the process's stderr by default). */
export interface LineOut {
  write(chunk: string): unknown;
}

/**
 * Writes each incident notice as one line of JSON in Elastic Common Schema field names (ecsAlert.ts),
 * nothing else on the line, so a log shipper (Filebeat, Elastic Agent, Fluent Bit, Vector) can index
 * it as it is. Written whatever the process log level: the sink was asked for.
 */
export function createEcsLogSink(out: LineOut, opts: { webUrl?: string | null; name?: string } = {}): AlertSink {
  return {
    name: opts.name ?? 'log',
    deliver(a) {
      out.write(`${JSON.stringify(ecsAlert(a, { webUrl: opts.webUrl ?? null }))}\n`);
      return Promise.resolve();
    },
  };
}

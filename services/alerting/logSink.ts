import type { Logger } from 'pino';
import { alertSummary } from './alertText.ts';
import type { AlertSink } from './sink.ts';

/**
 * Logs each alert version as one pino line at `info` (`msg: "alert"`), with the fields a log
 * pipeline filters on; the user agent (untrusted) is nested under `client`.
 */
export function createLogSink(logger: Logger, name = 'log'): AlertSink {
  const log = logger.child({ component: 'sink', sink: name });
  return {
    name,
    deliver(a) {
      log.info(
        {
          alert: { id: a.id, version: a.version, kind: a.kind, severity: a.severity, score: a.score, status: a.status, detectedAt: a.detectedAt, resolvedAt: a.resolvedAt },
          client: { ip: a.client.ip, ips: a.client.ips.length, subnet: a.client.subnet, userAgent: a.client.userAgent },
          images: a.images.map((i) => i.id),
          summary: alertSummary(a),
        },
        'alert',
      );
      return Promise.resolve();
    },
  };
}

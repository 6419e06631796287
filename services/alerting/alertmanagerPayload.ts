import { SEVERITIES, type Alert, type Severity } from '../core/alert.ts';
import { alertDescription, alertSummary, imageText } from './alertText.ts';

/** One element of the body of Alertmanager's `POST /api/v2/alerts` (postableAlert). */
export interface AlertmanagerAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL?: string;
}

export interface AlertmanagerPayloadOptions {
  /** Wall time (ms) the payload is built at. */
  readonly now: number;
  /** An open alert is sent with `endsAt = max(now, detectedAt) + openTtlMs`. Default 7 days. */
  readonly openTtlMs?: number;
  /** `generatorURL` = `<apiBaseUrl>/alerts/<id>`; left out when not set. */
  readonly apiBaseUrl?: string;
  /** Added to every alert's labels (e.g. `{ env: 'prod' }`); tilewatch's own labels win. */
  readonly extraLabels?: Readonly<Record<string, string>>;
  /**
   * Severity of the version sent before this one, when the sender remembers it; undefined when it
   * does not (first version, or after a restart).
   */
  readonly previousSeverity?: Severity;
}

/** Every alert kind raises the same alertname, so one Alertmanager route and group covers tilewatch; `kind` tells them apart. */
export const ALERTNAME = 'TileHarvesting';
export const DEFAULT_OPEN_TTL_MS = 7 * 24 * 3600 * 1000;

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Alert version → Alertmanager alerts (pure).
 *
 * Labels (the alert's identity in Alertmanager, so they are stable for an alert id except severity):
 * `alertname=TileHarvesting`, `service=tilewatch`, `kind`, `severity`, `subnet` (client /24 or /48),
 * `client` (the client address) and `alert_id`; empty values are left out. Group by `kind`,
 * `subnet` or `severity` in the Alertmanager route; `alert_id` keeps each alert distinct.
 * Annotations: `summary` (one line), `description` (the measured reasons), `images` (exposure per
 * image), `user_agent`, `first_seen`, `last_seen`, `evidence`, `version`.
 *
 * Times: `startsAt` = detectedAt. A resolution has `endsAt` = resolvedAt. An open alert has an
 * explicit `endsAt` far enough ahead (`openTtlMs`, default 7 days): tilewatch sends a version only
 * when the alert changes, not on a heartbeat, so Alertmanager's `resolve_timeout` (5 min, applied
 * when endsAt is missing) would resolve a still-open alert; the TTL still ends alerts left open if
 * tilewatch dies before resolving them.
 *
 * Severity is a label, and it may rise between versions; Alertmanager would then hold two alerts
 * (old and new severity). So a version whose severity differs from `previousSeverity` also carries
 * the alert under the previous severity, already ended (`endsAt` = a minute ago, not before
 * startsAt). When the previous severity is unknown (after a restart) a later version ends every
 * lower severity instead (the detector only raises severity); Alertmanager lists those in resolved
 * notifications of the group, a small price for never leaving a stale severity firing. Likewise a resolution only ends the alert in Alertmanager when resolvedAt is in the past by
 * Alertmanager's clock — true of event time unless the log clocks run ahead.
 */
export function toAlertmanagerAlerts(alert: Alert, opts: AlertmanagerPayloadOptions): AlertmanagerAlert[] {
  const startsMs = Date.parse(alert.detectedAt);
  const startsAt = Number.isNaN(startsMs) ? iso(opts.now) : iso(startsMs);
  const startMs = Date.parse(startsAt);
  // Alertmanager rejects endsAt before startsAt (HTTP 400); event time may run ahead of wall time.
  const resolvedMs = alert.status === 'resolved' ? Date.parse(alert.resolvedAt ?? alert.lastSeen) : Number.NaN;
  const endsMs =
    alert.status === 'resolved'
      ? Math.max(startMs, Number.isNaN(resolvedMs) ? opts.now : resolvedMs)
      : Math.max(startMs, opts.now) + (opts.openTtlMs ?? DEFAULT_OPEN_TTL_MS);
  const base = opts.apiBaseUrl?.replace(/\/+$/, '');
  const labels = alertmanagerLabels(alert, opts.extraLabels);
  const annotations: Record<string, string> = {
    summary: alertSummary(alert),
    description: alertDescription(alert),
    images: alert.images.map(imageText).join('\n'),
    user_agent: alert.client.userAgent,
    first_seen: alert.firstSeen,
    last_seen: alert.lastSeen,
    evidence: `${alert.evidence.source} lines ${alert.evidence.firstLine}-${alert.evidence.lastLine}`,
    version: String(alert.version),
  };
  for (const k of Object.keys(annotations)) if (annotations[k] === '') delete annotations[k];
  const main: AlertmanagerAlert = {
    labels,
    annotations,
    startsAt,
    endsAt: iso(endsMs),
    ...(base ? { generatorURL: `${base}/alerts/${encodeURIComponent(alert.id)}` } : {}),
  };
  const rank = SEVERITIES.indexOf(alert.severity);
  const ended: readonly Severity[] =
    opts.previousSeverity !== undefined
      ? opts.previousSeverity === alert.severity
        ? []
        : [opts.previousSeverity]
      : alert.version > 1
        ? SEVERITIES.slice(0, rank)
        : [];
  if (ended.length === 0) return [main];
  // A minute in the past: Alertmanager only lets an update shorten an explicit endsAt when the new
  // endsAt is already over by its own clock (otherwise the later endsAt wins), so allow for skew.
  const endedNow = iso(Math.max(startMs, opts.now - 60_000));
  return [main, ...ended.map((severity) => ({ ...main, labels: { ...labels, severity }, endsAt: endedNow }))];
}

/** The label set of an alert version (see {@link toAlertmanagerAlerts}). */
export function alertmanagerLabels(alert: Alert, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const own: Record<string, string> = {
    alertname: ALERTNAME,
    service: 'tilewatch',
    kind: alert.kind,
    severity: alert.severity,
    subnet: alert.client.subnet,
    client: alert.client.ip,
    alert_id: alert.id,
  };
  const labels: Record<string, string> = { ...extra, ...own };
  for (const k of Object.keys(labels)) if (labels[k] === '') delete labels[k];
  return labels;
}

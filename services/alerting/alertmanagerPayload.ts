import { SEVERITIES, type Alert, type Severity } from '../core/alert.ts';
import { alertDescription, imageText, noticeSummary } from './alertText.ts';
import { noticeOf } from './incidentNotice.ts';

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
  /** An open incident is sent with `endsAt = max(now, detectedAt) + openTtlMs`. Default 7 days. */
  readonly openTtlMs?: number;
  /** The tilewatch web page; `generatorURL` = {@link incidentPageUrl}. Left out when not set. */
  readonly webUrl?: string;
  /** Added to every alert's labels (e.g. `{ env: 'prod' }`); tilewatch's own labels win. */
  readonly extraLabels?: Readonly<Record<string, string>>;
  /**
   * The `severity` label this incident was last sent under as firing, when the sender remembers it;
   * undefined when it does not (first notice, or after a restart).
   */
  readonly previousSeverity?: Severity;
}

/** Every incident raises the same alertname, so one Alertmanager route covers tilewatch's incidents. */
export const ALERTNAME = 'TilewatchIncident';
export const DEFAULT_OPEN_TTL_MS = 7 * 24 * 3600 * 1000;

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The web page opened on one incident: `<webUrl>?incident=<id>` (a path without a trailing slash
 * gets one, other query parameters are kept). The page reads the `incident` parameter.
 */
export function incidentPageUrl(webUrl: string, id: string): string {
  const u = new URL(webUrl);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  u.searchParams.set('incident', id);
  return u.toString();
}

/**
 * One incident notice → Alertmanager alerts (pure). One Alertmanager alert stands for one incident.
 *
 * Labels (the alert's identity, hence its fingerprint): `alertname=TilewatchIncident`,
 * `service=tilewatch`, `incident_id`, `severity` (the incident's). They are the same for every
 * notice of an incident at one severity, so Alertmanager updates one alert instead of adding one per
 * notice; group by `incident_id` in the route. What varies between notices (the kind, client and
 * images of the alert that caused it) is in annotations: `summary` (`incident ti-… escalated
 * (critical), 3 alerts: …`), `description` (that alert's measured reasons), `notice`, `alerts`
 * (members so far), `kind`, `alert_id`, `alert_version`, `client`, `subnet`, `user_agent`, `images`,
 * `first_seen`, `last_seen`, `evidence`.
 *
 * Severity is a label on purpose: routes page on it, and Alertmanager notifies a group again only
 * when the set of its firing alerts changes, never for new annotations — so an escalation that kept
 * the fingerprint would page nobody. An escalation therefore sends the incident under its new
 * severity and, in the same request, ends it under the previous one (`endsAt` a minute ago, not
 * before startsAt): one alert stays active per incident. When the previous severity is unknown
 * (after a restart) an escalation ends every lower severity instead (an incident's severity only
 * rises); Alertmanager lists those in the group's resolved notifications, a small price for never
 * leaving a stale severity firing.
 *
 * Times: `startsAt` = detectedAt of the alert behind the notice (Alertmanager keeps the earliest
 * startsAt of an alert it already holds). An open incident has an explicit `endsAt` far enough
 * ahead (`openTtlMs`, default 7 days): tilewatch sends an incident on its notices, not on a
 * heartbeat, so Alertmanager's `resolve_timeout` (5 min, applied when endsAt is missing) would
 * resolve it; the TTL still ends incidents left open if tilewatch dies before resolving them. The
 * `resolved` notice ends the alert the incident was last paged under (`previousSeverity`; unknown:
 * its severity now and every lower one) with `endsAt` = resolvedAt — which only ends it in
 * Alertmanager when resolvedAt is in the past by Alertmanager's clock, true of event time unless the
 * log clocks run ahead.
 */
export function toAlertmanagerAlerts(alert: Alert, opts: AlertmanagerPayloadOptions): AlertmanagerAlert[] {
  const inc = noticeOf(alert);
  const resolved = inc.status === 'resolved';
  const startsMs = Date.parse(alert.detectedAt);
  const startsAt = Number.isNaN(startsMs) ? iso(opts.now) : iso(startsMs);
  const startMs = Date.parse(startsAt);
  // Alertmanager rejects endsAt before startsAt (HTTP 400); event time may run ahead of wall time.
  const resolvedMs = resolved ? Date.parse(alert.resolvedAt ?? alert.lastSeen) : Number.NaN;
  const endsMs = resolved
    ? Math.max(startMs, Number.isNaN(resolvedMs) ? opts.now : resolvedMs)
    : Math.max(startMs, opts.now) + (opts.openTtlMs ?? DEFAULT_OPEN_TTL_MS);
  const severity = resolved ? (opts.previousSeverity ?? inc.severity) : inc.severity;
  const labels = alertmanagerLabels(inc.id, severity, opts.extraLabels);
  const annotations: Record<string, string> = {
    summary: noticeSummary(alert),
    description: alertDescription(alert),
    notice: inc.notice,
    alerts: String(inc.alerts),
    kind: alert.kind,
    alert_id: alert.id,
    alert_version: String(alert.version),
    client: alert.client.ip,
    subnet: alert.client.subnet,
    // Network context (empty, hence left out, when unknown).
    asn: alert.client.network && alert.client.network.asn > 0 ? `AS${alert.client.network.asn} ${alert.client.network.org}`.trim() : '',
    network_kind: alert.client.network && alert.client.network.kind !== 'unknown' ? alert.client.network.kind : '',
    user_agent: alert.client.userAgent,
    images: alert.images.map(imageText).join('\n'),
    first_seen: alert.firstSeen,
    last_seen: alert.lastSeen,
    evidence: `${alert.evidence.source} lines ${alert.evidence.firstLine}-${alert.evidence.lastLine}`,
  };
  for (const k of Object.keys(annotations)) if (annotations[k] === '') delete annotations[k];
  const main: AlertmanagerAlert = {
    labels,
    annotations,
    startsAt,
    endsAt: iso(endsMs),
    ...(opts.webUrl ? { generatorURL: incidentPageUrl(opts.webUrl, inc.id) } : {}),
  };
  const rank = SEVERITIES.indexOf(severity);
  const ended: readonly Severity[] =
    opts.previousSeverity !== undefined
      ? opts.previousSeverity === severity
        ? []
        : [opts.previousSeverity]
      : inc.notice === 'opened'
        ? []
        : SEVERITIES.slice(0, rank);
  if (ended.length === 0) return [main];
  // A resolution ends them all at resolvedAt. Otherwise a minute in the past: Alertmanager only lets
  // an update shorten an explicit endsAt when the new endsAt is already over by its own clock (else
  // the later endsAt wins), so allow for skew.
  const endedAt = resolved ? main.endsAt : iso(Math.max(startMs, opts.now - 60_000));
  return [main, ...ended.map((s) => ({ ...main, labels: alertmanagerLabels(inc.id, s, opts.extraLabels), endsAt: endedAt }))];
}

/** The label set of an incident at one severity (see {@link toAlertmanagerAlerts}). */
export function alertmanagerLabels(incidentId: string, severity: Severity, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { ...extra, alertname: ALERTNAME, service: 'tilewatch', incident_id: incidentId, severity };
}

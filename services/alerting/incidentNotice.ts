import type { Alert, AlertIncident, Severity } from '../core/alert.ts';
import { incidentId, type IncidentNotice } from '../core/incidents/incidentCorrelator.ts';

/** The incident a version announces, with its notice always set. */
export interface NoticedIncident extends AlertIncident {
  readonly notice: IncidentNotice;
}

/**
 * The incident the sinks speak about for one version (pure).
 *
 * Versions reach the sinks only when their incident opens, escalates or resolves, and then carry
 * `incident` with its `notice`. A version without an incident (stored before incidents, or handed to
 * a sink by a caller that does not correlate) is an incident of its own: the id the correlator gives
 * an incident that alert opened (`ti-` + the alert's digest), the alert's severity and status, one
 * alert. A missing notice is 'resolved' for a resolved incident and 'opened' otherwise, so every
 * payload names one.
 */
export function noticeOf(a: Alert): NoticedIncident {
  const inc: AlertIncident = a.incident ?? { id: incidentId(a.id), severity: a.severity, status: a.status, alerts: 1 };
  return { ...inc, notice: inc.notice ?? (inc.status === 'resolved' ? 'resolved' : 'opened') };
}

/** The severity sinks filter and route on: the incident's, which is the highest of its alerts'. */
export function noticeSeverity(a: Alert): Severity {
  return a.incident?.severity ?? a.severity;
}

/**
 * `<incident id>:<notice>:<alert id>:<version>`: names one notice of one incident and the alert
 * version that caused it. Every delivery of that version (retries, and again after a restart, from
 * the outbox) carries the same key, so a receiver that dedupes on it handles each notice once: the
 * webhook's `Idempotency-Key` header, the Kafka message's `idempotency-key` header.
 */
export function noticeIdempotencyKey(alert: Alert): string {
  const inc = noticeOf(alert);
  return `${inc.id}:${inc.notice}:${alert.id}:${alert.version}`;
}

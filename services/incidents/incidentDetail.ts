/**
 * One incident with its alerts (newest version each, reasons, actions), and analyst actions on an
 * incident: acknowledge, mute, resolve or reopen every alert in it at once (one `alert_actions` row
 * each, written in one insert), so an incident's effective status follows its alerts'.
 */
import type { Store } from '../store/openStore.ts';
import { incidentAlerts, recordAlertActions, type AlertAction, type AlertDetail } from './alerts.ts';
import { incidentAlertIds, resolveIncidentId, selectIncidents, toIncident, type IncidentSummary } from './incidentView.ts';

/** Alerts shown with an incident (an incident holding more is listed with its first ones; all are counted). */
export const MAX_INCIDENT_ALERTS = 500;

export interface IncidentDetail {
  readonly incident: IncidentSummary;
  /** Oldest detection first; as GET /alerts/:id shows each (viewers: redacted, no detector document). */
  readonly alerts: readonly AlertDetail[];
}

/** The incident `id` names (an incident id, or the id of an alert in it), or null. */
export async function getIncident(store: Store, id: string, opts: { now: number; withClient: boolean }): Promise<IncidentDetail | null> {
  const inc = await resolveIncidentId(store, id, opts.now);
  if (inc === null) return null;
  const [row] = await selectIncidents(store, { ids: [inc], limit: 1 }, opts.now);
  if (!row) return null;
  const alerts = await incidentAlerts(store, inc, { ...opts, limit: MAX_INCIDENT_ALERTS });
  return { incident: toIncident(row, opts.withClient), alerts };
}

/**
 * Records `action` on every alert of the incident `id` names (alerts that join it later are not
 * covered). Returns the incident's id, or null when there is no such incident.
 */
export async function recordIncidentAction(
  store: Store,
  a: { id: string; action: AlertAction; actor: string; note: string; muteUntil?: number; now: number },
): Promise<string | null> {
  const inc = await resolveIncidentId(store, a.id, a.now);
  if (inc === null) return null;
  const ids = await incidentAlertIds(store, inc, a.now);
  if (ids.length === 0) return null;
  await recordAlertActions(store, { ids, action: a.action, actor: a.actor, note: a.note, now: a.now, ...(a.muteUntil !== undefined ? { muteUntil: a.muteUntil } : {}) });
  return inc;
}

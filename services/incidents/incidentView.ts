/**
 * Incidents as analysts triage them, built from the newest version of every alert (ALERTS_VIEW):
 * an incident is the set of alerts whose newest version names it (`inc_id`; an alert stored before
 * incidents is its own). Its severity is the highest of its alerts' and of the incident severity
 * they carry (which includes alerts merged in); it is `resolved` when every alert in it is resolved
 * — by the detector or by an analyst — and `open` otherwise. Activity is the newest `last_seen`.
 *
 * Without `withClient` (viewers) an incident carries no addresses, only their number.
 *
 * Known limit: when the correlator merges two open incidents, the alerts of the absorbed one keep
 * naming it until they get a new version, so both are listed until then (as after a restart of the
 * correlator, which restores incidents from the same versions).
 */
import { SEVERITIES, type AlertKind, type Severity } from '../core/alert.ts';
import type { Store } from '../store/openStore.ts';
import { fromIpv6Text, toIpv6Text } from '../store/clientIp.ts';
import { ALERTS_VIEW, type EffectiveStatus } from './alerts.ts';
import { readRows } from '../store/sql.ts';
import { iso } from './iso.ts';

export type IncidentStatus = 'open' | 'resolved';
export const INCIDENT_STATUSES: readonly IncidentStatus[] = ['open', 'resolved'];

/** Members listed per incident (all are counted in `alertCount`). */
export const MAX_LISTED_ALERTS = 100;
/** Addresses and images listed per incident (all are counted). */
export const MAX_LISTED_ADDRESSES = 100;
export const MAX_LISTED_IMAGES = 50;

export interface IncidentSummary {
  /** `ti-` + the digest of its first alert's id. */
  readonly id: string;
  readonly severity: Severity;
  readonly status: IncidentStatus;
  /** Earliest detection among its alerts. */
  readonly firstDetected: string;
  /** Newest evidence among its alerts (the recency the list is ranked by). */
  readonly lastSeen: string;
  readonly alertCount: number;
  /** Its alerts by effective status (open, acknowledged, muted, resolved). */
  readonly alertsByStatus: Readonly<Record<EffectiveStatus, number>>;
  /** The first {@link MAX_LISTED_ALERTS} alerts, oldest detection first. */
  readonly alerts: ReadonlyArray<{ readonly id: string; readonly kind: AlertKind; readonly severity: Severity; readonly status: EffectiveStatus }>;
  /** Every kind among its alerts. */
  readonly kinds: readonly AlertKind[];
  /** Accused addresses (analysts and admins only), at most {@link MAX_LISTED_ADDRESSES}. */
  readonly addresses?: readonly string[];
  readonly addressCount: number;
  readonly imageIds: readonly string[];
  readonly imageCount: number;
}

export interface IncidentSelection {
  /** Only these incidents (ids). */
  readonly ids?: readonly string[];
  /** An alert of this kind among its members. */
  readonly kind?: string;
  readonly severity?: string;
  readonly status?: IncidentStatus;
  /** Continue after this position of the ranking (severity rank, last seen ms, id). */
  readonly after?: { readonly rank: number; readonly lastMs: number; readonly id: string };
  readonly limit: number;
}

export interface IncidentRow {
  id: string;
  sev_rank: number;
  status: IncidentStatus;
  first_ms: number;
  last_ms: number;
  alert_count: number;
  n_open: number;
  n_acknowledged: number;
  n_muted: number;
  n_resolved: number;
  members: Array<[number, string, AlertKind, Severity, EffectiveStatus]>;
  kinds: AlertKind[];
  addresses: string[];
  image_ids: string[];
  image_count: number;
}

/** `indexOf` in SEVERITIES order: -1 for '' (a version stored before incidents has no incident severity). */
const RANK = (col: string): string => `indexOf(['low', 'medium', 'high', 'critical'], ${col}) - 1`;

/**
 * One row per incident (params: now, only: ids or [] for all). Addresses: the accused ones
 * (client_ips, else the alert's client), never the image-exposure placeholder '::'.
 */
const INCIDENTS_SQL = `SELECT inc_id,
    max(greatest(${RANK('severity')}, ${RANK('inc_severity')})) AS sev_rank,
    if(countIf(eff_status != 'resolved') > 0, 'open', 'resolved') AS inc_status,
    min(detected_ms) AS first_detected_ms, max(last_ms) AS last_activity_ms, count() AS alert_count,
    countIf(eff_status = 'open') AS n_open, countIf(eff_status = 'acknowledged') AS n_acknowledged,
    countIf(eff_status = 'muted') AS n_muted, countIf(eff_status = 'resolved') AS n_resolved,
    arraySlice(arraySort(groupArray((detected_ms, id, kind, severity, eff_status))), 1, ${MAX_LISTED_ALERTS}) AS members,
    arraySort(groupUniqArray(kind)) AS kinds,
    arraySort(arrayFilter(x -> x NOT IN ('', '::'), groupUniqArrayArray(if(empty(client_ips), [ip], client_ips)))) AS addresses,
    arraySort(groupUniqArrayArray(image_ids)) AS all_images,
    arraySlice(all_images, 1, ${MAX_LISTED_IMAGES}) AS listed_images, length(all_images) AS image_count
  FROM (${ALERTS_VIEW})
  WHERE empty({only:Array(String)}) OR has({only:Array(String)}, inc_id)
  GROUP BY inc_id`;

const SELECTED_SQL = `SELECT inc_id AS id, sev_rank, inc_status AS status, first_detected_ms AS first_ms, last_activity_ms AS last_ms, alert_count,
    n_open, n_acknowledged, n_muted, n_resolved, members, kinds, addresses, listed_images AS image_ids, image_count
  FROM (${INCIDENTS_SQL})
  WHERE ({kind:String} = '' OR has(kinds, {kind:String}))
    AND ({sev:Int8} < 0 OR sev_rank = {sev:Int8})
    AND ({status:String} = '' OR inc_status = {status:String})
    AND ({hasAfter:UInt8} = 0 OR (sev_rank, last_activity_ms, inc_id) < ({aRank:Int8}, {aLast:Int64}, {aId:String}))
  ORDER BY sev_rank DESC, last_activity_ms DESC, inc_id DESC
  LIMIT {limit:UInt32}`;

export function severityRank(s: string): number {
  return SEVERITIES.indexOf(s as Severity);
}

/** Incidents ranked by severity (critical first), then latest activity, then id. */
export async function selectIncidents(store: Store, sel: IncidentSelection, now: number): Promise<IncidentRow[]> {
  return readRows<IncidentRow>(store.client, SELECTED_SQL, {
    now,
    only: [...(sel.ids ?? [])],
    kind: sel.kind ?? '',
    sev: sel.severity ? severityRank(sel.severity) : -1,
    status: sel.status ?? '',
    hasAfter: sel.after ? 1 : 0,
    aRank: sel.after?.rank ?? 0,
    aLast: sel.after?.lastMs ?? 0,
    aId: sel.after?.id ?? '',
    limit: sel.limit,
  });
}

/** Open incidents per severity (every severity present, zero when none). */
export async function openIncidentCounts(store: Store, now: number): Promise<Record<Severity, number>> {
  const rows = await readRows<{ sev_rank: number; n: number }>(store.client, `SELECT sev_rank, count() AS n FROM (${INCIDENTS_SQL}) WHERE inc_status = 'open' GROUP BY sev_rank`, { now, only: [] });
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const r of rows) {
    const s = SEVERITIES[r.sev_rank];
    if (s) counts[s] += r.n;
  }
  return counts;
}

export function toIncident(r: IncidentRow, withClient: boolean): IncidentSummary {
  const addresses = [...new Set(r.addresses.map(fromIpv6Text))];
  return {
    id: r.id,
    severity: SEVERITIES[Math.max(0, r.sev_rank)]!,
    status: r.status,
    firstDetected: iso(r.first_ms),
    lastSeen: iso(r.last_ms),
    alertCount: r.alert_count,
    alertsByStatus: { open: r.n_open, acknowledged: r.n_acknowledged, muted: r.n_muted, resolved: r.n_resolved },
    alerts: r.members.map(([, id, kind, severity, status]) => ({ id, kind, severity, status })),
    kinds: r.kinds,
    ...(withClient ? { addresses: addresses.slice(0, MAX_LISTED_ADDRESSES) } : {}),
    addressCount: addresses.length,
    imageIds: r.image_ids,
    imageCount: r.image_count,
  };
}

/** The incident an id names: an incident id as it is, an alert id (`tw-…`, old links) the incident of that alert; null when unknown. */
export async function resolveIncidentId(store: Store, id: string, now: number): Promise<string | null> {
  const rows = await readRows<{ inc_id: string }>(store.client, `SELECT inc_id FROM (${ALERTS_VIEW}) WHERE id = {id:String} OR inc_id = {id:String} ORDER BY id = {id:String} DESC LIMIT 1`, { now, id });
  return rows[0]?.inc_id ?? null;
}

/** The ids of the alerts in an incident (newest version each names it). */
export async function incidentAlertIds(store: Store, incidentId: string, now: number): Promise<string[]> {
  const rows = await readRows<{ id: string }>(store.client, `SELECT id FROM (${ALERTS_VIEW}) WHERE inc_id = {inc:String} ORDER BY id`, { now, inc: incidentId });
  return rows.map((r) => r.id);
}

/**
 * The incidents whose alerts accuse each of `ips` (display form) and saw activity since `since`:
 * address → incident ids (sorted). Addresses in no such incident are absent.
 */
export async function incidentsByAddress(store: Store, ips: readonly string[], opts: { since: number; now: number }): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (ips.length === 0) return out;
  const forms = [...new Set(ips.flatMap((ip) => [ip, toIpv6Text(ip)]))];
  const rows = await readRows<{ addr: string; incs: string[] }>(
    store.client,
    `SELECT addr, groupUniqArray(inc_id) AS incs FROM (
       SELECT inc_id, last_ms, arrayJoin(if(empty(client_ips), [ip], client_ips)) AS addr FROM (${ALERTS_VIEW})
     ) WHERE addr IN {addrs:Array(String)} AND last_ms >= {since:Int64} GROUP BY addr`,
    { now: opts.now, addrs: forms, since: opts.since },
  );
  for (const r of rows) {
    const ip = fromIpv6Text(r.addr);
    out.set(ip, [...new Set([...(out.get(ip) ?? []), ...r.incs])].sort());
  }
  return out;
}

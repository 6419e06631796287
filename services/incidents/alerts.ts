/**
 * Alerts as analysts see them: the detector's newest version (alerts FINAL) with the effective
 * status from `alert_actions` — the newest action wins (a mute only while `mute_until` is ahead of
 * the clock), otherwise the detector's own status.
 *
 * Without `withClient` (viewers) an alert carries no client fields, no detector document and no
 * actor names, and its free text (reasons, action notes) passes through {@link redactPersonalData}
 * with the alert's own client values: viewers never see an IP, a subnet or a user agent.
 */
import type { Alert, AlertKind, AlertNetwork, Severity } from '../core/alert.ts';
import type { Store } from '../store/openStore.ts';
import { fromIpv6Text } from '../store/clientIp.ts';
import { canonicalIp } from '../core/logformat/canonicalIp.ts';
import { InvalidInputError } from './inputs.ts';
import { redactPersonalData, type RedactionValues } from './redact.ts';
import { readRows, execute } from '../store/sql.ts';
import { iso } from './iso.ts';

export type EffectiveStatus = 'open' | 'acknowledged' | 'muted' | 'resolved';
export const EFFECTIVE_STATUSES: readonly EffectiveStatus[] = ['open', 'acknowledged', 'muted', 'resolved'];
export type AlertAction = 'acknowledge' | 'mute' | 'resolve' | 'reopen';

export interface AlertSummary {
  readonly id: string;
  readonly version: number;
  readonly kind: AlertKind;
  readonly severity: Severity;
  readonly score: number;
  readonly status: EffectiveStatus;
  readonly detectorStatus: string;
  readonly firstSeen: string;
  readonly detectedAt: string;
  readonly lastSeen: string;
  readonly imageIds: readonly string[];
  /** The reasons in one line; for viewers with IPs, networks and user agents redacted. */
  readonly reasons: string;
  /** Present for analysts and admins only. */
  readonly client?: { readonly ip: string; readonly ips: readonly string[]; readonly userAgent: string; readonly subnet: string };
  readonly mutedUntil: string | null;
  readonly lastAction: { readonly action: string; readonly at: string } | null;
  /** The incident this alert belongs to (`ti-…`; an alert stored before incidents is its own incident). */
  readonly incidentId: string;
  /**
   * Network context of the alert's client (ASN, organisation, hosting provider or not); null for
   * versions stored before it. Shown to every role: it names a network operator, not a person.
   */
  readonly network: AlertNetwork | null;
}

export interface AlertFilter {
  readonly kind?: string;
  readonly severity?: string;
  readonly status?: EffectiveStatus;
  /** Client IP (IPv6 column form) — analysts only. */
  readonly client?: { text: string; v6: string };
  readonly from?: number;
  readonly to?: number;
  readonly cursor?: string;
  readonly limit: number;
}

interface Row {
  id: string;
  version: number;
  kind: AlertKind;
  severity: Severity;
  score: number;
  ip: string;
  client_ips: string[];
  user_agent: string;
  subnet: string;
  first_ms: number;
  detected_ms: number;
  last_ms: number;
  image_ids: string[];
  reasons: string;
  detector_status: string;
  eff_status: EffectiveStatus;
  action: string;
  action_ms: number;
  mute_until_ms: number;
  /** The detector document's `subject` (hunts: the client, 'net:<cidr>', 'ua:<user agent>' or the image id). */
  subject: string;
  /** The incident of the newest version; '' in versions stored before incidents → the alert's own. */
  inc_id: string;
  /** `client.network` of the detector document as JSON ('' when absent). */
  network_json: string;
  body?: string;
}

/**
 * The newest version of every alert with its effective status (needs {now:Int64}) and its incident
 * (`inc_id`: the stored one, or for versions stored before incidents `ti-` + the alert's digest, as
 * services/core/incidents/incidentCorrelator.ts derives it). The incident queries read this too.
 */
export const ALERTS_VIEW = `SELECT a.id AS id, a.version AS version, a.kind AS kind, a.severity AS severity, round(a.score, 2) AS score,
    toString(a.client) AS ip, a.client_ips AS client_ips, a.user_agent AS user_agent, a.subnet AS subnet,
    toUnixTimestamp64Milli(a.first_seen) AS first_ms, toUnixTimestamp64Milli(a.detected_at) AS detected_ms,
    toUnixTimestamp64Milli(a.last_seen) AS last_ms, a.image_ids AS image_ids, a.reasons AS reasons, a.body AS body,
    JSONExtractString(a.body, 'subject') AS subject, JSONExtractRaw(a.body, 'client', 'network') AS network_json,
    if(a.incident_id = '', concat('ti-', replaceRegexpOne(a.id, '^tw-', '')), a.incident_id) AS inc_id,
    toString(a.incident_severity) AS inc_severity,
    toString(a.status) AS detector_status, x.action AS action, x.action_ms AS action_ms, x.mute_until_ms AS mute_until_ms,
    multiIf(x.action = 'acknowledge', 'acknowledged', x.action = 'mute' AND x.mute_until_ms > {now:Int64}, 'muted',
            x.action = 'resolve', 'resolved', x.action = 'reopen', 'open', toString(a.status)) AS eff_status
  FROM alerts AS a FINAL
  LEFT JOIN (
    SELECT alert_id, toString(argMax(action, at)) AS action, toUnixTimestamp64Milli(max(at)) AS action_ms,
           argMax(ifNull(toUnixTimestamp64Milli(mute_until), 0), at) AS mute_until_ms
    FROM alert_actions GROUP BY alert_id
  ) AS x ON x.alert_id = a.id`;

const COLS = 'id, version, kind, severity, score, ip, client_ips, user_agent, subnet, first_ms, detected_ms, last_ms, image_ids, reasons, detector_status, eff_status, action, action_ms, mute_until_ms, subject, inc_id, network_json';

/** The alert's own personal values (to redact wherever they occur) and its image ids (shown anyway, kept). */
function personalValues(r: Row): RedactionValues {
  const subject = r.subject;
  const subjectIp = subject !== '' && canonicalIp(subject) !== null ? [subject] : [];
  return {
    ips: [r.ip, fromIpv6Text(r.ip), ...r.client_ips, ...subjectIp],
    networks: [r.subnet, ...(subject.startsWith('net:') ? [subject.slice(4)] : [])],
    userAgents: [r.user_agent, ...(subject.startsWith('ua:') ? [subject.slice(3)] : [])],
    keep: r.image_ids,
  };
}

function toSummary(r: Row, withClient: boolean): AlertSummary {
  return {
    id: r.id,
    version: r.version,
    kind: r.kind,
    severity: r.severity,
    score: r.score,
    status: r.eff_status,
    detectorStatus: r.detector_status,
    firstSeen: iso(r.first_ms),
    detectedAt: iso(r.detected_ms),
    lastSeen: iso(r.last_ms),
    imageIds: r.image_ids,
    reasons: withClient ? r.reasons : redactPersonalData(r.reasons, personalValues(r)),
    ...(withClient ? { client: { ip: fromIpv6Text(r.ip), ips: r.client_ips, userAgent: r.user_agent, subnet: r.subnet } } : {}),
    mutedUntil: r.eff_status === 'muted' ? iso(r.mute_until_ms) : null,
    lastAction: r.action ? { action: r.action, at: iso(r.action_ms) } : null,
    incidentId: r.inc_id,
    network: networkOf(r.network_json),
  };
}

/** The stored `client.network`, or null when the version has none (or it is not what it should be). */
function networkOf(json: string): AlertNetwork | null {
  if (json === '') return null;
  try {
    const n = JSON.parse(json) as Partial<AlertNetwork>;
    if (typeof n.asn !== 'number' || typeof n.org !== 'string' || (n.kind !== 'hosting' && n.kind !== 'residential/other' && n.kind !== 'unknown')) return null;
    return n.provider !== undefined ? { asn: n.asn, org: n.org, kind: n.kind, provider: String(n.provider) } : { asn: n.asn, org: n.org, kind: n.kind };
  } catch {
    return null;
  }
}

export function encodeCursor(detectedMs: number, id: string): string {
  return Buffer.from(JSON.stringify([detectedMs, id])).toString('base64url');
}

export function decodeCursor(cursor: string): { t: number; id: string } {
  try {
    if (cursor.length > 300) throw new Error('long');
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(v[1])) {
      return { t: v[0] as number, id: v[1] };
    }
  } catch {
    /* fall through */
  }
  throw new InvalidInputError('cursor is not one this API issued');
}

/** Newest first (detected_at, then id); `nextCursor` continues after the last item. */
export async function listAlerts(store: Store, f: AlertFilter, opts: { now: number; withClient: boolean }): Promise<{ items: AlertSummary[]; nextCursor: string | null }> {
  const c = f.cursor !== undefined ? decodeCursor(f.cursor) : null;
  const rows = await readRows<Row>(
    store.client,
    `SELECT ${COLS} FROM (${ALERTS_VIEW})
     WHERE ({kind:String} = '' OR kind = {kind:String})
       AND ({severity:String} = '' OR severity = {severity:String})
       AND ({status:String} = '' OR eff_status = {status:String})
       AND ({ip:String} = '' OR ip = {ip:String} OR has(client_ips, {ipText:String}))
       AND detected_ms >= {from:Int64} AND detected_ms < {to:Int64}
       AND ({hasCursor:UInt8} = 0 OR (detected_ms, id) < ({ct:Int64}, {cid:String}))
     ORDER BY detected_ms DESC, id DESC
     LIMIT {limit:UInt32}`,
    {
      now: opts.now,
      kind: f.kind ?? '',
      severity: f.severity ?? '',
      status: f.status ?? '',
      ip: f.client?.v6 ?? '',
      ipText: f.client?.text ?? '',
      from: f.from ?? 0,
      to: f.to ?? 32_503_680_000_000,
      hasCursor: c ? 1 : 0,
      ct: c?.t ?? 0,
      cid: c?.id ?? '',
      limit: f.limit + 1,
    },
  );
  const items = rows.slice(0, f.limit).map((r) => toSummary(r, opts.withClient));
  const last = rows.length > f.limit ? rows[f.limit - 1] : undefined;
  return { items, nextCursor: last ? encodeCursor(last.detected_ms, last.id) : null };
}

export interface AlertDetail {
  readonly alert: AlertSummary;
  /** The detector's alert document (schemas/alert.schema.json); analysts only. */
  readonly body?: Alert;
  /** The reasons one by one (for every role; for viewers with IPs, networks and user agents redacted). */
  readonly reasons: readonly string[];
  readonly actions: ReadonlyArray<{ action: string; at: string; actor: string; note: string; muteUntil: string | null }>;
}

export async function getAlert(store: Store, id: string, opts: { now: number; withClient: boolean }): Promise<AlertDetail | null> {
  return (await alertDetails(store, { id }, { ...opts, limit: 1 }))[0] ?? null;
}

/**
 * The alerts of one incident (newest version each, as {@link getAlert} shows one), oldest detection
 * first, at most `limit`.
 */
export async function incidentAlerts(store: Store, incidentId: string, opts: { now: number; withClient: boolean; limit: number }): Promise<AlertDetail[]> {
  return alertDetails(store, { incident: incidentId }, opts);
}

async function alertDetails(store: Store, by: { id: string } | { incident: string }, opts: { now: number; withClient: boolean; limit: number }): Promise<AlertDetail[]> {
  const rows = await readRows<Row>(
    store.client,
    `SELECT ${COLS}, body FROM (${ALERTS_VIEW}) WHERE {id:String} != '' AND id = {id:String} OR {incident:String} != '' AND inc_id = {incident:String}
     ORDER BY detected_ms, id LIMIT {limit:UInt32}`,
    { now: opts.now, id: 'id' in by ? by.id : '', incident: 'incident' in by ? by.incident : '', limit: opts.limit },
  );
  if (rows.length === 0) return [];
  const actions = await readRows<{ alert_id: string; action: string; at_ms: number; actor: string; note: string; until_ms: number }>(
    store.client,
    `SELECT alert_id, toString(action) AS action, toUnixTimestamp64Milli(at) AS at_ms, actor, note, ifNull(toUnixTimestamp64Milli(mute_until), 0) AS until_ms
     FROM alert_actions WHERE alert_id IN {ids:Array(String)} ORDER BY alert_id, at`,
    { ids: rows.map((r) => r.id) },
  );
  return rows.map((r) => {
    let body: Alert | undefined;
    try {
      body = r.body ? (JSON.parse(r.body) as Alert) : undefined;
    } catch {
      body = undefined;
    }
    const texts = body?.reasons?.map((x) => x.text) ?? (r.reasons ? [r.reasons] : []);
    const values = personalValues(r);
    const shown = (text: string): string => (opts.withClient ? text : redactPersonalData(text, values));
    return {
      alert: toSummary(r, opts.withClient),
      ...(body && opts.withClient ? { body } : {}),
      reasons: texts.map(shown),
      actions: actions
        .filter((a) => a.alert_id === r.id)
        .map((a) => ({ action: a.action, at: iso(a.at_ms), actor: opts.withClient ? a.actor : '', note: shown(a.note), muteUntil: a.until_ms > 0 ? iso(a.until_ms) : null })),
    };
  });
}

export async function alertExists(store: Store, id: string): Promise<boolean> {
  const r = await readRows<{ n: number }>(store.client, 'SELECT count() AS n FROM alerts WHERE id = {id:String}', { id });
  return (r[0]?.n ?? 0) > 0;
}

/** Appends an analyst action. A mute needs `muteUntil` in the future. */
export async function recordAlertAction(
  store: Store,
  a: { id: string; action: AlertAction; actor: string; note: string; muteUntil?: number; now: number },
): Promise<void> {
  const { id, ...rest } = a;
  await recordAlertActions(store, { ...rest, ids: [id] });
}

/**
 * Appends one analyst action to each of several alerts (an incident's), in one insert: all or none,
 * at one instant. A mute needs `muteUntil` in the future.
 */
export async function recordAlertActions(
  store: Store,
  a: { ids: readonly string[]; action: AlertAction; actor: string; note: string; muteUntil?: number; now: number },
): Promise<void> {
  if (a.action === 'mute' && (a.muteUntil === undefined || a.muteUntil <= a.now)) throw new InvalidInputError('mute needs until in the future');
  if (a.note.length > 2000) throw new InvalidInputError('note may hold at most 2000 characters');
  if (a.ids.length === 0) return;
  await execute(
    store.client,
    `INSERT INTO alert_actions (alert_id, at, action, actor, note, mute_until)
     SELECT arrayJoin({ids:Array(String)}), fromUnixTimestamp64Milli({now:Int64}), {action:String}, {actor:String}, {note:String},
            if({until:Int64} = 0, NULL, fromUnixTimestamp64Milli({until:Int64}))`,
    { ids: [...a.ids], now: a.now, action: a.action, actor: a.actor, note: a.note, until: a.action === 'mute' ? a.muteUntil : 0 },
  );
}

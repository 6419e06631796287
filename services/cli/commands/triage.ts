/**
 * Triage from the command line — `alerts list|show|ack|mute|resolve|reopen` and the same verbs on
 * `incidents` — through the services/incidents functions the API's alert and incident routes call
 * (services/api/routes/alerts.ts, triage.ts): the same lists, rankings, details and action rows.
 * Actions are recorded as `cli:<user>` and audited like the API's (`alert.ack`, `incident.mute` …).
 * Tables for people, `--json` for programs (the API's response documents).
 *
 * Exit codes: 0 done; 2 for an invalid id, filter, `--until` or note and for an unknown alert or
 * incident; 3 when the store is unavailable.
 */
import type { AlertKind, Severity } from '../../core/alert.ts';
import { alertExists, getAlert, listAlerts, recordAlertAction, type AlertDetail, type EffectiveStatus } from '../../incidents/alerts.ts';
import { writeAudit, type AuditTargetType } from '../../incidents/audit.ts';
import { getIncident, recordIncidentAction, type IncidentDetail } from '../../incidents/incidentDetail.ts';
import { listIncidents, type IncidentPage } from '../../incidents/incidentList.ts';
import type { IncidentStatus, IncidentSummary } from '../../incidents/incidentView.ts';
import { InvalidInputError, parseAlertId, parseClientIp, parseIncidentId, parseLimit, parseTime, type ClientIp } from '../../incidents/inputs.ts';
import { DEFAULT_API_CONFIG } from '../../api/apiConfig.ts';
import type { Store } from '../../store/openStore.ts';
import { EXIT, UsageError } from '../exitCodes.ts';
import { formatTable } from '../formatTable.ts';
import { openContext, type CommonFlags } from './context.ts';
import type { TRIAGE_VERBS } from './triageVerbs.ts';
import { cliActor, parsed } from './incidents.ts';

const LIMITS = DEFAULT_API_CONFIG;
const out = (s: string): boolean => process.stdout.write(s);

async function withStore(flags: CommonFlags, fn: (store: Store) => Promise<number>): Promise<number> {
  const { store } = await openContext(flags);
  try {
    return await fn(store);
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UsageError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

async function audit(store: Store, a: { at: number; action: string; targetType: AuditTargetType; target: string; params: Record<string, unknown>; status: number }): Promise<void> {
  await writeAudit(store, { ...a, actor: cliActor(), role: 'cli' });
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d{1,7})([smhdw])$/;

/**
 * `--until` of a mute: an ISO-8601 time (or epoch ms) or a duration from `now` such as `90m`, `2h`,
 * `7d`, `2w`; it must lie in the future.
 */
export function parseUntil(text: string, now: number): number {
  const m = DURATION.exec(text.trim());
  let ms: number;
  if (m) ms = now + Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  else {
    try {
      ms = parseTime(text.trim(), '--until');
    } catch {
      throw new InvalidInputError(`--until must be an ISO-8601 time or a duration such as 30m, 2h, 7d, 2w; got ${JSON.stringify(text)}`);
    }
  }
  if (ms <= now) throw new InvalidInputError(`--until must be in the future (${new Date(ms).toISOString()} is not)`);
  if (ms > 32_503_680_000_000) throw new InvalidInputError('--until is too far in the future');
  return ms;
}


interface ListFlags extends CommonFlags {
  readonly kind?: AlertKind;
  readonly severity?: Severity;
  readonly limit?: string;
  readonly cursor?: string;
  readonly json?: boolean;
}

export interface AlertListFlags extends ListFlags {
  readonly status?: EffectiveStatus;
  readonly client?: string;
}

export interface IncidentListFlags extends ListFlags {
  readonly status?: IncidentStatus;
}

export interface ActionFlags extends CommonFlags {
  readonly note?: string;
  readonly until?: string;
  readonly json?: boolean;
}

/** The note of an action (at most 2,000 characters, as the API's body schema and recordAlertActions allow). */
const noteOf = (flags: ActionFlags): string => {
  const note = flags.note ?? '';
  if (note.length > 2000) throw new UsageError('--note may hold at most 2000 characters');
  return note;
};

const limitOf = (v: string | undefined): number => parsed(() => parseLimit(v, LIMITS.defaultListRows, LIMITS.maxListRows, '--limit'));
const more = (cursor: string | null): string => (cursor ? `more: --cursor ${cursor}\n` : '');
const short = (xs: readonly string[], n = 3, total = xs.length): string => (xs.length === 0 ? '-' : `${xs.slice(0, n).join(' ')}${total > n ? ` +${total - n}` : ''}`);

// ---- alerts ---------------------------------------------------------------------------------------

export async function runAlertList(flags: AlertListFlags): Promise<number> {
  const limit = limitOf(flags.limit);
  const client: ClientIp | undefined = flags.client !== undefined ? parsed(() => parseClientIp(flags.client!, '--client')) : undefined;
  return withStore(flags, async (store) => {
    const now = Date.now();
    if (client) await audit(store, { at: now, action: 'alerts.by-client', targetType: 'ip', target: client.text, params: { kind: flags.kind, severity: flags.severity, status: flags.status }, status: 200 });
    const page = await listAlerts(
      store,
      {
        ...(flags.kind ? { kind: flags.kind } : {}),
        ...(flags.severity ? { severity: flags.severity } : {}),
        ...(flags.status ? { status: flags.status } : {}),
        ...(client ? { client } : {}),
        ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
        limit,
      },
      { now, withClient: true },
    );
    if (flags.json) {
      out(`${JSON.stringify(page)}\n`);
      return EXIT.OK;
    }
    out(
      formatTable(
        page.items.map((a) => ({
          id: a.id,
          kind: a.kind,
          severity: a.severity,
          score: a.score,
          status: a.status === 'muted' && a.mutedUntil ? `muted until ${a.mutedUntil}` : a.status,
          client: a.client?.ip ?? '',
          detected: a.detectedAt,
          incident: a.incidentId,
          reasons: a.reasons,
        })),
        60,
      ) || '(no alerts)\n',
    );
    out(more(page.nextCursor));
    return EXIT.OK;
  });
}

function printAlert(d: AlertDetail): void {
  const a = d.alert;
  const ev = d.body?.evidence;
  out(`alert ${a.id}: ${a.kind}, ${a.severity}, score ${a.score}\n`);
  out(`  status      ${a.status}${a.mutedUntil ? ` until ${a.mutedUntil}` : ''} (detector: ${a.detectorStatus}, version ${a.version})\n`);
  out(`  incident    ${a.incidentId}\n`);
  if (a.client) out(`  client      ${a.client.ip}${a.client.ips.length > 1 ? ` (with ${a.client.ips.filter((ip) => ip !== a.client!.ip).join(', ')})` : ''}; subnet ${a.client.subnet || '-'}; user agent ${a.client.userAgent || '-'}\n`);
  out(`  seen        ${a.firstSeen} … ${a.lastSeen}, detected ${a.detectedAt}\n`);
  out(`  images      ${a.imageIds.join(' ') || '-'}\n`);
  if (ev) out(`  evidence    ${ev.source} lines ${ev.firstLine}–${ev.lastLine}${ev.from && ev.to ? ` (measured over ${ev.from} … ${ev.to})` : ''}\n`);
  out('  reasons\n');
  out(d.reasons.length === 0 ? '    (none)\n' : d.reasons.map((r) => `    - ${r}\n`).join(''));
  out('  actions\n');
  out(
    d.actions.length === 0
      ? '    (none)\n'
      : formatTable(d.actions.map((x) => ({ at: x.at, action: x.action, actor: x.actor, until: x.muteUntil ?? '', note: x.note })), 60).replace(/^/gm, '    '),
  );
}

export async function runAlertShow(idText: string, flags: CommonFlags & { json?: boolean }): Promise<number> {
  const id = parsed(() => parseAlertId(idText));
  return withStore(flags, async (store) => {
    const d = await getAlert(store, id, { now: Date.now(), withClient: true });
    if (!d) throw new UsageError(`no alert ${id}`);
    if (flags.json) out(`${JSON.stringify(d)}\n`);
    else printAlert(d);
    return EXIT.OK;
  });
}

/** As POST /api/v1/alerts/:id/<verb>: the action row for one alert, audited, then the alert as it is now. */
export async function runAlertAction(verb: (typeof TRIAGE_VERBS)[number], idText: string, flags: ActionFlags): Promise<number> {
  const id = parsed(() => parseAlertId(idText));
  const note = noteOf(flags);
  const now = Date.now();
  const muteUntil = verb.action === 'mute' ? parsed(() => parseUntil(flags.until ?? '', now)) : undefined;
  return withStore(flags, async (store) => {
    const exists = await alertExists(store, id);
    const params = { note, ...(muteUntil !== undefined ? { until: new Date(muteUntil).toISOString() } : {}) };
    if (!exists) {
      await audit(store, { at: now, action: `alert.${verb.verb}`, targetType: 'alert', target: id, params, status: 404 });
      throw new UsageError(`no alert ${id}`);
    }
    await recordAlertAction(store, { id, action: verb.action, actor: cliActor(), note, ...(muteUntil !== undefined ? { muteUntil } : {}), now });
    await audit(store, { at: now, action: `alert.${verb.verb}`, targetType: 'alert', target: id, params, status: 200 });
    const d = await getAlert(store, id, { now, withClient: true });
    if (!d) throw new UsageError(`no alert ${id}`);
    if (flags.json) out(`${JSON.stringify(d)}\n`);
    else {
      out(`${verb.done} alert ${id}${muteUntil !== undefined ? ` until ${new Date(muteUntil).toISOString()}` : ''} as ${cliActor()}\n\n`);
      printAlert(d);
    }
    return EXIT.OK;
  });
}

// ---- incidents ------------------------------------------------------------------------------------

const byStatus = (i: IncidentSummary): string =>
  Object.entries(i.alertsByStatus)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');

const countsLine = (p: IncidentPage): string => `open incidents: ${(['critical', 'high', 'medium', 'low'] as const).map((s) => `${s} ${p.counts[s]}`).join(', ')}\n`;

export async function runIncidentList(flags: IncidentListFlags): Promise<number> {
  const limit = limitOf(flags.limit);
  return withStore(flags, async (store) => {
    const page = await listIncidents(
      store,
      {
        ...(flags.kind ? { kind: flags.kind } : {}),
        ...(flags.severity ? { severity: flags.severity } : {}),
        ...(flags.status ? { status: flags.status } : {}),
        ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
        limit,
      },
      { now: Date.now(), withClient: true },
    );
    if (flags.json) {
      out(`${JSON.stringify(page)}\n`);
      return EXIT.OK;
    }
    out(countsLine(page));
    out('\n');
    out(
      formatTable(
        page.items.map((i) => ({
          id: i.id,
          severity: i.severity,
          status: i.status,
          alerts: `${i.alertCount} (${byStatus(i)})`,
          kinds: i.kinds.join(' '),
          addresses: short(i.addresses ?? [], 3, i.addressCount),
          images: short(i.imageIds, 3, i.imageCount),
          last_seen: i.lastSeen,
          first_detected: i.firstDetected,
        })),
      ) || '(no incidents)\n',
    );
    out(more(page.nextCursor));
    return EXIT.OK;
  });
}

function printIncident(d: IncidentDetail): void {
  const i = d.incident;
  out(`incident ${i.id}: ${i.severity}, ${i.status}; ${i.alertCount} alert(s): ${byStatus(i)}\n`);
  out(`  detected    ${i.firstDetected}, last seen ${i.lastSeen}\n`);
  out(`  kinds       ${i.kinds.join(' ')}\n`);
  out(`  addresses   ${short(i.addresses ?? [], 10, i.addressCount)}\n`);
  out(`  images      ${short(i.imageIds, 10, i.imageCount)}\n\n`);
  out(
    formatTable(
      d.alerts.map(({ alert: a, body }) => ({
        alert: a.id,
        kind: a.kind,
        severity: a.severity,
        status: a.status,
        muted_until: a.mutedUntil ?? '',
        client: a.client?.ip ?? '',
        detected: a.detectedAt,
        evidence: body?.evidence ? `${body.evidence.source}:${body.evidence.firstLine}-${body.evidence.lastLine}` : '',
        last_action: a.lastAction ? `${a.lastAction.action} ${a.lastAction.at}` : '',
      })),
    ) || '(no alerts)\n',
  );
  for (const { alert: a, reasons } of d.alerts) {
    out(`\n${a.id} reasons\n`);
    out(reasons.length === 0 ? '  (none)\n' : reasons.map((r) => `  - ${r}\n`).join(''));
  }
  if (d.alerts.length < i.alertCount) out(`\n(first ${d.alerts.length} of ${i.alertCount} alerts)\n`);
}

export async function runIncidentShow(idText: string, flags: CommonFlags & { json?: boolean }): Promise<number> {
  const id = parsed(() => parseIncidentId(idText));
  return withStore(flags, async (store) => {
    const d = await getIncident(store, id, { now: Date.now(), withClient: true });
    if (!d) throw new UsageError(`no incident ${id}`);
    if (flags.json) out(`${JSON.stringify(d)}\n`);
    else printIncident(d);
    return EXIT.OK;
  });
}

/**
 * As POST /api/v1/incidents/:id/<verb>: the action on every alert of the incident (one row each, one
 * insert; alerts joining it later are not covered), audited, then the incident as it is now.
 */
export async function runIncidentAction(verb: (typeof TRIAGE_VERBS)[number], idText: string, flags: ActionFlags): Promise<number> {
  const id = parsed(() => parseIncidentId(idText));
  const note = noteOf(flags);
  const now = Date.now();
  const muteUntil = verb.action === 'mute' ? parsed(() => parseUntil(flags.until ?? '', now)) : undefined;
  return withStore(flags, async (store) => {
    const params = { note, ...(muteUntil !== undefined ? { until: new Date(muteUntil).toISOString() } : {}) };
    const inc = await recordIncidentAction(store, { id, action: verb.action, actor: cliActor(), note, ...(muteUntil !== undefined ? { muteUntil } : {}), now });
    await audit(store, { at: now, action: `incident.${verb.verb}`, targetType: 'incident', target: id, params, status: inc === null ? 404 : 200 });
    const d = inc === null ? null : await getIncident(store, inc, { now, withClient: true });
    if (!d) throw new UsageError(`no incident ${id}`);
    if (flags.json) out(`${JSON.stringify(d)}\n`);
    else {
      out(`${verb.done} incident ${d.incident.id} (${d.incident.alertCount} alert(s))${muteUntil !== undefined ? ` until ${new Date(muteUntil).toISOString()}` : ''} as ${cliActor()}\n\n`);
      printIncident(d);
    }
    return EXIT.OK;
  });
}

/**
 * Scores alerts against simulator labels: per threat kind recall and time to detect (event time),
 * per benign kind the accused actors and addresses (false-positive clients per 1,000) and the alerts
 * and notifications they cost; alerts that name no harvester at all. Pure except for the thin
 * JSON-lines readers.
 *
 * Matching is by IP: an alert names `client.ip` and every address in `client.ips`.
 * - A threat actor is detected when any alert naming any of its IPs has detectedAt ≥ actor start − 1 s
 *   (log timestamps are whole seconds); time to detect = earliest such detectedAt − actor start.
 * - A benign client (distinct IP of a benign actor) is a false positive ("accused") when any alert
 *   names it; a benign actor is accused when any of its clients is.
 * - Notifications: an alert is sent once per version (numbered from 1), so an alert whose highest
 *   version is n cost n notifications.
 * - Alerts naming no labelled IP are "unlabelled alerts"; alerts naming no threat actor's IP (benign
 *   or unlabelled addresses only) are alerts "naming no harvester".
 */
import { readFile } from 'node:fs/promises';
import type { Alert } from '../core/alert.ts';
import { BENIGN_KINDS, HARD_BENIGN_KINDS, type Label, THREAT_KINDS } from './labels.ts';

export interface ThreatKindRow {
  readonly kind: string;
  readonly actors: number;
  readonly detected: number;
  /** detected / actors; null without actors. */
  readonly recall: number | null;
  /** Actors whose every IP alone is anomalous, and how many of those were detected. */
  readonly perIpDetectableActors: number;
  readonly perIpDetectableDetected: number;
  /** Mean over actors of (alerted IPs / IPs). */
  readonly meanIpFractionAlerted: number | null;
  /** Time to detect over detected actors, minutes. */
  readonly ttdMedianMin: number | null;
  readonly ttdMaxMin: number | null;
}

export interface BenignKindRow {
  readonly kind: string;
  readonly actors: number;
  /** Actors with at least one address named by an alert. */
  readonly accusedActors: number;
  /** Distinct IPs. */
  readonly clients: number;
  /** Distinct IPs named by any alert (accused addresses). */
  readonly fpClients: number;
  readonly fpPer1000: number | null;
  /** Distinct alerts naming any address of this class, and the notifications (versions) they sent. */
  readonly alerts: number;
  readonly notifications: number;
}

export interface ActorResult {
  readonly actor: string;
  readonly class: 'benign' | 'threat';
  readonly kind: string;
  readonly ips: number;
  readonly alertedIps: number;
  readonly detected: boolean;
  readonly ttdMin: number | null;
  readonly alertIds: readonly string[];
  /** Notifications (alert versions) of the alerts naming this actor. */
  readonly notifications: number;
}

export interface UnlabelledAlert {
  readonly id: string;
  readonly ip: string;
  readonly ips: readonly string[];
  readonly kind: string;
  readonly detectedAt: string;
}

export interface EvaluationReport {
  readonly threats: readonly ThreatKindRow[];
  readonly benign: readonly BenignKindRow[];
  readonly totals: {
    readonly threatActors: number;
    readonly detected: number;
    readonly recall: number | null;
    readonly ttdMedianMin: number | null;
    readonly ttdMaxMin: number | null;
    readonly benignActors: number;
    readonly benignClients: number;
    readonly fpClients: number;
    readonly fpPer1000: number | null;
    /** Distinct alert ids naming clients (every kind). */
    readonly alerts: number;
    /** Notifications (alert versions) of those alerts. */
    readonly notifications: number;
    readonly unlabelledAlerts: number;
    /** Alerts naming no threat actor's address (only benign or unlabelled ones), and their notifications. */
    readonly alertsNamingNoHarvester: number;
    readonly notificationsNamingNoHarvester: number;
    /** Image-exposure alerts (per image, policy): not counted against clients. */
    readonly imageExposureAlerts: number;
    /** Distinct incidents the versions belong to (0 for files written before incidents). */
    readonly incidents: number;
    /** Incidents resolved (an all-clear to the sinks, not a page). */
    readonly allClears: number;
    readonly alertsByKind: Readonly<Record<string, number>>;
  };
  readonly actors: readonly ActorResult[];
  readonly unlabelled: readonly UnlabelledAlert[];
}

/** Canonical text for matching: trimmed, lower case, IPv4-mapped IPv6 unwrapped. */
export function normIp(ip: string): string {
  const s = ip.trim().toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  return m?.[1] ?? s;
}

export function alertIps(a: Pick<Alert, 'client'>): string[] {
  const set = new Set<string>();
  if (a.client.ip) set.add(normIp(a.client.ip));
  for (const ip of a.client.ips ?? []) set.add(normIp(ip));
  return [...set];
}

/**
 * Collapse alert updates (several lines per id) into one alert per id: the highest version's fields,
 * detectedAt = the earliest detectedAt of any version, client.ips = the union over versions.
 */
export function mergeAlertVersions(alerts: readonly Alert[]): Alert[] {
  const byId = new Map<string, { latest: Alert; detectedAt: number; ips: Set<string> }>();
  for (const a of alerts) {
    const d = Date.parse(a.detectedAt);
    const cur = byId.get(a.id);
    if (!cur) {
      byId.set(a.id, { latest: a, detectedAt: d, ips: new Set(alertIps(a)) });
      continue;
    }
    if ((a.version ?? 0) >= (cur.latest.version ?? 0)) cur.latest = a;
    if (d < cur.detectedAt || Number.isNaN(cur.detectedAt)) cur.detectedAt = d;
    for (const ip of alertIps(a)) cur.ips.add(ip);
  }
  return [...byId.values()].map(({ latest, detectedAt, ips }) => ({
    ...latest,
    detectedAt: Number.isNaN(detectedAt) ? latest.detectedAt : new Date(detectedAt).toISOString(),
    client: { ...latest.client, ips: [...ips] },
  }));
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);

/**
 * Notifications (pages) per alert id. Versions that carry their incident page only when they carry a
 * notice (`incident.notice` opened or escalated); the all-clear of a resolved incident is not a page
 * and is counted apart (`allClears`). Versions without an incident (older files) page once per version.
 */
function notificationsByAlert(versions: readonly Alert[]): { pages: Map<string, number>; allClears: number } {
  const pages = new Map<string, number>();
  let allClears = 0;
  for (const a of versions) {
    const notice = a.incident?.notice;
    if (notice === 'resolved') allClears++;
    const page = a.incident ? (notice === 'opened' || notice === 'escalated' ? 1 : 0) : 1;
    if (page > 0) pages.set(a.id, (pages.get(a.id) ?? 0) + page);
  }
  return { pages, allClears };
}

function kindOrder(known: readonly string[], present: Iterable<string>): string[] {
  const set = new Set(present);
  const out = known.filter((k) => set.has(k));
  for (const k of [...set].sort()) if (!out.includes(k)) out.push(k);
  return out;
}

/** Start tolerance: labels carry ms, logs whole seconds. */
const START_SLACK_MS = 1000;

export function evaluate(labels: readonly Label[], rawAlerts: readonly Alert[]): EvaluationReport {
  const merged = mergeAlertVersions(rawAlerts);
  // Every address in any alert's client.ip / client.ips counts as accused, image exposure included.
  const alerts = merged;
  const { pages, allClears } = notificationsByAlert(rawAlerts);
  // IP → alerts naming it.
  const byIp = new Map<string, { id: string; detectedAt: number }[]>();
  const notifications = new Map<string, number>();
  for (const a of alerts) {
    const d = Date.parse(a.detectedAt);
    notifications.set(a.id, pages.get(a.id) ?? 0);
    for (const ip of alertIps(a)) {
      let l = byIp.get(ip);
      if (!l) byIp.set(ip, (l = []));
      l.push({ id: a.id, detectedAt: d });
    }
  }
  const sumNotifications = (ids: Iterable<string>): number => {
    let n = 0;
    for (const id of ids) n += notifications.get(id) ?? 0;
    return n;
  };
  const labelledIps = new Set<string>();
  for (const l of labels) for (const ip of l.ips) labelledIps.add(normIp(ip));

  const actors: ActorResult[] = [];
  for (const l of labels) {
    const start = Date.parse(l.start);
    const ips = [...new Set(l.ips.map(normIp))];
    const ids = new Set<string>();
    let alerted = 0;
    let first = Number.POSITIVE_INFINITY;
    for (const ip of ips) {
      const hits = (byIp.get(ip) ?? []).filter((h) => l.class === 'benign' || h.detectedAt >= start - START_SLACK_MS);
      if (hits.length > 0) alerted++;
      for (const h of hits) {
        ids.add(h.id);
        if (h.detectedAt < first) first = h.detectedAt;
      }
    }
    const detected = alerted > 0;
    actors.push({
      actor: l.actor,
      class: l.class,
      kind: l.kind,
      ips: ips.length,
      alertedIps: alerted,
      detected,
      ttdMin: detected && l.class === 'threat' ? Math.max(0, first - start) / 60_000 : null,
      alertIds: [...ids].sort(),
      notifications: sumNotifications(ids),
    });
  }

  const threatLabels = labels.filter((l) => l.class === 'threat');
  const threats: ThreatKindRow[] = kindOrder(
    THREAT_KINDS,
    threatLabels.map((l) => l.kind),
  ).map((kind) => {
    const rows = actors.filter((a) => a.class === 'threat' && a.kind === kind);
    const perIp = threatLabels.filter((l) => l.kind === kind && l.perIpDetectable).map((l) => l.actor);
    const ttd = rows.filter((a) => a.ttdMin !== null).map((a) => a.ttdMin as number);
    const detected = rows.filter((a) => a.detected).length;
    return {
      kind,
      actors: rows.length,
      detected,
      recall: ratio(detected, rows.length),
      perIpDetectableActors: perIp.length,
      perIpDetectableDetected: rows.filter((a) => a.detected && perIp.includes(a.actor)).length,
      meanIpFractionAlerted: rows.length > 0 ? rows.reduce((s, a) => s + (a.ips > 0 ? a.alertedIps / a.ips : 0), 0) / rows.length : null,
      ttdMedianMin: median(ttd),
      ttdMaxMin: ttd.length > 0 ? Math.max(...ttd) : null,
    };
  });

  const benignLabels = labels.filter((l) => l.class === 'benign');
  const benign: BenignKindRow[] = kindOrder(
    [...BENIGN_KINDS, ...HARD_BENIGN_KINDS],
    benignLabels.map((l) => l.kind),
  ).map((kind) => {
    const ls = benignLabels.filter((l) => l.kind === kind);
    const ips = new Set(ls.flatMap((l) => l.ips.map(normIp)));
    const fp = [...ips].filter((ip) => byIp.has(ip)).length;
    const rows = actors.filter((a) => a.class === 'benign' && a.kind === kind);
    const ids = new Set(rows.flatMap((a) => a.alertIds));
    return {
      kind,
      actors: ls.length,
      accusedActors: rows.filter((a) => a.detected).length,
      clients: ips.size,
      fpClients: fp,
      fpPer1000: ips.size > 0 ? (1000 * fp) / ips.size : null,
      alerts: ids.size,
      notifications: sumNotifications(ids),
    };
  });

  const allBenignIps = new Set(benignLabels.flatMap((l) => l.ips.map(normIp)));
  const fpClients = [...allBenignIps].filter((ip) => byIp.has(ip)).length;
  const threatActors = actors.filter((a) => a.class === 'threat');
  const ttdAll = threatActors.filter((a) => a.ttdMin !== null).map((a) => a.ttdMin as number);
  const threatIps = new Set(threatLabels.flatMap((l) => l.ips.map(normIp)));
  const noHarvester = alerts.filter((a) => !alertIps(a).some((ip) => threatIps.has(ip)));
  const unlabelled: UnlabelledAlert[] = alerts
    .filter((a) => !alertIps(a).some((ip) => labelledIps.has(ip)))
    .map((a) => ({ id: a.id, ip: a.client.ip, ips: alertIps(a), kind: a.kind, detectedAt: a.detectedAt }));

  return {
    threats,
    benign,
    totals: {
      threatActors: threatActors.length,
      detected: threatActors.filter((a) => a.detected).length,
      recall: ratio(threatActors.filter((a) => a.detected).length, threatActors.length),
      ttdMedianMin: median(ttdAll),
      ttdMaxMin: ttdAll.length > 0 ? Math.max(...ttdAll) : null,
      benignActors: benignLabels.length,
      benignClients: allBenignIps.size,
      fpClients,
      fpPer1000: allBenignIps.size > 0 ? (1000 * fpClients) / allBenignIps.size : null,
      alerts: alerts.length,
      notifications: sumNotifications(alerts.map((a) => a.id)),
      unlabelledAlerts: unlabelled.length,
      alertsNamingNoHarvester: noHarvester.length,
      notificationsNamingNoHarvester: sumNotifications(noHarvester.map((a) => a.id)),
      imageExposureAlerts: merged.filter((a) => a.kind === 'image-exposure').length,
      incidents: new Set(rawAlerts.flatMap((a) => (a.incident ? [a.incident.id] : []))).size,
      allClears,
      alertsByKind: Object.fromEntries([...new Set(merged.map((a) => a.kind))].sort().map((k) => [k, merged.filter((a) => a.kind === k).length])),
    },
    actors,
    unlabelled,
  };
}

const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(1)}%`);
const mins = (v: number | null): string => (v === null ? '-' : v < 100 ? `${v.toFixed(1)} min` : `${Math.round(v)} min`);
const num = (v: number | null, d = 1): string => (v === null ? '-' : v.toFixed(d));

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i === 0 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join('  ').trimEnd();
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

/** The report as a plain-text table. */
export function formatReport(r: EvaluationReport): string {
  const t = r.totals;
  const threatRows = r.threats.map((k) => [
    k.kind,
    String(k.actors),
    String(k.detected),
    pct(k.recall),
    `${k.perIpDetectableDetected}/${k.perIpDetectableActors}`,
    pct(k.meanIpFractionAlerted),
    mins(k.ttdMedianMin),
    mins(k.ttdMaxMin),
  ]);
  threatRows.push(['TOTAL', String(t.threatActors), String(t.detected), pct(t.recall), '', '', mins(t.ttdMedianMin), mins(t.ttdMaxMin)]);
  const benignRows = r.benign.map((k) => [
    k.kind,
    String(k.actors),
    String(k.accusedActors),
    String(k.clients),
    String(k.fpClients),
    num(k.fpPer1000),
    String(k.alerts),
    String(k.notifications),
  ]);
  const accusedActors = r.benign.reduce((s, k) => s + k.accusedActors, 0);
  benignRows.push(['TOTAL', String(t.benignActors), String(accusedActors), String(t.benignClients), String(t.fpClients), num(t.fpPer1000), '', '']);
  const out = [
    'Threats',
    table(['kind', 'actors', 'detected', 'recall', 'per-IP det.', 'IPs alerted', 'TTD median', 'TTD max'], threatRows),
    '',
    'Benign (accused = an alert names one of its addresses)',
    table(['kind', 'actors', 'accused', 'clients', 'FP clients', 'FP / 1000', 'alerts', 'notifications'], benignRows),
    '',
    `Alerts: ${t.alerts} naming clients (${t.unlabelledAlerts} unlabelled); ${t.imageExposureAlerts} image-exposure alerts; by kind: ${Object.entries(t.alertsByKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `Naming no harvester: ${t.alertsNamingNoHarvester} of ${t.alerts} alerts, ${t.notificationsNamingNoHarvester} of ${t.notifications} notifications`,
    `Incidents: ${t.incidents}; notifications (pages: an incident opened or escalated) ${t.notifications} for ${t.threatActors} threat actors (${t.threatActors > 0 ? (t.notifications / t.threatActors).toFixed(2) : '-'}×); all-clears ${t.allClears}`,
  ];
  for (const u of r.unlabelled.slice(0, 20)) out.push(`  unlabelled ${u.id} ${u.ips.join(',')} ${u.kind} ${u.detectedAt}`);
  if (r.unlabelled.length > 20) out.push(`  … ${r.unlabelled.length - 20} more`);
  const accused = r.actors
    .filter((a) => a.class === 'benign' && a.detected)
    .sort((a, b) => b.notifications - a.notifications || a.actor.localeCompare(b.actor));
  if (accused.length > 0) {
    out.push('', 'Accused benign actors (notifications, alerts, addresses named / used)');
    for (const a of accused.slice(0, 30)) {
      out.push(`  ${a.actor}  ${a.notifications} notifications, ${a.alertIds.length} alerts, ${a.alertedIps}/${a.ips} addresses`);
    }
    if (accused.length > 30) out.push(`  … ${accused.length - 30} more`);
  }
  return `${out.join('\n')}\n`;
}

/** Two evaluations of the same traffic side by side (tilewatch vs a baseline rule): recall, time to detect, false positives. */
export function formatComparison(ours: EvaluationReport, theirs: EvaluationReport, names: readonly [string, string]): string {
  const [a, b] = names;
  const threatRows = ours.threats.map((k) => {
    const o = theirs.threats.find((x) => x.kind === k.kind);
    return [k.kind, String(k.actors), `${k.detected}`, mins(k.ttdMedianMin), `${o?.detected ?? 0}`, mins(o?.ttdMedianMin ?? null)];
  });
  threatRows.push(['TOTAL', String(ours.totals.threatActors), String(ours.totals.detected), mins(ours.totals.ttdMedianMin), String(theirs.totals.detected), mins(theirs.totals.ttdMedianMin)]);
  const benignRows = ours.benign.map((k) => {
    const o = theirs.benign.find((x) => x.kind === k.kind);
    return [k.kind, String(k.clients), String(k.fpClients), num(k.fpPer1000), String(o?.fpClients ?? 0), num(o?.fpPer1000 ?? null)];
  });
  benignRows.push(['TOTAL', String(ours.totals.benignClients), String(ours.totals.fpClients), num(ours.totals.fpPer1000), String(theirs.totals.fpClients), num(theirs.totals.fpPer1000)]);
  return [
    `Side by side: ${a} vs ${b}`,
    table(['threat', 'actors', `${a} det.`, `${a} TTD`, `${b} det.`, `${b} TTD`], threatRows),
    '',
    table(['benign', 'clients', `${a} FP`, `${a} /1000`, `${b} FP`, `${b} /1000`], benignRows),
    '',
  ].join('\n');
}

async function readJsonLines(path: string): Promise<unknown[]> {
  const text = await readFile(path, 'utf8');
  const out: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    const s = line.trim();
    if (s === '') return;
    try {
      out.push(JSON.parse(s));
    } catch (e) {
      throw new Error(`${path}:${i + 1}: invalid JSON (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
  });
  return out;
}

export async function readLabels(path: string): Promise<Label[]> {
  return (await readJsonLines(path)) as Label[];
}

/** Alert versions from JSON lines, as written (evaluate() collapses them per id and counts incident notices). */
export async function readAlerts(path: string): Promise<Alert[]> {
  return (await readJsonLines(path)) as Alert[];
}

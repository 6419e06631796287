import { SEVERITIES, type Alert, type AlertIncident, type Severity } from '../alert.ts';

/** What a version means for the people on call: a page when an incident is announced or becomes urgent, an all-clear when it resolves. */
export type IncidentNotice = 'opened' | 'escalated' | 'resolved';

export interface Correlated {
  /** The version with its `incident` set. */
  readonly alert: Alert;
  /** Deliver to the sinks (page) only when set; every version is still stored. */
  readonly notice: IncidentNotice | null;
}

interface OpenIncident {
  readonly id: string;
  /** Creation order: merges keep the oldest. */
  readonly seq: number;
  severity: Severity;
  /** Highest paging band announced so far (-1: none; see PAGE_BAND). */
  pagedBand: number;
  /** Accused addresses, and (network, user agent) pairs: an alert naming any of them belongs here. */
  readonly keys: Set<string>;
  /** Member alert id → still open. */
  readonly alerts: Map<string, boolean>;
}

/**
 * Correlates alert versions into incidents, one per actor: an alert joins the open incident that
 * already accuses one of its addresses (a campaign and its members' per-address alerts, a client's
 * bulk-harvest, full-download and low-and-slow findings, the image exposure it caused), else it
 * opens a new one. The incident's severity is the highest of its alerts'; it notifies the sinks when
 * it first reaches the notice severity (medium by default) and when it becomes urgent (high or
 * critical), never for other updates, and with an all-clear when its last alert resolves.
 *
 * Pure and deterministic: the same versions in the same order give the same incidents. The id of an
 * incident is derived from its first alert's id (`ti-` + the same digest), so old alert ids stay the
 * way to an incident. State holds open incidents only.
 */
/**
 * Paging bands: an incident pages when it first reaches the notice band (default medium), and again
 * when it reaches the urgent band (high or critical, one band: a confirmed harvest growing from high
 * to critical does not page twice). Low incidents — weak, single signals — are stored and listed for
 * triage but page nobody.
 */
const PAGE_BAND: Readonly<Record<Severity, number>> = { low: 0, medium: 1, high: 2, critical: 2 };

export interface IncidentCorrelatorOptions {
  /** Lowest incident severity that notifies the sinks. Default 'medium'. */
  readonly minNoticeSeverity?: Severity;
}

export class IncidentCorrelator {
  private readonly minBand: number;
  private readonly byAlert = new Map<string, OpenIncident>();
  private readonly byKey = new Map<string, OpenIncident>();
  private seq = 0;
  /** Newest stored version per alert id: versions up to it are re-emissions (a replay of stored history). */
  private stored = new Map<string, number>();
  /** Re-emitted history is correlated afresh, as it was the first time, and never notifies again. */
  private shadow: IncidentCorrelator | null = null;

  constructor(private readonly opts: IncidentCorrelatorOptions = {}) {
    this.minBand = PAGE_BAND[opts.minNoticeSeverity ?? 'medium'];
  }

  /**
   * Continues after a restart: open incidents from the latest stored version of each alert (any
   * order), and the newest stored version of every alert, so that versions a replay emits again get
   * the incident they got the first time (correlated afresh, in their own order) and page nobody.
   */
  restore(latest: readonly Alert[], storedVersions: ReadonlyMap<string, number> = new Map()): void {
    this.stored = new Map(storedVersions);
    this.shadow = this.stored.size > 0 ? new IncidentCorrelator(this.opts) : null;
    const byId = new Map<string, OpenIncident>();
    const sorted = [...latest].sort((a, b) => a.detectedAt.localeCompare(b.detectedAt) || a.id.localeCompare(b.id));
    for (const a of sorted) {
      if (!a.incident || a.incident.status !== 'open') continue;
      let inc = byId.get(a.incident.id);
      if (!inc) {
        const band = PAGE_BAND[a.incident.severity];
        inc = { id: a.incident.id, seq: this.seq++, severity: a.incident.severity, pagedBand: band >= this.minBand ? band : -1, keys: new Set(), alerts: new Map() };
        byId.set(inc.id, inc);
      }
      this.attach(inc, a);
    }
  }

  assign(a: Alert): Correlated {
    if (this.shadow && a.version <= (this.stored.get(a.id) ?? 0)) return { alert: this.shadow.assign(a).alert, notice: null };
    // Its own incident, and every other one sharing what it accuses now (a later version may name more members): one actor.
    let inc = this.find(a, this.byAlert.get(a.id));
    if (!inc) {
      if (a.status === 'resolved') {
        // A resolution of an alert this process never saw open (e.g. after a restart without history).
        return { alert: { ...a, incident: incidentOf(incidentId(a.id), a.severity, 'resolved', 1) }, notice: null };
      }
      inc = { id: incidentId(a.id), seq: this.seq++, severity: a.severity, pagedBand: -1, keys: new Set(), alerts: new Map() };
    }
    this.attach(inc, a);
    let notice: IncidentNotice | null = null;
    let status: 'open' | 'resolved' = 'open';
    if (a.status === 'resolved' && [...inc.alerts.values()].every((open) => !open)) {
      status = 'resolved';
      // The all-clear goes only where the incident was announced.
      if (inc.pagedBand >= 0) notice = 'resolved';
      this.detach(inc);
    } else {
      const band = PAGE_BAND[inc.severity];
      if (band >= this.minBand && band > inc.pagedBand) {
        notice = inc.pagedBand < 0 ? 'opened' : 'escalated';
        inc.pagedBand = band;
      }
    }
    const incident = incidentOf(inc.id, inc.severity, status, inc.alerts.size);
    return { alert: { ...a, incident: notice ? { ...incident, notice } : incident }, notice };
  }

  /** Open incidents (for stats and tests). */
  openIncidents(): number {
    return new Set(this.byAlert.values()).size;
  }

  /**
   * The incident an alert belongs to: its own, or the oldest open one sharing an accused address or
   * (network, user agent); several such incidents are one actor after all and merge into the oldest.
   */
  private find(a: Alert, own: OpenIncident | undefined): OpenIncident | undefined {
    const found = new Set<OpenIncident>(own ? [own] : []);
    for (const k of keysOf(a)) {
      const inc = this.byKey.get(k);
      if (inc) found.add(inc);
    }
    if (found.size === 0) return undefined;
    const [oldest, ...rest] = [...found].sort((x, y) => x.seq - y.seq);
    for (const other of rest) this.merge(oldest!, other);
    return oldest;
  }

  private merge(into: OpenIncident, from: OpenIncident): void {
    for (const [id, open] of from.alerts) {
      into.alerts.set(id, open);
      this.byAlert.set(id, into);
    }
    for (const k of from.keys) {
      into.keys.add(k);
      this.byKey.set(k, into);
    }
    if (rank(from.severity) > rank(into.severity)) into.severity = from.severity;
  }

  private attach(inc: OpenIncident, a: Alert): void {
    inc.alerts.set(a.id, a.status === 'open');
    this.byAlert.set(a.id, inc);
    if (rank(a.severity) > rank(inc.severity)) inc.severity = a.severity;
    for (const k of keysOf(a)) {
      inc.keys.add(k);
      if (!this.byKey.has(k)) this.byKey.set(k, inc);
    }
  }

  private detach(inc: OpenIncident): void {
    for (const id of inc.alerts.keys()) if (this.byAlert.get(id) === inc) this.byAlert.delete(id);
    for (const k of inc.keys) if (this.byKey.get(k) === inc) this.byKey.delete(k);
  }
}

/**
 * What an alert accuses: its addresses (the image-exposure placeholder '::' names nobody), and for
 * alerts about one network and user agent — a client, or a campaign of a network or of a user agent —
 * that pair: accused addresses in one /24 (/48) with one user agent are one actor (the members of a
 * distributed harvest alerted one by one before the campaign hunt names them together).
 */
function keysOf(a: Alert): string[] {
  const ips = (a.client.ips.length > 0 ? [...a.client.ips] : [a.client.ip]).filter((ip) => ip !== '' && ip !== '::');
  const keys = ips.map((ip) => `ip:${ip}`);
  if (a.kind !== 'image-exposure' && a.client.subnet !== '' && a.client.userAgent !== '') keys.push(`net+ua:${a.client.subnet}|${a.client.userAgent}`);
  return keys;
}

export function incidentId(alertId: string): string {
  return `ti-${alertId.replace(/^tw-/, '')}`;
}

function incidentOf(id: string, severity: Severity, status: 'open' | 'resolved', alerts: number): AlertIncident {
  return { id, severity, status, alerts };
}

function rank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

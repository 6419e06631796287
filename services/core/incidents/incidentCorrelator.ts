import { SEVERITIES, type Alert, type AlertIncident, type Severity } from '../alert.ts';

/** What a version means for the people on call: a page when an incident opens or escalates, an all-clear when it resolves. */
export type IncidentNotice = 'opened' | 'escalated' | 'resolved';

export interface Correlated {
  /** The version with its `incident` set. */
  readonly alert: Alert;
  /** Deliver to the sinks (page) only when set; every version is still stored. */
  readonly notice: IncidentNotice | null;
}

interface OpenIncident {
  readonly id: string;
  severity: Severity;
  /** Accused addresses: an alert naming any of them belongs here. */
  readonly ips: Set<string>;
  /** Member alert id → still open. */
  readonly alerts: Map<string, boolean>;
}

/**
 * Correlates alert versions into incidents, one per actor: an alert joins the open incident that
 * already accuses one of its addresses (a campaign and its members' per-address alerts, a client's
 * bulk-harvest, full-download and low-and-slow findings, the image exposure it caused), else it
 * opens a new one. The incident's severity is the highest of its alerts'; it notifies when it opens
 * and when that severity rises, never for other updates, and once more when its last alert resolves.
 *
 * Pure and deterministic: the same versions in the same order give the same incidents. The id of an
 * incident is derived from its first alert's id (`ti-` + the same digest), so old alert ids stay the
 * way to an incident. State holds open incidents only.
 */
export class IncidentCorrelator {
  private readonly byAlert = new Map<string, OpenIncident>();
  private readonly byIp = new Map<string, OpenIncident>();
  /** Newest stored version per alert id: versions up to it are re-emissions (a replay of stored history). */
  private stored = new Map<string, number>();
  /** Re-emitted history is correlated afresh, as it was the first time, and never notifies again. */
  private shadow: IncidentCorrelator | null = null;

  /**
   * Continues after a restart: open incidents from the latest stored version of each alert (any
   * order), and the newest stored version of every alert, so that versions a replay emits again get
   * the incident they got the first time (correlated afresh, in their own order) and page nobody.
   */
  restore(latest: readonly Alert[], storedVersions: ReadonlyMap<string, number> = new Map()): void {
    this.stored = new Map(storedVersions);
    this.shadow = this.stored.size > 0 ? new IncidentCorrelator() : null;
    const byId = new Map<string, OpenIncident>();
    const sorted = [...latest].sort((a, b) => a.detectedAt.localeCompare(b.detectedAt) || a.id.localeCompare(b.id));
    for (const a of sorted) {
      if (!a.incident || a.incident.status !== 'open') continue;
      let inc = byId.get(a.incident.id);
      if (!inc) {
        inc = { id: a.incident.id, severity: a.incident.severity, ips: new Set(), alerts: new Map() };
        byId.set(inc.id, inc);
      }
      this.attach(inc, a);
    }
  }

  assign(a: Alert): Correlated {
    if (this.shadow && a.version <= (this.stored.get(a.id) ?? 0)) return { alert: this.shadow.assign(a).alert, notice: null };
    let inc = this.byAlert.get(a.id) ?? this.find(a);
    let notice: IncidentNotice | null = null;
    if (!inc) {
      if (a.status === 'resolved') {
        // A resolution of an alert this process never saw open (e.g. after a restart without history).
        return { alert: { ...a, incident: incidentOf(incidentId(a.id), a.severity, 'resolved', 1) }, notice: null };
      }
      inc = { id: incidentId(a.id), severity: a.severity, ips: new Set(), alerts: new Map() };
      notice = 'opened';
    } else if (rank(a.severity) > rank(inc.severity) && a.status === 'open') {
      inc.severity = a.severity;
      notice = 'escalated';
    }
    this.attach(inc, a);
    let status: 'open' | 'resolved' = 'open';
    if (a.status === 'resolved' && [...inc.alerts.values()].every((open) => !open)) {
      status = 'resolved';
      notice = 'resolved';
      this.detach(inc);
    }
    return { alert: { ...a, incident: incidentOf(inc.id, inc.severity, status, inc.alerts.size) }, notice };
  }

  /** Open incidents (for stats and tests). */
  openIncidents(): number {
    return new Set(this.byAlert.values()).size;
  }

  private find(a: Alert): OpenIncident | undefined {
    // The oldest incident among those accusing one of the addresses (deterministic: the order of `ips`).
    for (const ip of accused(a)) {
      const inc = this.byIp.get(ip);
      if (inc) return inc;
    }
    return undefined;
  }

  private attach(inc: OpenIncident, a: Alert): void {
    inc.alerts.set(a.id, a.status === 'open');
    this.byAlert.set(a.id, inc);
    if (rank(a.severity) > rank(inc.severity)) inc.severity = a.severity;
    for (const ip of accused(a)) {
      inc.ips.add(ip);
      if (!this.byIp.has(ip)) this.byIp.set(ip, inc);
    }
  }

  private detach(inc: OpenIncident): void {
    for (const id of inc.alerts.keys()) if (this.byAlert.get(id) === inc) this.byAlert.delete(id);
    for (const ip of inc.ips) if (this.byIp.get(ip) === inc) this.byIp.delete(ip);
  }
}

/** The addresses an alert accuses (the image-exposure placeholder '::' names nobody). */
function accused(a: Alert): string[] {
  const out = a.client.ips.length > 0 ? [...a.client.ips] : [a.client.ip];
  return out.filter((ip) => ip !== '' && ip !== '::');
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

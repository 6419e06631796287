/**
 * Alert lifecycle for hunt findings: one open alert per (kind, key), a new version only when the
 * evidence grew or the severity rose, resolution after the kind's inactivity span. Pure: the open
 * alerts come in (from the alerts table at start, then kept in memory), the versions to emit go out.
 */
import { SEVERITIES, alertId, type Alert } from '../alert.ts';
import { magnitudeOf, type Finding, type HuntKind } from './findings.ts';
import type { HuntConfig } from './huntConfig.ts';

export interface OpenHuntAlert {
  alert: Alert;
  /** Event time of the newest evidence seen for it (may be newer than alert.lastSeen, which changes only with versions). */
  lastEvidence: number;
}

/** Open hunt alerts by (kind, key), and for resolved ones the event time of their last evidence. */
export interface HuntAlertState {
  readonly open: Map<string, OpenHuntAlert>;
  /** A finding re-opens a resolved (kind, key) only with evidence newer than this (the look-back still holds the old evidence). */
  readonly closed: Map<string, number>;
}

export function openKey(kind: string, key: string): string {
  return `${kind}\n${key}`;
}

/** Key of an alert raised by a hunt: what it is about. */
export function keyOfAlert(a: Alert): string {
  return a.subject ?? a.client.ip;
}

export function resolveAfter(kind: HuntKind, cfg: HuntConfig): number {
  return kind === 'low-and-slow' ? cfg.lowAndSlow.resolveAfterMs : kind === 'campaign' ? cfg.campaign.resolveAfterMs : cfg.imageExposure.resolveAfterMs;
}

function lookback(kind: HuntKind, cfg: HuntConfig): number {
  return kind === 'low-and-slow' ? cfg.lowAndSlow.lookbackMs : kind === 'campaign' ? cfg.campaign.lookbackMs : cfg.imageExposure.lookbackMs;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Merges one hunt run's findings (window ending at `windowEnd`) into the open alerts and returns the
 * alert versions to emit: new alerts (version 1), grown ones (version + 1), resolved ones (status
 * 'resolved'). `open` is updated in place.
 */
export function reconcile(state: HuntAlertState, findings: readonly Finding[], windowEnd: number, cfg: HuntConfig): Alert[] {
  const { open, closed } = state;
  const out: Alert[] = [];
  for (const f of findings) {
    const k = openKey(f.kind, f.key);
    const prior = open.get(k);
    const closedAt = closed.get(k);
    if (!prior && closedAt !== undefined && f.lastSeen <= closedAt) continue;
    const evidence = { source: 'tile_requests', firstLine: 0, lastLine: 0, from: iso(windowEnd - lookback(f.kind, cfg)), to: iso(windowEnd) };
    if (prior) {
      prior.lastEvidence = Math.max(prior.lastEvidence, f.lastSeen);
      const rose = SEVERITIES.indexOf(f.severity) > SEVERITIES.indexOf(prior.alert.severity);
      if (!rose && magnitudeOf(f) <= magnitudeOf(prior.alert)) continue;
      const next: Alert = {
        ...prior.alert,
        severity: rose ? f.severity : prior.alert.severity,
        score: Math.max(prior.alert.score, f.score),
        client: { ...f.client, ips: [...new Set([...prior.alert.client.ips, ...f.client.ips])].sort() },
        firstSeen: iso(Math.min(Date.parse(prior.alert.firstSeen), f.firstSeen)),
        lastSeen: iso(Math.max(Date.parse(prior.alert.lastSeen), f.lastSeen)),
        images: f.images,
        reasons: f.reasons,
        version: prior.alert.version + 1,
        evidence,
      };
      prior.alert = next;
      out.push(next);
      continue;
    }
    const alert: Alert = {
      id: alertId(f.kind, f.key, windowEnd),
      kind: f.kind,
      severity: f.severity,
      score: f.score,
      client: f.client,
      firstSeen: iso(f.firstSeen),
      detectedAt: iso(windowEnd),
      lastSeen: iso(f.lastSeen),
      images: f.images,
      reasons: f.reasons,
      version: 1,
      status: 'open',
      evidence,
      subject: f.key,
    };
    open.set(k, { alert, lastEvidence: f.lastSeen });
    out.push(alert);
  }
  for (const [k, o] of open) {
    if (windowEnd - o.lastEvidence < resolveAfter(o.alert.kind as HuntKind, cfg)) continue;
    const resolved: Alert = {
      ...o.alert,
      lastSeen: iso(Math.max(o.lastEvidence, Date.parse(o.alert.lastSeen))),
      version: o.alert.version + 1,
      status: 'resolved',
      resolvedAt: iso(windowEnd),
    };
    open.delete(k);
    closed.set(k, o.lastEvidence);
    out.push(resolved);
  }
  // Forget resolutions once their evidence has left every look-back.
  const horizon = windowEnd - Math.max(cfg.lowAndSlow.lookbackMs, cfg.campaign.lookbackMs, cfg.imageExposure.lookbackMs);
  for (const [k, t] of closed) if (t < horizon) closed.delete(k);
  return out;
}

/** Rebuilds the state from stored hunt alerts (the newest version of each id). */
export function stateFromStored(alerts: readonly Alert[]): HuntAlertState {
  const newest = new Map<string, Alert>();
  for (const a of alerts) {
    const prev = newest.get(a.id);
    if (!prev || prev.version < a.version) newest.set(a.id, a);
  }
  const state: HuntAlertState = { open: new Map(), closed: new Map() };
  for (const a of newest.values()) {
    const k = openKey(a.kind, keyOfAlert(a));
    const last = Date.parse(a.lastSeen);
    if (a.status === 'open') {
      const prev = state.open.get(k);
      if (!prev || Date.parse(prev.alert.detectedAt) < Date.parse(a.detectedAt)) state.open.set(k, { alert: a, lastEvidence: last });
    } else if ((state.closed.get(k) ?? -Infinity) < last) {
      state.closed.set(k, last);
    }
  }
  return state;
}

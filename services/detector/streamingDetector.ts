import { median, medianAbsoluteDeviation } from 'simple-statistics';
import type { Alert, AlertImage, AlertKind, Severity } from '../core/alert.ts';
import { SEVERITIES, alertId } from '../core/alert.ts';
import { newClientState, observe, type ClientState, type DetectorEvent } from '../core/detect/clientState.ts';
import { clientKeyOf, type DetectorConfig } from '../core/detect/detectorConfig.ts';
import { measure, type GeometryLookup, type OpenDataLookup, type VolumeBaseline } from '../core/detect/features.ts';
import { scoreFullDownloads, scoreHarvest, type Verdict } from '../core/detect/score.ts';
import { subnetOf } from '../core/logformat/cidr.ts';

/** What the detector hands to the alert sinks: the alert as first raised and each later update. */
export type AlertListener = (alert: Alert) => void;

export interface StreamingDetectorOptions {
  readonly config: DetectorConfig;
  readonly geometryOf: GeometryLookup;
  /** Per-image open-data long edge (catalogue); the config default otherwise. */
  readonly openDataOf?: OpenDataLookup;
  /** Clients never scored (staff, monitors, verified crawlers): returns true to skip. */
  readonly isAllowed?: (ip: string, userAgent: string) => boolean;
  readonly onAlert: AlertListener;
  /**
   * A partition with no request among the last this many pushed (over all partitions) no longer holds
   * the event-time watermark back (an idle or dead partition). Default {@link IDLE_PARTITION_EVENTS}.
   */
  readonly idlePartitionEvents?: number;
}

/**
 * Requests after which a silent partition stops holding the watermark: larger than a full round of
 * fetches over many busy partitions (24 partitions × ~16,000 messages per partition batch ≈ 400,000).
 */
export const IDLE_PARTITION_EVENTS = 1_000_000;

export interface DetectorStats {
  readonly clients: number;
  readonly clientImages: number;
  readonly openAlerts: number;
  readonly alertsRaised: number;
  readonly alertUpdates: number;
  /** Open alerts resolved when their client was dropped (inactivity or state pressure). */
  readonly alertsResolved: number;
  readonly evicted: number;
}

interface OpenAlert {
  readonly id: string;
  version: number;
  severity: Severity;
  score: number;
  fullyExposed: number;
  readonly detectedAt: number;
  /** The last version emitted (its resolution repeats it with status 'resolved'). */
  last: Alert | null;
}

/**
 * Per-client streaming detection in event time. Single-threaded and deterministic: the same events in
 * the same order give the same alerts with the same ids. No wall clock, no I/O; alerts go to `onAlert`.
 *
 * State is bounded: clients idle for `idleMs` of event time are evicted (their episode ends), and at
 * most `maxClients` are held (least recently active evicted first).
 */
export class StreamingDetector {
  private readonly clients = new Map<string, ClientState>();
  private readonly open = new Map<string, Map<AlertKind, OpenAlert>>();
  private readonly cfg: DetectorConfig;
  private baseline: VolumeBaseline | undefined;
  private baselineHour = -1;
  /**
   * Clients that revealed tiles in the current baseline hour (each once: `baselineMark`), whose
   * `hourTiles` make the next baseline; a client dropped since is left out when the hour rolls.
   */
  private hourClients: ClientState[] = [];
  private baselinePeriod = 0;
  /** The client of the last event: the most recent in `clients` (null once dropped). */
  private last: ClientState | null = null;
  private watermark = 0;
  /** Newest event time per input partition (Kafka partition; -1 for files). The watermark is their minimum. */
  private readonly partitionTs = new Map<number, { ts: number; at: number }>();
  private pushes = 0;
  /** Open alerts of clients whose state is being restored (by client key), applied when the client's first event arrives. */
  private resuming: Map<string, Alert[]> | null = null;
  private lastSweep = 0;
  private counters = { alertsRaised: 0, alertUpdates: 0, alertsResolved: 0, evicted: 0 };

  constructor(private readonly opts: StreamingDetectorOptions) {
    this.cfg = opts.config;
  }

  /** Feeds one request. Events should arrive roughly in event-time order per client. */
  push(ev: DetectorEvent): void {
    const part = ev.lineage.partition;
    const pt = this.partitionTs.get(part);
    this.pushes++;
    if (pt === undefined) this.partitionTs.set(part, { ts: ev.ts, at: this.pushes });
    else {
      pt.at = this.pushes;
      if (ev.ts > pt.ts) pt.ts = ev.ts;
    }
    if (ev.ts > this.watermark) {
      const w = this.partitionTs.size === 1 ? ev.ts : this.lowWatermark();
      if (w > this.watermark) this.advance(w);
    }
    if (this.opts.isAllowed?.(ev.ip, ev.userAgent)) return;
    const key = clientKeyOf(this.cfg.clientKey, ev);
    let state = this.last;
    // The client of the previous event is already the most recent in `clients`.
    if (state === null || state.key !== key) {
      const known = this.clients.get(key);
      if (!known) {
        if (this.clients.size >= this.cfg.maxClients) this.evictLeastRecent(ev.ts);
        state = newClientState(key, ev);
        if (this.resuming) this.applyResume(state);
      } else {
        // Map order is recency order.
        state = known;
        this.clients.delete(key);
      }
      // Keyed by the state's own copy of the key: the event's strings are slices of a whole read chunk.
      this.clients.set(state.key, state);
      this.last = state;
    }
    state.partition = part;
    const geom = ev.request.imageId ? this.opts.geometryOf(ev.request.protocol, ev.request.imageId) : undefined;
    const revealed = observe(state, ev, geom, this.cfg);
    if (!revealed) return;
    if (state.baselineMark !== this.baselinePeriod) {
      state.baselineMark = this.baselinePeriod;
      this.hourClients.push(state);
    }
    const due =
      state.tiles - state.lastEvalTiles >= this.cfg.evaluateEveryTiles ||
      (ev.ts - state.lastEvalTs >= this.cfg.evaluateEveryMs && state.tiles > state.lastEvalTiles) ||
      ev.request.kind === 'full';
    if (due) this.evaluate(state, ev.ts);
  }

  /** Scores every client with unscored tiles (end of a replay, or before a checkpoint). */
  flush(): void {
    for (const state of this.clients.values()) if (state.tiles > state.lastEvalTiles) this.evaluate(state, state.lastSeen);
  }

  /**
   * Partitions this member no longer owns (a rebalance moved them): their clients' state and open
   * alerts are dropped silently — the new owner restores them and goes on; resolving them here would
   * announce an end that did not happen.
   */
  forgetPartitions(parts: ReadonlySet<number>): number {
    let n = 0;
    for (const [key, state] of this.clients) {
      if (!parts.has(state.partition)) continue;
      this.clients.delete(key);
      this.open.delete(key);
      if (this.last === state) this.last = null;
      n++;
    }
    for (const p of parts) this.partitionTs.delete(p);
    return n;
  }

  /**
   * Open alert versions (from the alerts table) of clients whose state is about to be restored from
   * stored requests: when such a client's first restored request arrives, its episode starts where
   * the alert's did and the alert continues (same id, next version), although the restore reads only
   * the last idle window of requests. Call {@link endResume} after the restore.
   */
  beginResume(alerts: readonly Alert[]): void {
    this.resuming = new Map();
    for (const a of alerts) {
      if (a.status === 'resolved') continue;
      const key = clientKeyOf(this.cfg.clientKey, { ip: a.client.ip, userAgent: a.client.userAgent });
      const list = this.resuming.get(key) ?? [];
      list.push(a);
      this.resuming.set(key, list);
    }
  }

  endResume(): void {
    this.resuming = null;
  }

  private applyResume(state: ClientState): void {
    const alerts = this.resuming?.get(state.key);
    if (!alerts) return;
    this.resuming!.delete(state.key);
    let byKind = this.open.get(state.key);
    if (!byKind) {
      byKind = new Map();
      this.open.set(state.key, byKind);
    }
    for (const a of alerts) {
      const first = Date.parse(a.firstSeen);
      if (Number.isFinite(first) && first < state.firstSeen) state.firstSeen = first;
      const prior = byKind.get(a.kind);
      if (prior && prior.version >= a.version) continue;
      byKind.set(a.kind, { id: a.id, version: a.version, severity: a.severity, score: a.score, fullyExposed: a.images.length, detectedAt: Date.parse(a.detectedAt), last: a });
    }
  }

  /** The lowest newest event time over the partitions that had a request recently (see {@link StreamingDetectorOptions.idlePartitionEvents}). */
  private lowWatermark(): number {
    const horizon = this.pushes - (this.opts.idlePartitionEvents ?? IDLE_PARTITION_EVENTS);
    let min = Number.POSITIVE_INFINITY;
    for (const v of this.partitionTs.values()) if (v.at > horizon && v.ts < min) min = v.ts;
    return min;
  }

  stats(): DetectorStats {
    let clientImages = 0;
    for (const c of this.clients.values()) clientImages += c.images.size;
    let openAlerts = 0;
    for (const m of this.open.values()) openAlerts += m.size;
    return { clients: this.clients.size, clientImages, openAlerts, ...this.counters };
  }

  private advance(ts: number): void {
    this.watermark = ts;
    const hour = Math.floor(ts / 3600_000);
    if (hour !== this.baselineHour) this.rollBaseline(hour);
    if (ts - this.lastSweep >= 60_000) {
      this.lastSweep = ts;
      this.evictIdle(ts);
    }
  }

  /** At each event-time hour, the finished hour's tiles per active client become the volume baseline. */
  private rollBaseline(hour: number): void {
    if (this.baselineHour >= 0) {
      const counts: number[] = [];
      for (const c of this.hourClients) if (this.clients.get(c.key) === c) counts.push(c.hourTiles);
      if (counts.length >= 10) this.baseline = { median: median(counts), mad: medianAbsoluteDeviation(counts), clients: counts.length };
    }
    this.hourClients = [];
    this.baselinePeriod++;
    this.baselineHour = hour;
  }

  private evaluate(state: ClientState, ts: number): void {
    state.lastEvalTiles = state.tiles;
    state.lastEvalTs = ts;
    const features = measure(state, this.opts.geometryOf, this.baseline, this.cfg, this.opts.openDataOf);
    for (const verdict of [scoreHarvest(features, this.cfg), scoreFullDownloads(features, this.cfg)]) {
      if (verdict?.severity) this.raise(state, verdict, verdict.severity, features.fullyExposed, features.exposures, ts);
    }
  }

  private raise(
    state: ClientState,
    verdict: Verdict,
    severity: Severity,
    fullyExposed: number,
    exposures: ReturnType<typeof measure>['exposures'],
    ts: number,
  ): void {
    let byKind = this.open.get(state.key);
    if (!byKind) {
      byKind = new Map();
      this.open.set(state.key, byKind);
    }
    const prior = byKind.get(verdict.kind);
    if (prior) {
      // Update only when the evidence materially grew: severity rose or more images were exposed.
      const rose = SEVERITIES.indexOf(severity) > SEVERITIES.indexOf(prior.severity);
      if (!rose && fullyExposed <= prior.fullyExposed) return;
      prior.version++;
      prior.severity = rose ? severity : prior.severity;
      prior.score = Math.max(prior.score, verdict.score);
      prior.fullyExposed = Math.max(prior.fullyExposed, fullyExposed);
      this.counters.alertUpdates++;
      prior.last = this.buildAlert(state, verdict, prior, exposures);
      this.opts.onAlert(prior.last);
      return;
    }
    const open: OpenAlert = {
      id: alertId(verdict.kind, state.key, state.firstSeen),
      version: 1,
      severity,
      score: verdict.score,
      fullyExposed,
      detectedAt: ts,
      last: null,
    };
    byKind.set(verdict.kind, open);
    this.counters.alertsRaised++;
    open.last = this.buildAlert(state, verdict, open, exposures);
    this.opts.onAlert(open.last);
  }

  private buildAlert(state: ClientState, verdict: Verdict, open: OpenAlert, exposures: ReturnType<typeof measure>['exposures']): Alert {
    const images: AlertImage[] = exposures
      .filter((e) => e.isProtected)
      .slice(0, 20)
      .map((e) => ({ id: e.imageId, protocol: e.protocol, coverage: round3(e.coverage), scale: round3(e.scale), longEdge: e.longEdge, requests: e.requests }));
    return {
      id: open.id,
      kind: verdict.kind,
      severity: open.severity,
      score: open.score,
      client: { ip: state.ip, ips: [state.ip], userAgent: state.userAgent, subnet: subnetOf(state.ip) },
      firstSeen: new Date(state.firstSeen).toISOString(),
      detectedAt: new Date(open.detectedAt).toISOString(),
      lastSeen: new Date(state.lastSeen).toISOString(),
      images,
      reasons: verdict.reasons,
      version: open.version,
      status: 'open',
      evidence: { source: state.source, firstLine: state.firstLine, lastLine: state.lastLine },
    };
  }

  private evictIdle(now: number): void {
    for (const [key, state] of this.clients) {
      // Map order is recency: the first client still active ends the scan.
      if (now - state.lastSeen < this.cfg.idleMs) break;
      this.drop(key);
    }
  }

  private evictLeastRecent(now: number): void {
    const first = this.clients.keys().next();
    if (!first.done) this.drop(first.value, now);
  }

  /**
   * Stops tracking a client. Its open alerts are resolved: after inactivity at lastSeen + idleMs (event
   * time, so replays resolve identically), or at `now` when state pressure evicts an active client.
   */
  private drop(key: string, now?: number): void {
    const state = this.clients.get(key);
    if (state && state.tiles > state.lastEvalTiles) this.evaluate(state, state.lastSeen);
    const open = this.open.get(key);
    if (state && open) {
      const at = new Date(now ?? state.lastSeen + this.cfg.idleMs).toISOString();
      for (const o of open.values()) {
        if (!o.last) continue;
        this.counters.alertsResolved++;
        this.opts.onAlert({ ...o.last, version: o.version + 1, status: 'resolved', resolvedAt: at });
      }
    }
    this.clients.delete(key);
    this.open.delete(key);
    if (this.last !== null && this.last.key === key) this.last = null;
    this.counters.evicted++;
  }
}

/** Deterministic: the same client episode (key + first event time) and kind always get the same id. */

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

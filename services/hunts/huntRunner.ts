/**
 * Runs the hunts at event-time window ends: measures in ClickHouse (huntQueries), judges with the
 * pure core (core/hunts), reconciles with the open alerts, emits alert versions, and records each run
 * in `hunt_runs`. Used by replay (in event time, as data is stored), ingest/serve, and `tilewatch hunt`.
 */
import type { Alert } from '../core/alert.ts';
import {
  HUNT_KINDS,
  baselineOfHistogram,
  campaignFindings,
  hourOfDayBaselines,
  imageExposureFindings,
  isPlausibleCampaign,
  lowAndSlowFindings,
  type Finding,
} from '../core/hunts/findings.ts';
import type { HuntConfig } from '../core/hunts/huntConfig.ts';
import { reconcile, stateFromStored, type HuntAlertState } from '../core/hunts/reconcile.ts';
import { CELL_BUCKET_MS } from '../core/hunts/huntCells.ts';
import { IncrementalCampaigns, IncrementalExposure } from './incrementalHunts.ts';
import type { Store } from '../store/openStore.ts';
import { jsonEachRow } from '../store/openStore.ts';
import { clusterOf } from '../store/migrate.ts';
import { execute, readRows } from '../store/sql.ts';
import * as q from './huntQueries.ts';

export interface HuntRunnerOptions {
  readonly store: Store;
  readonly config: HuntConfig;
  readonly exclusions: q.HuntExclusions;
  readonly onAlert: (alert: Alert) => void;
  /** Called after each run with per-query timings (ms), for logs and the benchmark (`campaign-state` = pairs held by the incremental state). */
  readonly onRun?: (r: { windowEnd: number; timings: Record<string, number> }) => void;
  /** Wall clock for the ledger only. */
  readonly now?: () => number;
  /**
   * Campaigns and image exposure from incremental states (core/hunts/campaignState.ts,
   * exposureState.ts over `hunt_cells`): each window reads the buckets entering and leaving its
   * look-back, not the look-back. Only for a process that is the sole writer of what it hunts, in
   * event-time order (replay): rows stored into a bucket a state already holds must be announced with
   * {@link HuntRunner.noteLateRows}, which makes the next window rebuild. A hunt whose grid or
   * look-back is not whole buckets uses the SQL. Default false (the SQL over the look-back, as
   * `tilewatch hunt` and ingest run it).
   */
  readonly incrementalHunts?: boolean;
  /** Called when the incremental state found a bucket that changed unannounced and was rebuilt (a warning for the log). */
  readonly onStateRebuilt?: (err: Error) => void;
  /**
   * The incremental states' `asn:` groups: a client's hosting ASN (0 when not hosting) from the
   * process's own ASN table instead of the store's `asn_lookup` dictionary (the same data: the store
   * copy is written from it), which spares a replay loading the dictionary (~2.7 s, ~100 MB).
   */
  readonly hostingAsnOf?: (client: string) => number;
}

export interface HuntRunStats {
  readonly windowEnd: number;
  readonly findings: Record<string, number>;
  readonly emitted: number;
  readonly durationMs: number;
}

/**
 * Window ends on a fixed event-time grid (multiples of everyMs since the epoch), so replays repeat
 * them exactly. Only windows with data are scheduled: a window end E runs when some event fell in
 * [E - activitySpanMs, E), the longest step any hunt looks at for "active in its last step" (a hunt
 * finds nothing new without one). The schedule therefore grows with the data, never with the spread
 * of timestamps: events years apart cost a few windows each, not every window between them. An empty
 * stretch runs no windows; the lifecycle (resolving idle alerts) catches up at the next window that runs.
 *
 * Resume: {@link resumeAfter} with the newest window end `hunt_runs` holds makes a new process
 * continue where the last one stopped, as if it had never stopped: windows at or before it never run
 * again (data arriving for them late, or replayed again, only counts in {@link skipped}); re-running
 * them is an explicit backfill (`tilewatch hunt --from --to`).
 */
export class HuntSchedule {
  /** Window ends with data that have not run yet. */
  private readonly pending = new Set<number>();
  /** Window ends up to this one have run; later data for them does not schedule them again. */
  private ranUpTo = Number.NEGATIVE_INFINITY;
  private lastBucket = Number.NaN;
  /** Window ends with data that were not scheduled because they were at or before the last run (late or replayed again). */
  private readonly skippedEnds = new Set<number>();
  /** An event before the newest window run was observed since the last {@link takeLate}. */
  private lateSeen = false;

  constructor(
    private readonly everyMs: number,
    private readonly latenessMs: number,
    private readonly activitySpanMs: number = everyMs,
  ) {
    if (!(everyMs > 0) || !(activitySpanMs >= everyMs)) throw new Error(`invalid hunt schedule: every ${everyMs} ms, activity span ${activitySpanMs} ms`);
  }

  /** Notes an event (stored or about to be): O(1), and a no-op within the same grid step as the last one. */
  observe(ts: number): void {
    if (!Number.isFinite(ts)) return;
    if (ts < this.ranUpTo) this.lateSeen = true;
    const bucket = Math.floor(ts / this.everyMs);
    if (bucket === this.lastBucket) return;
    this.lastBucket = bucket;
    const last = bucket * this.everyMs + this.activitySpanMs;
    for (let end = (bucket + 1) * this.everyMs; end <= last; end += this.everyMs) {
      if (end > this.ranUpTo) this.pending.add(end);
      else this.skippedEnds.add(end);
    }
  }

  /** Whether an event fell before the newest window already run since the last call (and resets it): incremental hunt state must rebuild. */
  takeLate(): boolean {
    const late = this.lateSeen;
    this.lateSeen = false;
    return late;
  }

  /** Windows up to and including `end` have run already (in an earlier process): they are never scheduled again. */
  resumeAfter(end: number): void {
    if (!(end > this.ranUpTo)) return;
    this.ranUpTo = end;
    for (const e of this.pending) if (e <= end) this.pending.delete(e);
  }

  /** The newest window end that has run (this process or, after {@link resumeAfter}, an earlier one); -Infinity if none. */
  get completedUpTo(): number {
    return this.ranUpTo;
  }

  /** How many window ends saw data but were not scheduled, being at or before a window that had already run. */
  get skipped(): number {
    return this.skippedEnds.size;
  }

  /** Window ends (ascending) that are due once everything up to `storedUpTo` (event time) is stored. */
  due(storedUpTo: number): number[] {
    if (!Number.isFinite(storedUpTo)) return [];
    return this.take((end) => end + this.latenessMs <= storedUpTo);
  }

  /** At the end of a finite input: every remaining window up to and including the grid point after `lastEventTs`. */
  final(lastEventTs: number): number[] {
    if (!Number.isFinite(lastEventTs)) return [];
    const last = (Math.floor(lastEventTs / this.everyMs) + 1) * this.everyMs;
    return this.take((end) => end <= last);
  }

  private take(ready: (end: number) => boolean): number[] {
    const out: number[] = [];
    for (const end of this.pending) if (ready(end)) out.push(end);
    out.sort((a, b) => a - b);
    for (const end of out) this.pending.delete(end);
    if (out.length > 0) this.ranUpTo = Math.max(this.ranUpTo, out[out.length - 1]!);
    // Ends below the last run are never run (their data arrived too late); drop them.
    for (const end of this.pending) if (end <= this.ranUpTo) this.pending.delete(end);
    return out;
  }
}

/** The longest "active in the last step" span of the hunts: a window with no event in it finds nothing new. */
export function huntActivitySpanMs(cfg: HuntConfig): number {
  return Math.max(cfg.everyMs, cfg.lowAndSlow.everyMs, cfg.campaign.everyMs, cfg.imageExposure.everyMs);
}

export class HuntRunner {
  private state: HuntAlertState = { open: new Map(), closed: new Map() };
  /** Clients with a streaming (per-client) alert seen in this process; the alerts table covers earlier ones. */
  private readonly streamingAlerted = new Set<string>();
  /** Addresses named by hunt alerts (image exposure aside) loaded at start or raised since. */
  private readonly huntAccused = new Set<string>();
  private started = false;
  /** The newest window end every hunt has completed (`hunt_runs`, read at start, then advanced by each run). */
  private completed = Number.NEGATIVE_INFINITY;
  runs = 0;
  emitted = 0;
  totalMs = 0;
  private readonly campaign: IncrementalCampaigns | null;
  private readonly exposure: IncrementalExposure | null;
  /** hunt_cells is complete from here on (hunt_cells_retained; -Infinity: nothing dropped). */
  private cellsSince = Number.NEGATIVE_INFINITY;
  /** The newest retention cutoff already examined (a day's partitions are listed once). */
  private retainCheckedUpTo = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: HuntRunnerOptions) {
    const cfg = opts.config;
    const whole = (ms: number): boolean => ms > 0 && ms % CELL_BUCKET_MS === 0;
    const common = {
      exclusions: opts.exclusions,
      protectedBand: protectedBandOf(cfg.protectedScale),
      openDataLongEdge: cfg.openDataLongEdge,
      ...(opts.onStateRebuilt ? { onUnannouncedChange: opts.onStateRebuilt } : {}),
      ...(opts.hostingAsnOf ? { hostingAsnOf: opts.hostingAsnOf } : {}),
    };
    const incremental = opts.incrementalHunts === true && whole(cfg.everyMs);
    this.campaign =
      incremental && whole(cfg.campaign.everyMs) && whole(cfg.campaign.lookbackMs)
        ? new IncrementalCampaigns(opts.store.client, { ...common, lookbackMs: cfg.campaign.lookbackMs, stepMs: cfg.campaign.everyMs })
        : null;
    this.exposure =
      incremental && whole(cfg.imageExposure.everyMs) && whole(cfg.imageExposure.lookbackMs)
        ? new IncrementalExposure(opts.store.client, { ...common, lookbackMs: cfg.imageExposure.lookbackMs, stepMs: cfg.imageExposure.everyMs })
        : null;
  }

  /** Rows were stored into event time already hunted (late or out of order): the incremental state rebuilds at the next window. */
  noteLateRows(): void {
    this.campaign?.markDirty();
    this.exposure?.markDirty();
  }

  /** Times an incremental hunt state was built from its whole look-back (start, late rows, gaps). */
  get stateRebuilds(): number {
    return (this.campaign?.rebuilds ?? 0) + (this.exposure?.rebuilds ?? 0);
  }

  /** Loads the open hunt alerts from the store (restarts and replays continue them, never duplicate them). */
  async start(): Promise<void> {
    if (this.started) return;
    const bodies = await q.huntAlertBodies(this.opts.store.client, HUNT_KINDS);
    const stored = bodies.map((b) => JSON.parse(b) as Alert);
    this.state = stateFromStored(stored);
    for (const a of stored) this.noteHuntAlert(a);
    this.completed = await lastCompletedWindowEnd(this.opts.store);
    this.cellsSince = await cellsRetainedSince(this.opts.store);
    this.started = true;
  }

  /**
   * Where the hunts stopped: the newest window end recorded in `hunt_runs` for every hunt (the oldest
   * of the per-hunt newest ends; a run records all three at once), or -Infinity on a store never hunted.
   * Schedules resume after it (`HuntSchedule.resumeAfter`), so a restart never re-walks stored history.
   */
  async resumePoint(): Promise<number> {
    await this.start();
    return this.completed;
  }

  /** Tell the runner about per-client alerts (low-and-slow leaves clients already alerted to them). */
  noteStreamingAlert(a: Alert): void {
    if (a.kind === 'bulk-harvest' || a.kind === 'full-download') for (const ip of a.client.ips) this.streamingAlerted.add(ip);
  }

  private noteHuntAlert(a: Alert): void {
    if (a.kind !== 'image-exposure') for (const ip of a.client.ips) this.huntAccused.add(ip);
  }

  openAlerts(): Alert[] {
    return [...this.state.open.values()].map((o) => o.alert);
  }

  async runAt(windowEnd: number): Promise<HuntRunStats> {
    await this.start();
    const t0 = performance.now();
    const cfg = this.opts.config;
    const client = this.opts.store.client;
    const ex = this.opts.exclusions;
    const p: q.HuntParams = { protectedScale: cfg.protectedScale, openDataLongEdge: cfg.openDataLongEdge };
    const due = (every: number): boolean => windowEnd % Math.max(every, cfg.everyMs) === 0;
    const findings: Finding[] = [];
    const timings: Record<string, number> = {};
    let mark = performance.now();
    const lap = (name: string): void => {
      const t = performance.now();
      timings[name] = Math.round(t - mark);
      mark = t;
    };

    // low-and-slow
    const slowW = { from: windowEnd - cfg.lowAndSlow.lookbackMs, to: windowEnd, recentFrom: windowEnd - cfg.lowAndSlow.everyMs, cellsSince: this.cellsSince };
    const slow = !due(cfg.lowAndSlow.everyMs) ? [] : await q.slowClients(client, slowW, ex, p, { minTiles: cfg.lowAndSlow.minTiles, minActiveHours: cfg.lowAndSlow.minActiveHours });
    if (slow.length > 0) {
      const hist = await q.activeHoursHistogram(client, slowW, ex, p);
      const alerted = new Set([...this.streamingAlerted, ...(await q.alertedClients(client, slowW, ['bulk-harvest', 'full-download']))]);
      const candidates = slow.filter((r) => !(cfg.lowAndSlow.skipAlerted && alerted.has(r.client)));
      const coverage = await q.clientImageCoverage(client, slowW, ex, p, candidates.map((r) => r.client));
      // The population excludes the clients under suspicion (on a small server they would be their own p99).
      const counts = new Map(hist.map((h) => [h.hours, h.clients]));
      for (const r of slow) counts.set(r.activeHours, Math.max(0, (counts.get(r.activeHours) ?? 0) - 1));
      const population = baselineOfHistogram([...counts].filter(([, n]) => n > 0).map(([value, count]) => ({ value, count })));
      findings.push(...lowAndSlowFindings(candidates, coverage, population, alerted, cfg));
    }
    const nSlow = findings.length;
    lap('low-and-slow');

    // campaigns
    const campW = { from: windowEnd - cfg.campaign.lookbackMs, to: windowEnd, recentFrom: windowEnd - cfg.campaign.everyMs, cellsSince: this.cellsSince };
    const gates = { minMembers: cfg.campaign.minMembers, minUnionCoverage: cfg.campaign.minUnionCoverage };
    const incremental = this.campaign !== null && campW.from >= this.cellsSince ? this.campaign : null;
    const cands = !due(cfg.campaign.everyMs) ? [] : incremental ? await incremental.candidates(windowEnd, gates) : await q.campaignCandidates(client, campW, ex, p, gates);
    const plausible = cands.filter((c) => isPlausibleCampaign(c, cfg));
    if (plausible.length > 0) {
      const ips = [...new Set(plausible.flatMap((c) => c.members))];
      const images = [...new Set(plausible.map((c) => c.imageId))];
      const members = incremental ? await incremental.members(ips, images) : await q.campaignMembers(client, campW, ex, p, ips, images);
      const hourly = hourOfDayBaselines(await q.hourlyTilesByHourOfDay(client, campW));
      const peaks = await q.clientPeakHours(client, campW, ips);
      findings.push(...campaignFindings(plausible, members, hourly, peaks, cfg));
    }
    const nCampaign = findings.length - nSlow;
    lap('campaign');
    if (this.campaign) timings['campaign-state-pairs'] = this.campaign.held;

    // image exposure
    const expW = { from: windowEnd - cfg.imageExposure.lookbackMs, to: windowEnd, recentFrom: windowEnd - cfg.imageExposure.everyMs, cellsSince: this.cellsSince };
    if (due(cfg.imageExposure.everyMs)) {
      const expGates = { minUnionCoverage: cfg.imageExposure.minUnionCoverage, minEdgeRatio: cfg.imageExposure.minEdgeRatio };
      const exposed = this.exposure && expW.from >= this.cellsSince ? await this.exposure.exposed(windowEnd, expGates) : await q.exposedImages(client, expW, ex, p, expGates);
      if (exposed.length > 0) {
        // Attribution: who fetched these images like a script, and whom other alerts (this run's included) already accuse.
        const contributors = await q.imageContributors(client, expW, ex, p, [...new Set(exposed.map((r) => r.imageId))]);
        const accused = new Set([
          ...this.streamingAlerted,
          ...(await q.accusedClients(client, expW)),
          ...findings.flatMap((f) => f.client.ips),
          // Hunt alerts of this process, open or resolved (the alerts table may not have them yet).
          ...this.huntAccused,
        ]);
        findings.push(...imageExposureFindings(exposed, contributors, accused, cfg));
      }
    }
    const nExposure = findings.length - nSlow - nCampaign;
    lap('image-exposure');

    const versions = reconcile(this.state, findings, windowEnd, cfg);
    for (const a of versions) {
      this.noteHuntAlert(a);
      this.opts.onAlert(a);
    }
    const durationMs = performance.now() - t0;
    this.opts.onRun?.({ windowEnd, timings });
    this.runs++;
    this.emitted += versions.length;
    this.totalMs += durationMs;
    this.completed = Math.max(this.completed, windowEnd);
    const now = (this.opts.now ?? Date.now)();
    await this.opts.store.insertRaw({
      table: 'hunt_runs',
      format: 'JSONEachRow',
      body: jsonEachRow(
        (
          [
            ['low-and-slow', slowW, nSlow],
            ['campaign', campW, nCampaign],
            ['image-exposure', expW, nExposure],
          ] as const
        ).map(([hunt, w, n]) => ({ hunt, window_start: sqlTime(w.from), window_end: sqlTime(w.to), ran_at: sqlTime(now), alerts: n, duration_ms: timings[hunt] ?? 0 })),
      ),
    });
    await this.retainCells(windowEnd, now);
    return { windowEnd, findings: { 'low-and-slow': nSlow, campaign: nCampaign, 'image-exposure': nExposure }, emitted: versions.length, durationMs };
  }

  /**
   * Event-time retention of hunt_cells: drops the day partitions wholly before the day preceding the
   * longest look-back of this window, and records from when on hunt_cells is complete (windows that
   * reach further back — backfills — then read tile_requests). Not on a cluster, where hunt_cells is a
   * Distributed table over per-node parts (documented; drop partitions there by hand).
   */
  private async retainCells(windowEnd: number, now: number): Promise<void> {
    if (clusterOf(this.opts.store)) return;
    const cfg = this.opts.config;
    const longest = Math.max(cfg.lowAndSlow.lookbackMs, cfg.campaign.lookbackMs, cfg.imageExposure.lookbackMs);
    const cutoff = Math.floor((windowEnd - longest) / DAY_MS) * DAY_MS - DAY_MS;
    if (!(cutoff > this.cellsSince) || !(cutoff > this.retainCheckedUpTo)) return;
    this.retainCheckedUpTo = cutoff;
    const day = new Date(cutoff).toISOString().slice(0, 10).replace(/-/g, '');
    const parts = await readRows<{ partition: string }>(
      this.opts.store.client,
      `SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = 'hunt_cells' AND active AND partition < {day:String} ORDER BY partition`,
      { day },
    );
    if (parts.length === 0) return;
    for (const { partition } of parts) {
      // Partition ids of toYYYYMMDD come from system.parts; checked before they enter the statement.
      if (!/^\d{8}$/.test(partition)) throw new Error(`unexpected hunt_cells partition id ${JSON.stringify(partition)}`);
      await execute(this.opts.store.client, `ALTER TABLE hunt_cells DROP PARTITION ID '${partition}'`);
    }
    await this.opts.store.insertRaw({ table: 'hunt_cells_retained', format: 'JSONEachRow', body: jsonEachRow([{ since: sqlTime(cutoff).slice(0, 19), dropped_at: sqlTime(now) }]) });
    // The incremental states hold buckets of their look-back only, all after the cutoff: nothing to rebuild.
    this.cellsSince = cutoff;
  }
}

/** Coarsest high-resolution band of a protected scale, as the hunts' SQL computes it (huntQueries.baseParams). */
function protectedBandOf(protectedScale: number): number {
  return 0 - Math.round(Math.log2(protectedScale));
}

/** One small aggregate over the ledger (ordered by hunt, window_end): the newest completed window end per hunt. */
async function lastCompletedWindowEnd(store: Store): Promise<number> {
  const rows = await readRows<{ hunt: string; last: number }>(
    store.client,
    'SELECT hunt, toUnixTimestamp64Milli(max(window_end)) AS last FROM hunt_runs WHERE hunt IN {kinds:Array(String)} GROUP BY hunt',
    { kinds: [...HUNT_KINDS] },
  );
  return rows.length === 0 ? Number.NEGATIVE_INFINITY : Math.min(...rows.map((r) => r.last));
}

/** From when on hunt_cells is complete (the newest `hunt_cells_retained.since`), or -Infinity if nothing was dropped. */
async function cellsRetainedSince(store: Store): Promise<number> {
  const rows = await readRows<{ n: number; since: number }>(store.client, 'SELECT count() AS n, toUnixTimestamp(max(since)) * 1000 AS since FROM hunt_cells_retained');
  return rows[0] && rows[0].n > 0 ? rows[0].since : Number.NEGATIVE_INFINITY;
}

const DAY_MS = 86_400_000;

/** Window ends (epoch ms, ascending) in (from, to] that already have a run in `hunt_runs`: what a backfill runs again. */
export async function completedWindowEnds(store: Store, from: number, to: number): Promise<number[]> {
  const rows = await readRows<{ e: number }>(
    store.client,
    `SELECT DISTINCT toUnixTimestamp64Milli(window_end) AS e FROM hunt_runs
     WHERE window_end > fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND window_end <= fromUnixTimestamp64Milli({to:Int64}, 'UTC') ORDER BY e`,
    { from, to },
  );
  return rows.map((r) => r.e);
}

function sqlTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

import type { Logger } from 'pino';
import type { Alert } from '../../core/alert.ts';
import type { HuntConfig } from '../../core/hunts/huntConfig.ts';
import type { HuntExclusions } from '../../hunts/huntQueries.ts';
import { activeSteps } from '../../hunts/huntQueries.ts';
import { HuntRunner, HuntSchedule, completedWindowEnds, huntActivitySpanMs } from '../../hunts/huntRunner.ts';
import type { GroupPartitionState } from '../../kafka/groupOffsets.ts';
import type { Store } from '../../store/openStore.ts';
import { readRows } from '../../store/sql.ts';
import { parseWatermarkMetadata } from './offsetLedger.ts';

/**
 * The event time up to which every partition of the topic is stored by the group, from the group's
 * commits (each carries its partition's stored event-time watermark as metadata, offsetLedger.ts):
 * - an empty partition (no message ever, or all deleted) does not count;
 * - a partition with messages the group has not committed up to its end ("lagging") bounds the
 *   result by its committed watermark; nothing committed, or no watermark, bounds it to -Infinity;
 * - a partition committed to its end has passed every time written so far: it does not hold the
 *   others back (a message produced meanwhile is what the hunts' lateness allows for).
 * The minimum over lagging partitions, else the newest watermark of all (-Infinity when none).
 */
export function groupStoredUpTo(parts: readonly GroupPartitionState[]): number {
  let lagging = Number.POSITIVE_INFINITY;
  let newest = Number.NEGATIVE_INFINITY;
  for (const p of parts) {
    if (p.high <= p.low) continue;
    const wm = p.committed >= 0 ? (parseWatermarkMetadata(p.metadata) ?? Number.NEGATIVE_INFINITY) : Number.NEGATIVE_INFINITY;
    if (p.committed < p.high) lagging = Math.min(lagging, wm);
    newest = Math.max(newest, wm);
  }
  return lagging === Number.POSITIVE_INFINITY ? newest : lagging;
}

/** The shortest wall time between two looks for due windows (ms). */
const MIN_RUN_SPACING_MS = 1000;

export interface GroupHuntsOptions {
  readonly store: Store;
  readonly hunts: HuntConfig;
  readonly exclusions: HuntExclusions;
  readonly onAlert: (a: Alert) => void;
  /** After the windows of a check ran (alert sinks flush here). */
  readonly flush: () => Promise<void>;
  /** Whether this member holds the lease now (KafkaIngest.holdsHuntLease). Asked before every window. */
  readonly lease: () => boolean;
  /** The group's stored event-time watermark ({@link groupStoredUpTo} over the group's commits). */
  readonly storedUpTo: () => Promise<number>;
  /** A member that takes the lease waits this long before its first window (the old hunter's fence: the session timeout). */
  readonly handoverMs: number;
  /** How often the lease and the due windows are checked (wall ms). */
  readonly checkEveryMs: number;
  readonly logger: Logger;
  /** Wall clock. Default Date.now. */
  readonly now?: () => number;
}

/** One tenure of the lease: a runner and a schedule resumed from hunt_runs and the alerts table. */
interface Tenure {
  readonly runner: HuntRunner;
  readonly schedule: HuntSchedule;
  scannedTo: number;
  resumed: boolean;
}

/**
 * Hunts with a lease: of all `tilewatch ingest` members of a consumer group, only the one holding
 * partition 0 (the lease, KafkaIngest.holdsHuntLease) runs hunt windows. The group coordinator elects
 * it and moves it when the member leaves or its session expires, so failover takes a session timeout
 * and a rebalance. A member that takes the lease waits {@link GroupHuntsOptions.handoverMs}, then
 * starts a new tenure: a fresh HuntRunner (open hunt alerts reloaded from the alerts table) and a
 * schedule resumed after the newest window in hunt_runs. A window is due once every partition of the
 * group has stored past it ({@link groupStoredUpTo}) plus the lateness. Before every window the lease
 * is checked again (a member that lost it stops before its next window; one in flight finishes) and
 * hunt_runs is asked whether another hunter already ran it (then it is skipped).
 */
export class GroupHunts {
  private tenure: Tenure | null = null;
  private leaseSince: number | null = null;
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastRunAt = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly span: number;
  /** Windows this process ran (all tenures). */
  windowsRun = 0;

  constructor(private readonly opts: GroupHuntsOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'hunts' });
    this.span = huntActivitySpanMs(opts.hunts);
  }

  start(): void {
    this.timer ??= setInterval(() => this.check(), this.opts.checkEveryMs);
    this.timer.unref();
  }

  /** Stops checking and waits for the window in flight (if any). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.tenure = null;
    await this.running;
  }

  /** Streaming alerts of this process (low-and-slow leaves their clients to them). */
  noteStreamingAlert(a: Alert): void {
    this.tenure?.runner.noteStreamingAlert(a);
  }

  get hunting(): boolean {
    return this.tenure !== null;
  }

  /** Takes or drops the lease, then runs the due windows (one check at a time). */
  check(): void {
    if (this.running) return;
    if (!this.opts.lease()) {
      this.drop('lease lost');
      this.leaseSince = null;
      return;
    }
    const now = this.now();
    this.leaseSince ??= now;
    if (!this.tenure) {
      if (now - this.leaseSince < this.opts.handoverMs) return;
      const cfg = this.opts.hunts;
      this.tenure = {
        runner: new HuntRunner({
          store: this.opts.store,
          config: cfg,
          exclusions: this.opts.exclusions,
          onAlert: this.opts.onAlert,
          onRun: (r) => this.log.info({ windowEnd: new Date(r.windowEnd).toISOString(), ms: r.timings }, 'hunt window run'),
        }),
        schedule: new HuntSchedule(cfg.everyMs, cfg.latenessMs, this.span),
        scannedTo: Number.NEGATIVE_INFINITY,
        resumed: false,
      };
      this.log.info('hunt lease taken: this member holds partition 0 of the topic');
    }
    // Checks come from the timer and after every stored batch: the store and the group are asked at most once a second.
    if (now - this.lastRunAt < MIN_RUN_SPACING_MS) return;
    this.lastRunAt = now;
    const t = this.tenure;
    this.running = this.runDue(t)
      .catch((err: unknown) => this.log.error({ err }, 'hunt failed; will retry at the next check'))
      .finally(() => {
        this.running = null;
      });
  }

  private drop(why: string): void {
    if (!this.tenure) return;
    this.tenure = null;
    this.log.info({ why }, 'hunt lease released: no more windows from this member');
  }

  private async runDue(t: Tenure): Promise<void> {
    const { store, hunts } = this.opts;
    if (!t.resumed) {
      // Resume where the hunts stopped (hunt_runs), whoever ran them: no window of stored history twice.
      const resumed = await t.runner.resumePoint();
      t.schedule.resumeAfter(resumed);
      if (Number.isFinite(resumed)) t.scannedTo = resumed - this.span;
      t.resumed = true;
      this.log.info({ after: Number.isFinite(resumed) ? new Date(resumed).toISOString() : null }, 'hunts resumed after the newest window in hunt_runs');
    }
    // The event-time span stored so far (partition key min/max: answered from part metadata).
    const [span] = await readRows<{ lo: number; hi: number }>(store.client, 'SELECT toUnixTimestamp64Milli(min(ts)) AS lo, toUnixTimestamp64Milli(max(ts)) AS hi FROM tile_requests');
    if (!span || span.hi <= 0) return;
    // Windows follow the stored data (per-minute aggregate), so a stray old or future event costs a few windows, not the span between.
    for (const step of await activeSteps(store.client, hunts.everyMs, Math.max(span.lo, t.scannedTo), span.hi + 1)) t.schedule.observe(step);
    t.scannedTo = Math.max(t.scannedTo, span.hi - this.span);
    const upTo = Math.min(span.hi, await this.opts.storedUpTo());
    let ran = 0;
    for (const end of t.schedule.due(upTo)) {
      // A member that lost the lease stops before its next window (the tenure ends: a new one resumes from hunt_runs).
      if (this.tenure !== t || !this.opts.lease()) {
        this.drop('lease lost before a window');
        return;
      }
      if ((await completedWindowEnds(store, end - 1, end)).length > 0) {
        this.log.warn({ windowEnd: new Date(end).toISOString() }, 'hunt window already in hunt_runs (another hunter ran it): skipped');
        continue;
      }
      await t.runner.runAt(end);
      this.windowsRun++;
      ran++;
    }
    if (ran > 0) await this.opts.flush();
  }
}

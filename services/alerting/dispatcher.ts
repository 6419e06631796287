import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SEVERITIES, type Alert, type Severity } from '../core/alert.ts';
import { backoffDelay, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../core/retry.ts';
import type { Clock as SinkClock } from '../core/clock.ts';
import { systemClock } from '../runtime/systemClock.ts';
import { noticeSeverity } from './incidentNotice.ts';
import { isAppendable, memoryOutbox } from './memoryOutbox.ts';
import type { OutboxEntry, OutboxStore } from './outbox.ts';
import { isPermanentSinkError, type AlertSink } from './sink.ts';
import { createSinkMetrics, type DropReason, type SinkMetrics } from './sinkMetrics.ts';

/** A sink with its delivery settings; a bare {@link AlertSink} gets the dispatcher's defaults. */
export interface ConfiguredSink {
  readonly sink: AlertSink;
  readonly retry?: Partial<RetryPolicy>;
  /** Versions read from the outbox and held in memory for this sink at a time (one read). */
  readonly queueCapacity?: number;
  /**
   * Only notices whose incident is at or above this severity go to this sink (its resolution
   * included); a version without an incident is judged by its own severity. Default 'low' (all).
   */
  readonly minSeverity?: Severity;
}

export interface DispatcherOptions {
  readonly sinks: ReadonlyArray<AlertSink | ConfiguredSink>;
  readonly logger: Logger;
  /**
   * Where the versions to deliver and the sinks' positions are kept (outbox.ts `clickhouseOutbox`).
   * Default: in memory (memoryOutbox.ts), fed by {@link SinkDispatcher.push}; nothing survives the process.
   */
  readonly outbox?: OutboxStore;
  /** Wall clock for retries and mute expiry. Default: the system clock. */
  readonly clock?: SinkClock;
  /** [0, 1) for backoff jitter. Default Math.random. */
  readonly random?: () => number;
  /**
   * Default retry policy (per-sink `retry` overrides fields). Transient failures are retried until
   * they succeed; after `maxAttempts` attempts of one version the sink is reported stuck (logged at
   * error, again every `maxAttempts`). Default {@link DEFAULT_RETRY_POLICY}.
   */
  readonly retry?: Partial<RetryPolicy>;
  /** Default read size per sink. Default 1,000. */
  readonly queueCapacity?: number;
  /** Muted versions are not put in the outbox (the alerts table still stores them). Default: nothing muted. */
  readonly isMuted?: (alert: Alert, now: number) => boolean;
  /** Registers the `tilewatch_sink_*` metrics here when given. */
  readonly registry?: Registry;
}

export interface SinkStats {
  readonly name: string;
  /** Versions read and held in memory for the sink (waiting or in delivery). */
  readonly queued: number;
  /** Outbox positions stored that the sink has not passed. */
  readonly backlog: number;
  /** The last position the sink passed. */
  readonly cursor: number;
  readonly delivered: number;
  readonly failedAttempts: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
}

export interface DispatcherStats {
  readonly pushed: number;
  readonly muted: number;
  /** The highest outbox position stored (readable by the sinks). */
  readonly stored: number;
  readonly sinks: readonly SinkStats[];
}

export interface DrainResult {
  /** True when every sink passed every stored position before the timeout. */
  readonly drained: boolean;
  /** Versions still to deliver, over all sinks: they stay in the outbox for the next start. */
  readonly left: number;
  /** The same per sink (sinks with nothing left are absent). */
  readonly leftBySink: Readonly<Record<string, number>>;
}

/**
 * Delivers alert versions from a durable outbox to sinks, each sink at its own position.
 *
 * What holds:
 * - Every sink reads the outbox in position order, in batches of at most `queueCapacity` versions,
 *   and only what the store already holds (`stored(seq)`): a version reaches no sink before the
 *   alerts insert that wrote it succeeded. Sinks are independent: a slow or failing sink delays only
 *   itself; its backlog stays in the store (`tilewatch_sink_backlog`, `tilewatch_sink_lag_seconds`),
 *   never in memory beyond one batch, and nothing is dropped to make room.
 * - A failed delivery is retried with exponential backoff and jitter ({@link backoffDelay}), capped
 *   at `maxDelayMs`, until it succeeds: the sink does not move past a version it could not deliver.
 *   Only a {@link PermanentSinkError} (the destination refused this version for good) moves past it,
 *   logged and counted (`rejected`); so is a position found missing (`missing`: expired from the
 *   outbox, or a copy that failed), after a few re-reads.
 * - Positions passed are saved to the outbox store after each batch, before a retry wait, and at
 *   drain. After a restart delivery resumes after the saved position, so a version is delivered at
 *   least once; one delivered but not yet saved when the process died is delivered again, with the
 *   same idempotency key (alert id and version).
 * - `drain(timeoutMs)` waits (at most `timeoutMs` of clock time) until every sink passed every stored
 *   position, then aborts deliveries in flight, saves the positions and closes the sinks. What was not
 *   delivered stays in the outbox for the next start, and is reported. Call it once, at shutdown.
 */
export interface SinkDispatcher {
  /** The outbox's last position at start: the writer's next version gets one more. Rejects when the store could not be read. */
  readonly ready: Promise<number>;
  /**
   * Whether a version goes to the sinks at all (false when a mute rule matches: counted and logged).
   * The writer asks before giving the version an outbox position.
   */
  admits(alert: Alert): boolean;
  /** The store holds every outbox position up to `seq`: the sinks may read them. */
  stored(seq: number): void;
  /**
   * The in-memory outbox only (no `outbox` option): admits a version, appends it (a notice —
   * `incident.notice` set, or a version without an incident — for every sink, any other version only
   * for the sinks that want every version) and makes it readable at once.
   */
  push(alert: Alert): void;
  /** Some sink wants the versions that notify nobody (see AlertSink.everyVersion). */
  readonly wantsEveryVersion: boolean;
  stats(): DispatcherStats;
  drain(timeoutMs: number): Promise<DrainResult>;
  readonly sinkNames: readonly string[];
}

interface Lane {
  readonly sink: AlertSink;
  readonly policy: RetryPolicy;
  readonly capacity: number;
  readonly minRank: number;
  readonly everyVersion: boolean;
  /** Last position passed, and the last one saved. */
  cursor: number;
  saved: number;
  held: number;
  worker: Promise<void> | null;
  /** Resolves the lane's wait for new positions. */
  wake: (() => void) | null;
  delivered: number;
  failedAttempts: number;
  readonly dropped: Record<DropReason, number>;
}

const RANK: Readonly<Record<Severity, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;
/** Re-reads of a missing position before it is counted missing (replicas catching up). */
const GAP_REREADS = 5;
/** Bound on the lag bookkeeping of a sink stuck for long (one mark per second of stored positions otherwise). */
const MAX_MARKS = 4096;

export function createSinkDispatcher(opts: DispatcherOptions): SinkDispatcher {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const log = opts.logger.child({ component: 'sinks' });
  const outbox = opts.outbox ?? memoryOutbox();
  const defaultPolicy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
  const defaultCapacity = opts.queueCapacity ?? 1000;
  const abort = new AbortController();
  let closing = false;
  let pushed = 0;
  let muted = 0;
  /** Highest position the store holds. */
  let high = 0;
  /** When positions became readable, ascending: [last position of a step, clock time]. */
  const marks: Array<[number, number]> = [];

  const lanes: Lane[] = opts.sinks.map((s) => {
    const c: ConfiguredSink = 'sink' in s ? s : { sink: s };
    const policy: RetryPolicy = { ...defaultPolicy, ...c.retry };
    const capacity = c.queueCapacity ?? defaultCapacity;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`sink ${c.sink.name}: queueCapacity must be a positive integer, got ${capacity}`);
    if (!(policy.maxAttempts >= 1)) throw new RangeError(`sink ${c.sink.name}: maxAttempts must be at least 1`);
    return {
      sink: c.sink,
      policy,
      capacity,
      minRank: RANK[c.minSeverity ?? 'low'],
      everyVersion: c.sink.everyVersion === true,
      cursor: 0,
      saved: 0,
      held: 0,
      worker: null,
      wake: null,
      delivered: 0,
      failedAttempts: 0,
      dropped: { rejected: 0, missing: 0 },
    };
  });
  const names = lanes.map((l) => l.sink.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`two sinks are named "${dup}"; sink names must be unique`);

  /** Clock time position `seq` became readable (the start of this process for older ones). */
  const storedAt = (seq: number): number => {
    // The first mark covering seq (marks ascend in position and time).
    let lo = 0;
    let hi = marks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid]![0] < seq) lo = mid + 1;
      else hi = mid;
    }
    return marks[lo]?.[1] ?? clock.now();
  };
  /** Records that positions up to `seq` are readable now: one mark per second at most, at most MAX_MARKS (older ones merged, erring old). */
  const mark = (seq: number): void => {
    const now = clock.now();
    const last = marks[marks.length - 1];
    if (last && now - last[1] < 1000 && marks.length > 1) last[0] = seq;
    else marks.push([seq, now]);
    if (marks.length > MAX_MARKS) {
      const thinned: Array<[number, number]> = [];
      for (let i = 0; i < marks.length; i += 2) thinned.push([marks[Math.min(i + 1, marks.length - 1)]![0], marks[i]![1]]);
      marks.splice(0, marks.length, ...thinned);
    }
  };
  const pruneMarks = (): void => {
    const passed = Math.min(...lanes.map((l) => l.cursor));
    while (marks.length > 1 && marks[0]![0] <= passed) marks.shift();
  };
  const refreshGauges = (): void => {
    if (!metrics) return;
    const now = clock.now();
    for (const l of lanes) {
      metrics.backlog.set({ sink: l.sink.name }, Math.max(0, high - l.cursor));
      metrics.queueDepth.set({ sink: l.sink.name }, l.held);
      metrics.lagSeconds.set({ sink: l.sink.name }, l.cursor >= high ? 0 : Math.max(0, now - storedAt(l.cursor + 1)) / 1000);
    }
  };
  const metrics: SinkMetrics | null = opts.registry ? createSinkMetrics(opts.registry, refreshGauges) : null;

  // Where each sink stands. A sink never saved starts at the outbox's end now (a sink added to the
  // configuration does not receive the history), and that start is saved at once, so a crash before
  // its first delivery does not move it to a later end.
  const ready = (async () => {
    const [last, cursors] = await Promise.all([outbox.lastSeq(), outbox.cursors()]);
    const fresh: Array<{ sink: string; seq: number }> = [];
    for (const l of lanes) {
      const c = cursors.get(l.sink.name);
      l.cursor = l.saved = Math.min(c ?? last, last);
      if (c === undefined) fresh.push({ sink: l.sink.name, seq: last });
    }
    await outbox.saveCursors(fresh);
    high = Math.max(high, last);
    marks.unshift([last, clock.now()]);
    const behind = lanes.filter((l) => l.cursor < last).map((l) => ({ sink: l.sink.name, from: l.cursor + 1, to: last }));
    if (behind.length > 0) log.info({ origin: outbox.origin, behind }, 'alert versions left in the outbox by an earlier run: delivering them');
    refreshGauges();
    for (const l of lanes) start(l);
    return last;
  })();
  // A failed start is reported to whoever awaits `ready`; the lanes never run.
  ready.catch(() => undefined);

  let saving: Promise<void> = Promise.resolve();
  /** Saves the positions that moved; serialised; a failure is logged and the next save covers it. */
  const save = (): Promise<void> => {
    const run = saving.then(async () => {
      const moved = lanes.filter((l) => l.cursor > l.saved).map((l) => ({ lane: l, seq: l.cursor }));
      if (moved.length === 0) return;
      try {
        await outbox.saveCursors(moved.map((m) => ({ sink: m.lane.sink.name, seq: m.seq })));
        for (const m of moved) m.lane.saved = Math.max(m.lane.saved, m.seq);
      } catch (err) {
        log.warn({ err, origin: outbox.origin }, 'sink positions not saved (the store refused); saved with the next batch');
      }
    });
    saving = run;
    return run;
  };

  const drop = (l: Lane, seq: number, alert: Alert | null, reason: DropReason, count: number, err?: unknown): void => {
    l.dropped[reason] += count;
    metrics?.dropped.inc({ sink: l.sink.name, reason }, count);
    log.error({ sink: l.sink.name, seq, count, ...(alert ? { alert: { id: alert.id, version: alert.version } } : {}), reason, ...(err === undefined ? {} : { err }) }, 'alert version not delivered');
  };

  const wanted = (l: Lane, e: OutboxEntry): boolean => (e.notice || l.everyVersion) && RANK[noticeSeverity(e.alert)] >= l.minRank;

  /** Delivers until accepted (true) or refused for good (true, counted); false when aborted. */
  async function deliver(l: Lane, e: OutboxEntry): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await l.sink.deliver(e.alert, abort.signal);
        l.delivered++;
        metrics?.delivered.inc({ sink: l.sink.name });
        metrics?.deliverySeconds.observe({ sink: l.sink.name }, Math.max(0, clock.now() - storedAt(e.seq)) / 1000);
        return true;
      } catch (err) {
        if (abort.signal.aborted) return false;
        l.failedAttempts++;
        metrics?.failures.inc({ sink: l.sink.name });
        if (isPermanentSinkError(err)) {
          drop(l, e.seq, e.alert, 'rejected', 1, err);
          return true;
        }
        const delayMs = backoffDelay(attempt, l.policy, random);
        const fields = { sink: l.sink.name, alert: { id: e.alert.id, version: e.alert.version }, seq: e.seq, attempt, delayMs, err };
        if (attempt % l.policy.maxAttempts === 0) log.error(fields, 'alert sink still failing; the version stays in the outbox and is retried');
        else log.warn(fields, 'alert delivery failed; retrying');
        // What was passed so far is saved before the wait.
        if (attempt === 1) void save();
        try {
          await clock.sleep(delayMs, abort.signal);
        } catch {
          return false;
        }
      }
    }
  }

  /** Reads and delivers until caught up with `high` (true) or aborted (false). */
  async function catchUp(l: Lane): Promise<boolean> {
    let gapReads = 0;
    let readFailures = 0;
    while (l.cursor < high) {
      if (abort.signal.aborted) return false;
      let batch: OutboxEntry[];
      try {
        batch = await outbox.read(l.cursor, high, l.capacity);
        readFailures = 0;
      } catch (err) {
        const delayMs = backoffDelay(++readFailures, l.policy, random);
        log.warn({ sink: l.sink.name, err, delayMs }, 'alert outbox not readable; retrying');
        try {
          await clock.sleep(delayMs, abort.signal);
        } catch {
          return false;
        }
        continue;
      }
      const first = batch[0]?.seq ?? high + 1;
      if (first > l.cursor + 1) {
        // Positions missing before the first one found: re-read a few times, then count and pass them.
        if (gapReads++ < GAP_REREADS) {
          try {
            await clock.sleep(backoffDelay(gapReads, l.policy, random), abort.signal);
          } catch {
            return false;
          }
          continue;
        }
        const to = Math.min(first - 1, high);
        drop(l, l.cursor + 1, null, 'missing', to - l.cursor);
        l.cursor = to;
        gapReads = 0;
        continue;
      }
      gapReads = 0;
      l.held = batch.length;
      refreshGauges();
      let prev = -1;
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i]!;
        // A gap inside the batch: the next read sees it first.
        if (e.seq !== l.cursor + 1 && e.seq !== prev) break;
        if (e.seq === prev && lanes.indexOf(l) === 0)
          log.error({ origin: outbox.origin, seq: e.seq, alert: { id: e.alert.id, version: e.alert.version } }, 'two versions under one outbox position: two processes run under this outbox name; give each its own (for ingest, its own --client-id)');
        prev = e.seq;
        if (wanted(l, e) && !(await deliver(l, e))) {
          l.held = 0;
          return false;
        }
        // The position is passed once every entry under it is.
        if (batch[i + 1]?.seq !== e.seq) l.cursor = e.seq;
        l.held--;
        refreshGauges();
      }
      l.held = 0;
      pruneMarks();
      refreshGauges();
      await save();
    }
    return true;
  }

  async function run(l: Lane): Promise<void> {
    for (;;) {
      if (!(await catchUp(l))) return;
      refreshGauges();
      if (closing || abort.signal.aborted) return;
      await new Promise<void>((resolve) => {
        // Positions stored while the last read was finishing: no wait.
        if (l.cursor < high || closing) resolve();
        else l.wake = resolve;
      });
      l.wake = null;
    }
  }

  function start(l: Lane): void {
    if (l.worker) return;
    l.worker = run(l)
      .catch((err: unknown) => log.error({ sink: l.sink.name, err }, 'sink delivery loop failed'))
      .finally(() => {
        l.worker = null;
      });
  }

  const stored = (seq: number): void => {
    if (seq <= high) return;
    high = seq;
    mark(seq);
    refreshGauges();
    for (const l of lanes) l.wake?.();
  };

  const admits = (alert: Alert): boolean => {
    pushed++;
    let isMuted = false;
    try {
      isMuted = opts.isMuted?.(alert, clock.now()) ?? false;
    } catch (err) {
      log.error({ err, alert: { id: alert.id } }, 'mute rule check failed; delivering');
    }
    if (!isMuted) return true;
    muted++;
    metrics?.muted.inc();
    log.info({ alert: { id: alert.id, version: alert.version, kind: alert.kind } }, 'alert muted; not sent to sinks');
    return false;
  };

  return {
    ready,
    sinkNames: names,
    wantsEveryVersion: lanes.some((l) => l.everyVersion),
    admits,
    stored,
    push(alert) {
      if (!isAppendable(outbox)) throw new Error('push() needs the in-memory outbox; a stored outbox is fed by stored()');
      if (closing) {
        log.warn({ alert: { id: alert.id, version: alert.version } }, 'alert version pushed after drain; not delivered');
        return;
      }
      if (!admits(alert)) return;
      const notice = alert.incident === undefined || alert.incident.notice !== undefined;
      if (!notice && !lanes.some((l) => l.everyVersion)) return;
      stored(outbox.append(alert, notice));
    },
    stats() {
      return {
        pushed,
        muted,
        stored: high,
        sinks: lanes.map((l) => ({
          name: l.sink.name,
          queued: l.held,
          backlog: Math.max(0, high - l.cursor),
          cursor: l.cursor,
          delivered: l.delivered,
          failedAttempts: l.failedAttempts,
          dropped: { ...l.dropped },
        })),
      };
    },
    async drain(timeoutMs) {
      closing = true;
      await ready.catch(() => undefined);
      for (const l of lanes) l.wake?.();
      const timer = new AbortController();
      const idle = (async () => {
        while (lanes.some((l) => l.worker !== null)) await Promise.all(lanes.map(async (l) => l.worker ?? undefined));
        return true;
      })();
      const drained = (await Promise.race([idle, clock.sleep(timeoutMs, timer.signal).then(() => false, () => false)])) && lanes.every((l) => l.cursor >= high);
      timer.abort();
      abort.abort(new Error('sink dispatcher drained'));
      await idle;
      await save();
      const leftBySink: Record<string, number> = {};
      let left = 0;
      for (const l of lanes) {
        if (l.cursor >= high) continue;
        const n = await outbox.count(l.cursor, high, l.everyVersion).catch(() => high - l.cursor);
        if (n === 0) continue;
        leftBySink[l.sink.name] = n;
        left += n;
      }
      if (left > 0) log.warn({ origin: outbox.origin, left: leftBySink }, 'alert versions not delivered before shutdown: they stay in the outbox and are delivered after the next start');
      refreshGauges();
      await Promise.all(
        lanes.map((l) => l.sink.close?.().catch((err: unknown) => log.error({ sink: l.sink.name, err }, 'sink close failed'))),
      );
      return { drained, left, leftBySink };
    },
  };
}

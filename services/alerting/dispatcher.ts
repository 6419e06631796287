import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SEVERITIES, type Alert, type Severity } from '../core/alert.ts';
import { backoffDelay, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../core/retry.ts';
import type { Clock as SinkClock } from '../core/clock.ts';
import { systemClock } from '../runtime/systemClock.ts';
import { noticeSeverity } from './incidentNotice.ts';
import { isPermanentSinkError, type AlertSink } from './sink.ts';
import { createSinkMetrics, type DropReason, type SinkMetrics } from './sinkMetrics.ts';

/** A sink with its delivery settings; a bare {@link AlertSink} gets the dispatcher's defaults. */
export interface ConfiguredSink {
  readonly sink: AlertSink;
  readonly retry?: Partial<RetryPolicy>;
  /** Versions waiting per sink before the oldest is dropped. */
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
  /** Wall clock for retries and mute expiry. Default: the system clock. */
  readonly clock?: SinkClock;
  /** [0, 1) for backoff jitter. Default Math.random. */
  readonly random?: () => number;
  /** Default retry policy (per-sink `retry` overrides fields). Default {@link DEFAULT_RETRY_POLICY}. */
  readonly retry?: Partial<RetryPolicy>;
  /** Default queue capacity per sink. Default 1,000. */
  readonly queueCapacity?: number;
  /** Muted versions are not delivered anywhere (the alerts table still stores them). Default: nothing muted. */
  readonly isMuted?: (alert: Alert, now: number) => boolean;
  /** Registers the `tilewatch_sink_*` metrics here when given. */
  readonly registry?: Registry;
}

export interface SinkStats {
  readonly name: string;
  /** Versions waiting, plus the one in delivery. */
  readonly queued: number;
  readonly delivered: number;
  readonly failedAttempts: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
}

export interface DispatcherStats {
  readonly pushed: number;
  readonly muted: number;
  readonly sinks: readonly SinkStats[];
}

export interface DrainResult {
  /** True when every queue emptied before the timeout. */
  readonly drained: boolean;
  /** Versions given up at the timeout (queued or in delivery), over all sinks. */
  readonly abandoned: number;
}

/**
 * Fans incident notices (the alert versions whose incident opened, escalated or resolved) out to
 * sinks without ever blocking the caller.
 *
 * What holds:
 * - `push` returns at once. Each sink has its own bounded FIFO queue and one delivery loop, so a
 *   slow or failing sink delays only itself, and versions reach each sink in push order (hence in
 *   version order per alert id). When a queue is full its oldest waiting version is dropped and
 *   counted (`queue_full`); a later version of the same alert supersedes it.
 * - A failed delivery is retried with exponential backoff and jitter ({@link backoffDelay}) up to
 *   `maxAttempts`; a {@link PermanentSinkError} is not retried. Either way the version is then
 *   given up, logged and counted, and the loop moves on.
 * - `drain(timeoutMs)` stops accepting versions, waits for the queues to empty (retries included)
 *   for at most `timeoutMs` of clock time, then abandons what is left, aborts deliveries in flight
 *   and closes the sinks. Call it once, at shutdown.
 */
export interface SinkDispatcher {
  /**
   * Queues a version for the sinks: a notice (`incident.notice` set, or a version without an
   * incident) for every sink, any other version only for the sinks that want every version.
   */
  push(alert: Alert): void;
  /** Some sink wants the versions that notify nobody (see AlertSink.everyVersion). */
  readonly wantsEveryVersion: boolean;
  stats(): DispatcherStats;
  drain(timeoutMs: number): Promise<DrainResult>;
  readonly sinkNames: readonly string[];
}

interface Pending {
  readonly alert: Alert;
  readonly pushedAt: number;
}

interface Lane {
  readonly sink: AlertSink;
  readonly policy: RetryPolicy;
  readonly capacity: number;
  readonly minRank: number;
  readonly queue: Pending[];
  current: Pending | null;
  worker: Promise<void> | null;
  delivered: number;
  failedAttempts: number;
  readonly dropped: Record<DropReason, number>;
}

const RANK: Readonly<Record<Severity, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

export function createSinkDispatcher(opts: DispatcherOptions): SinkDispatcher {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const log = opts.logger.child({ component: 'sinks' });
  const metrics: SinkMetrics | null = opts.registry ? createSinkMetrics(opts.registry) : null;
  const defaultPolicy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
  const defaultCapacity = opts.queueCapacity ?? 1000;
  const abort = new AbortController();
  let closing = false;
  let pushed = 0;
  let muted = 0;

  const lanes: Lane[] = opts.sinks.map((s) => {
    const c: ConfiguredSink = 'sink' in s ? s : { sink: s };
    const policy: RetryPolicy = { ...defaultPolicy, ...c.retry };
    const capacity = c.queueCapacity ?? defaultCapacity;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`sink ${c.sink.name}: queueCapacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) throw new RangeError(`sink ${c.sink.name}: maxAttempts must be a positive integer`);
    return {
      sink: c.sink,
      policy,
      capacity,
      minRank: RANK[c.minSeverity ?? 'low'],
      queue: [],
      current: null,
      worker: null,
      delivered: 0,
      failedAttempts: 0,
      dropped: { queue_full: 0, rejected: 0, retries_exhausted: 0, shutdown: 0 },
    };
  });
  const names = lanes.map((l) => l.sink.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`two sinks are named "${dup}"; sink names must be unique`);

  const depth = (l: Lane): number => l.queue.length + (l.current ? 1 : 0);
  const setDepth = (l: Lane): void => {
    metrics?.queueDepth.set({ sink: l.sink.name }, depth(l));
  };
  for (const l of lanes) setDepth(l);

  const drop = (l: Lane, p: Pending, reason: DropReason, err?: unknown): void => {
    l.dropped[reason]++;
    metrics?.dropped.inc({ sink: l.sink.name, reason });
    const fields = { sink: l.sink.name, alert: { id: p.alert.id, version: p.alert.version }, reason, ...(err === undefined ? {} : { err }) };
    if (reason === 'shutdown') log.warn(fields, 'alert version not delivered before shutdown');
    else log.error(fields, 'alert version dropped');
  };

  async function deliverWithRetries(l: Lane, p: Pending): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await l.sink.deliver(p.alert, abort.signal);
        l.delivered++;
        metrics?.delivered.inc({ sink: l.sink.name });
        metrics?.deliverySeconds.observe({ sink: l.sink.name }, Math.max(0, clock.now() - p.pushedAt) / 1000);
        return;
      } catch (err) {
        if (abort.signal.aborted) return drop(l, p, 'shutdown');
        l.failedAttempts++;
        metrics?.failures.inc({ sink: l.sink.name });
        if (isPermanentSinkError(err)) return drop(l, p, 'rejected', err);
        if (attempt >= l.policy.maxAttempts) return drop(l, p, 'retries_exhausted', err);
        const delayMs = backoffDelay(attempt, l.policy, random);
        log.warn({ sink: l.sink.name, alert: { id: p.alert.id, version: p.alert.version }, attempt, delayMs, err }, 'alert delivery failed; retrying');
        try {
          await clock.sleep(delayMs, abort.signal);
        } catch {
          return drop(l, p, 'shutdown');
        }
      }
    }
  }

  async function run(l: Lane): Promise<void> {
    for (;;) {
      const next = l.queue.shift();
      if (next === undefined || abort.signal.aborted) {
        if (next !== undefined) l.queue.unshift(next);
        break;
      }
      l.current = next;
      try {
        await deliverWithRetries(l, next);
      } finally {
        l.current = null;
        setDepth(l);
      }
    }
  }

  const start = (l: Lane): void => {
    if (l.worker) return;
    l.worker = run(l)
      .catch((err: unknown) => log.error({ sink: l.sink.name, err }, 'sink delivery loop failed'))
      .finally(() => {
        l.worker = null;
        // A push may have landed between the loop's last check and this point.
        if (l.queue.length > 0 && !abort.signal.aborted) start(l);
      });
  };

  return {
    sinkNames: names,
    wantsEveryVersion: lanes.some((l) => l.sink.everyVersion === true),
    push(alert) {
      if (closing) {
        log.warn({ alert: { id: alert.id, version: alert.version } }, 'alert version pushed after drain; not delivered');
        return;
      }
      pushed++;
      const now = clock.now();
      let isMuted = false;
      try {
        isMuted = opts.isMuted?.(alert, now) ?? false;
      } catch (err) {
        log.error({ err, alert: { id: alert.id } }, 'mute rule check failed; delivering');
      }
      if (isMuted) {
        muted++;
        metrics?.muted.inc();
        log.info({ alert: { id: alert.id, version: alert.version, kind: alert.kind } }, 'alert muted; not sent to sinks');
        return;
      }
      const rank = RANK[noticeSeverity(alert)];
      const notice = alert.incident === undefined || alert.incident.notice !== undefined;
      for (const l of lanes) {
        if (rank < l.minRank) continue;
        if (!notice && l.sink.everyVersion !== true) continue;
        if (l.queue.length >= l.capacity) {
          const oldest = l.queue.shift();
          if (oldest) drop(l, oldest, 'queue_full');
        }
        l.queue.push({ alert, pushedAt: now });
        setDepth(l);
        start(l);
      }
    },
    stats() {
      return {
        pushed,
        muted,
        sinks: lanes.map((l) => ({
          name: l.sink.name,
          queued: depth(l),
          delivered: l.delivered,
          failedAttempts: l.failedAttempts,
          dropped: { ...l.dropped },
        })),
      };
    },
    async drain(timeoutMs) {
      closing = true;
      const timer = new AbortController();
      const idle = (async () => {
        // Workers restart themselves while their queue is non-empty; wait until none is running.
        while (lanes.some((l) => l.worker !== null)) await Promise.all(lanes.map(async (l) => l.worker ?? undefined));
        return true;
      })();
      const drained = await Promise.race([idle, clock.sleep(timeoutMs, timer.signal).then(() => false, () => false)]);
      timer.abort();
      let abandoned = 0;
      if (!drained) {
        abort.abort(new Error('sink dispatcher drained'));
        for (const l of lanes) {
          if (l.current) abandoned++;
          for (const p of l.queue.splice(0)) {
            abandoned++;
            drop(l, p, 'shutdown');
          }
          setDepth(l);
        }
      }
      await Promise.all(
        lanes.map((l) => l.sink.close?.().catch((err: unknown) => log.error({ sink: l.sink.name, err }, 'sink close failed'))),
      );
      return { drained, abandoned };
    },
  };
}

/**
 * The sink dispatcher on a fake clock, over the in-memory outbox: fan-out, per-sink order, backoff
 * with jitter, transient failures retried until they succeed (never dropped), permanent failures,
 * bounded reads with the rest left as backlog, mute rules, per-sink severity, drain leaving what is
 * undelivered in the outbox, a restart resuming from the saved positions, metrics.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { backoffDelay } from '../../../services/core/retry.ts';
import { createSinkDispatcher } from '../../../services/alerting/dispatcher.ts';
import { memoryOutbox } from '../../../services/alerting/memoryOutbox.ts';
import { createMuteRuleSet } from '../../../services/alerting/muteRules.ts';
import { PermanentSinkError, type AlertSink } from '../../../services/alerting/sink.ts';
import type { Alert } from '../../../services/core/alert.ts';
import { makeAlert } from '../../support/alerts.ts';
import { FakeClock, flush } from '../../support/fakeClock.ts';

function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

const tag = (a: Alert): string => `${a.id}:${a.version}`;

/**
 * A sink that records attempts and deliveries. `fail(alert, attempt)` returns an error to throw
 * (or undefined to accept); `gate` holds every delivery until released.
 */
class TestSink implements AlertSink {
  readonly attempts: string[] = [];
  readonly delivered: string[] = [];
  readonly signals: AbortSignal[] = [];
  closed = false;
  private readonly tries = new Map<string, number>();
  private gates: Array<() => void> = [];
  held = false;
  constructor(
    readonly name: string,
    private readonly fail: (a: Alert, attempt: number) => Error | undefined = () => undefined,
  ) {}
  async deliver(a: Alert, signal?: AbortSignal): Promise<void> {
    const n = (this.tries.get(tag(a)) ?? 0) + 1;
    this.tries.set(tag(a), n);
    this.attempts.push(tag(a));
    if (signal) this.signals.push(signal);
    if (this.held) await new Promise<void>((r) => this.gates.push(r));
    const err = this.fail(a, n);
    if (err) throw err;
    this.delivered.push(tag(a));
  }
  release(): void {
    this.held = false;
    for (const g of this.gates.splice(0)) g();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const A = (id: string, version = 1, over: Partial<Alert> = {}): Alert => makeAlert({ id, version, ...over });

/** What a writer does with a stored outbox: append, then tell the dispatcher the store holds it. */
const stored = (d: ReturnType<typeof createSinkDispatcher>, outbox: ReturnType<typeof memoryOutbox>, a: Alert): void => d.stored(outbox.append(a, true));

describe('backoffDelay', () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
  test('doubles per failure within the upper half of each step, capped', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, () => 0)), [50, 100, 200, 400, 500, 500]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, () => 0.999999)), [100, 200, 400, 800, 1000, 1000]);
  });
});

describe('sink dispatcher', () => {
  test('push returns before any delivery completes, and every sink gets every version', async () => {
    const clock = new FakeClock();
    const a = new TestSink('a');
    const b = new TestSink('b');
    a.held = true;
    const d = createSinkDispatcher({ sinks: [a, b], logger: captureLogger().logger, clock });
    d.push(A('tw-00000000000000000001'));
    d.push(A('tw-00000000000000000002'));
    // Sink a is stuck; push did not wait for it and sink b is unaffected.
    await flush();
    assert.deepEqual(a.delivered, []);
    assert.deepEqual(b.delivered, ['tw-00000000000000000001:1', 'tw-00000000000000000002:1']);
    assert.equal(d.stats().sinks[0]!.queued, 2);
    a.release();
    await flush();
    assert.deepEqual(a.delivered, ['tw-00000000000000000001:1', 'tw-00000000000000000002:1']);
    assert.deepEqual(await d.drain(1000), { drained: true, left: 0, leftBySink: {} });
    assert.ok(a.closed && b.closed, 'drain closes the sinks');
  });

  test('versions that notify nobody go only to sinks that follow every version (the block list)', async () => {
    const clock = new FakeClock();
    const pager = new TestSink('pager');
    const follower = Object.assign(new TestSink('follower'), { everyVersion: true });
    const d = createSinkDispatcher({ sinks: [pager, follower], logger: captureLogger().logger, clock });
    assert.equal(d.wantsEveryVersion, true);
    const inc = { id: 'ti-00000000000000000001', severity: 'critical' as const, status: 'open' as const, alerts: 1 };
    d.push(A('tw-00000000000000000001', 1, { incident: { ...inc, notice: 'opened' } }));
    d.push(A('tw-00000000000000000001', 2, { incident: inc }));
    d.push(A('tw-00000000000000000002', 1));
    await flush();
    assert.deepEqual(pager.delivered, ['tw-00000000000000000001:1', 'tw-00000000000000000002:1'], 'the update between notices pages nobody');
    assert.deepEqual(follower.delivered, ['tw-00000000000000000001:1', 'tw-00000000000000000001:2', 'tw-00000000000000000002:1']);
    assert.equal(createSinkDispatcher({ sinks: [new TestSink('x')], logger: captureLogger().logger, clock }).wantsEveryVersion, false);
  });

  test('retries with exponential backoff and jitter, keeping per-alert order behind a failing version', async () => {
    const clock = new FakeClock();
    // The first version of alert X fails twice; everything else succeeds at once.
    const s = new TestSink('s', (a, n) => (a.id === 'tw-x0000000000000000000' && a.version === 1 && n <= 2 ? new Error('503') : undefined));
    const d = createSinkDispatcher({ sinks: [s], logger: captureLogger().logger, clock, random: () => 0.5, retry: { baseDelayMs: 100, maxDelayMs: 10_000, maxAttempts: 5 } });
    d.push(A('tw-x0000000000000000000', 1));
    d.push(A('tw-x0000000000000000000', 2));
    d.push(A('tw-y0000000000000000000', 1));
    await clock.runUntil(() => s.delivered.length === 3);
    assert.deepEqual(s.delivered, ['tw-x0000000000000000000:1', 'tw-x0000000000000000000:2', 'tw-y0000000000000000000:1']);
    assert.deepEqual(s.attempts.slice(0, 3), ['tw-x0000000000000000000:1', 'tw-x0000000000000000000:1', 'tw-x0000000000000000000:1']);
    // equal jitter at 0.5: 0.75 × 100, 0.75 × 200
    assert.deepEqual(clock.sleeps, [75, 150]);
    const st = d.stats().sinks[0]!;
    assert.equal(st.delivered, 3);
    assert.equal(st.failedAttempts, 2);
    assert.equal(st.queued, 0);
  });

  test('a transient failure is retried past maxAttempts (reported stuck, never dropped) and holds the versions behind it; a permanent error is counted and passed', async () => {
    const clock = new FakeClock();
    const { logger, lines } = captureLogger();
    const s = new TestSink('s', (a, n) => (a.id === 'tw-down000000000000000' && n <= 6 ? new Error('ECONNREFUSED') : a.id === 'tw-bad0000000000000000' ? new PermanentSinkError('HTTP 400') : undefined));
    const d = createSinkDispatcher({ sinks: [s], logger, clock, random: () => 0, retry: { baseDelayMs: 1000, maxDelayMs: 3000, maxAttempts: 4 } });
    d.push(A('tw-down000000000000000'));
    d.push(A('tw-bad0000000000000000'));
    d.push(A('tw-ok00000000000000000'));
    await clock.advance(4000);
    assert.deepEqual(s.delivered, [], 'nothing passes the failing version');
    assert.equal(d.stats().sinks[0]!.backlog, 3);
    await clock.runUntil(() => s.delivered.length === 2);
    assert.deepEqual(s.delivered, ['tw-down000000000000000:1', 'tw-ok00000000000000000:1']);
    assert.equal(s.attempts.filter((t) => t.startsWith('tw-down')).length, 7);
    assert.equal(s.attempts.filter((t) => t.startsWith('tw-bad')).length, 1);
    assert.deepEqual(clock.sleeps, [500, 1000, 1500, 1500, 1500, 1500], 'six waits between seven attempts, capped at maxDelayMs');
    const st = d.stats().sinks[0]!;
    assert.equal(st.failedAttempts, 7);
    assert.deepEqual(st.dropped, { rejected: 1, missing: 0 });
    assert.equal(st.backlog, 0);
    assert.deepEqual(
      lines.filter((l) => l.level === 50).map((l) => [l.msg, l.attempt ?? l.reason]),
      [
        ['alert sink still failing; the version stays in the outbox and is retried', 4],
        ['alert version not delivered', 'rejected'],
      ],
    );
  });

  test('a held sink holds at most queueCapacity versions in memory; the rest waits in the outbox as backlog and nothing is dropped', async () => {
    const clock = new FakeClock();
    const s = new TestSink('s');
    s.held = true;
    const registry = new Registry();
    const d = createSinkDispatcher({ sinks: [{ sink: s, queueCapacity: 2 }], logger: captureLogger().logger, clock, registry });
    for (let v = 1; v <= 5; v++) d.push(A('tw-q0000000000000000000', v));
    await flush();
    const gauge = async (name: string): Promise<Array<[string | number | undefined, number]>> => (await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels.sink, v.value]);
    assert.equal(d.stats().sinks[0]!.queued, 2, 'one read of two versions');
    assert.deepEqual(await gauge('tilewatch_sink_queue_depth'), [['s', 2]]);
    assert.deepEqual(await gauge('tilewatch_sink_backlog'), [['s', 5]]);
    await clock.advance(90_000);
    assert.deepEqual(await gauge('tilewatch_sink_lag_seconds'), [['s', 90]], 'the oldest undelivered version was stored 90 s ago');
    s.release();
    await clock.runUntil(() => s.delivered.length === 5);
    assert.deepEqual(s.delivered, [1, 2, 3, 4, 5].map((v) => `tw-q0000000000000000000:${v}`));
    assert.deepEqual(await gauge('tilewatch_sink_backlog'), [['s', 0]]);
    assert.deepEqual(await gauge('tilewatch_sink_lag_seconds'), [['s', 0]]);
    assert.deepEqual(await gauge('tilewatch_sink_queue_depth'), [['s', 0]]);
    assert.deepEqual((await registry.getSingleMetric('tilewatch_sink_dropped_total')!.get()).values, []);
  });

  test('muted versions reach no sink; the predicate sees the clock', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 5));
    const s = new TestSink('s');
    const seen: number[] = [];
    const registry = new Registry();
    const d = createSinkDispatcher({
      sinks: [s],
      logger: captureLogger().logger,
      clock,
      registry,
      isMuted: (a, now) => {
        seen.push(now);
        return a.kind === 'full-download';
      },
    });
    d.push(A('tw-m0000000000000000000', 1, { kind: 'full-download' }));
    d.push(A('tw-n0000000000000000000', 1));
    await flush();
    assert.deepEqual(s.delivered, ['tw-n0000000000000000000:1']);
    assert.deepEqual(seen, [Date.UTC(2026, 0, 5), Date.UTC(2026, 0, 5)]);
    assert.equal(d.stats().muted, 1);
    assert.equal((await registry.getSingleMetric('tilewatch_alerts_muted_total')!.get()).values[0]!.value, 1);
  });

  test('a sink with minSeverity only gets versions at or above it', async () => {
    const clock = new FakeClock();
    const all = new TestSink('all');
    const high = new TestSink('high');
    const d = createSinkDispatcher({ sinks: [all, { sink: high, minSeverity: 'high' }], logger: captureLogger().logger, clock });
    d.push(A('tw-s0000000000000000000', 1, { severity: 'medium' }));
    d.push(A('tw-s0000000000000000000', 2, { severity: 'high' }));
    d.push(A('tw-s0000000000000000000', 3, { severity: 'critical', status: 'resolved', resolvedAt: '2026-01-05T12:00:00.000Z' }));
    await flush();
    assert.equal(all.delivered.length, 3);
    assert.deepEqual(high.delivered, ['tw-s0000000000000000000:2', 'tw-s0000000000000000000:3']);
  });

  test('minSeverity judges the incident, not the alert behind the notice: a low member escalating a critical incident pages, a high alert in a medium incident does not', async () => {
    const clock = new FakeClock();
    const high = new TestSink('high');
    const d = createSinkDispatcher({ sinks: [{ sink: high, minSeverity: 'high' }], logger: captureLogger().logger, clock });
    const inc = (severity: Alert['severity'], notice: 'opened' | 'escalated' | 'resolved') => ({ id: 'ti-i0000000000000000000', severity, status: notice === 'resolved' ? ('resolved' as const) : ('open' as const), alerts: 2, notice });
    d.push(A('tw-i0000000000000000001', 1, { severity: 'high', incident: inc('medium', 'opened') }));
    d.push(A('tw-i0000000000000000002', 1, { severity: 'low', incident: inc('critical', 'escalated') }));
    d.push(A('tw-i0000000000000000002', 2, { severity: 'low', status: 'resolved', resolvedAt: '2026-01-05T12:00:00.000Z', incident: inc('critical', 'resolved') }));
    await flush();
    assert.deepEqual(high.delivered, ['tw-i0000000000000000002:1', 'tw-i0000000000000000002:2']);
  });

  test('mute rules still match the alert behind a notice (its addresses, kind, user agent, images)', async () => {
    const clock = new FakeClock();
    const s = new TestSink('s');
    const d = createSinkDispatcher({ sinks: [s], logger: captureLogger().logger, clock, isMuted: createMuteRuleSet([{ id: 'partner', type: 'mute', cidr: '198.51.100.0/24' }]).isMuted });
    const incident = { id: 'ti-j0000000000000000000', severity: 'high' as const, status: 'open' as const, alerts: 1, notice: 'opened' as const };
    d.push(A('tw-j0000000000000000001', 1, { incident, client: { ip: '198.51.100.9', ips: ['198.51.100.9'], userAgent: 'partner-sync/1.0', subnet: '198.51.100.0/24' } }));
    d.push(A('tw-j0000000000000000002', 1, { incident: { ...incident, id: 'ti-j0000000000000000002' } }));
    await flush();
    assert.deepEqual(s.delivered, ['tw-j0000000000000000002:1']);
    assert.equal(d.stats().muted, 1);
  });

  test('drain at its timeout aborts the retry wait, leaves the undelivered versions in the outbox, reports them and closes the sinks', async () => {
    const clock = new FakeClock();
    const { logger, lines } = captureLogger();
    const s = new TestSink('s', () => new Error('503'));
    const ok = new TestSink('ok');
    const registry = new Registry();
    const d = createSinkDispatcher({ sinks: [s, ok], logger, clock, registry, random: () => 0, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 10 } });
    d.push(A('tw-d0000000000000000001'));
    d.push(A('tw-d0000000000000000002'));
    await flush();
    const draining = d.drain(5000);
    await clock.advance(5000);
    assert.deepEqual(await draining, { drained: false, left: 2, leftBySink: { s: 2 } });
    assert.ok(s.signals[0]!.aborted, 'the delivery signal aborts at the timeout');
    assert.ok(s.closed && ok.closed);
    assert.equal(clock.pending, 0, 'no timer left behind');
    const st = d.stats().sinks;
    assert.deepEqual(st[0]!.dropped, { rejected: 0, missing: 0 }, 'nothing dropped: left in the outbox');
    assert.equal(st[0]!.cursor, 0);
    assert.equal(st[1]!.delivered, 2);
    const report = lines.find((l) => l.msg === 'alert versions not delivered before shutdown: they stay in the outbox and are delivered after the next start');
    assert.deepEqual(report?.left, { s: 2 });
    // Nothing is accepted after drain.
    d.push(A('tw-d0000000000000000003'));
    await flush();
    assert.equal(ok.delivered.length, 2);
    const failures = await registry.getSingleMetric('tilewatch_sink_failures_total')!.get();
    assert.deepEqual(failures.values.map((v) => [v.labels.sink, v.value]), [['s', 1]]);
  });

  test('a restart on the same outbox resumes each sink at its saved position: the rest once, nothing delivered twice', async () => {
    const clock = new FakeClock();
    const outbox = memoryOutbox();
    let down = true;
    const first = new TestSink('hook', () => (down ? new Error('503') : undefined));
    const other = new TestSink('log');
    const d1 = createSinkDispatcher({ sinks: [first, other], outbox, logger: captureLogger().logger, clock, random: () => 0, retry: { baseDelayMs: 1000, maxDelayMs: 1000 } });
    await d1.ready;
    for (let i = 1; i <= 3; i++) stored(d1, outbox, A(`tw-r000000000000000000${i}`));
    await clock.advance(3000);
    const stopping = d1.drain(500);
    await clock.advance(500);
    assert.deepEqual(await stopping, { drained: false, left: 3, leftBySink: { hook: 3 } });
    down = false;
    const again = new TestSink('hook');
    const otherAgain = new TestSink('log');
    const d2 = createSinkDispatcher({ sinks: [again, otherAgain], outbox, logger: captureLogger().logger, clock });
    assert.equal(await d2.ready, 3, 'positions continue after the last one written');
    stored(d2, outbox, A('tw-r0000000000000000004'));
    await clock.runUntil(() => again.delivered.length === 4);
    assert.deepEqual(again.delivered, [1, 2, 3, 4].map((i) => `tw-r000000000000000000${i}:1`));
    assert.deepEqual(otherAgain.delivered, ['tw-r0000000000000000004:1'], 'the sink that had delivered does not deliver again');
    assert.deepEqual(await d2.drain(1000), { drained: true, left: 0, leftBySink: {} });
  });

  test('a position missing from the outbox is re-read, then counted and logged as missing, never skipped silently; an unreadable outbox is retried with growing waits', async () => {
    const clock = new FakeClock();
    const { logger, lines } = captureLogger();
    const inner = memoryOutbox();
    let unreadable = 2;
    // Position 2 is gone (expired, or its copy failed); the first two reads fail (the store is down).
    const outbox = {
      ...inner,
      read: async (after: number, upTo: number, limit: number) => {
        if (unreadable > 0) {
          unreadable--;
          throw new Error('Code: 210. Connection refused');
        }
        return (await inner.read(after, upTo, limit)).filter((e) => e.seq !== 2);
      },
    };
    const s = new TestSink('s');
    const registry = new Registry();
    const d = createSinkDispatcher({ sinks: [s], outbox, logger, clock, registry, random: () => 0, retry: { baseDelayMs: 100, maxDelayMs: 1000 } });
    await d.ready;
    for (let i = 1; i <= 3; i++) d.stored(inner.append(A(`tw-g000000000000000000${i}`), true));
    await clock.runUntil(() => s.delivered.length === 2);
    assert.deepEqual(s.delivered, ['tw-g0000000000000000001:1', 'tw-g0000000000000000003:1']);
    assert.deepEqual(clock.sleeps.slice(0, 2), [50, 100], 'read failures wait longer each time');
    assert.equal(clock.sleeps.length, 2 + 5, 'then five re-reads of the gap');
    assert.deepEqual(d.stats().sinks[0]!.dropped, { rejected: 0, missing: 1 });
    assert.deepEqual((await registry.getSingleMetric('tilewatch_sink_dropped_total')!.get()).values.map((v) => [v.labels.reason, v.value]), [['missing', 1]]);
    assert.deepEqual(lines.filter((l) => l.msg === 'alert version not delivered').map((l) => [l.reason, l.seq, l.count]), [['missing', 2, 1]]);
    assert.equal(d.stats().sinks[0]!.cursor, 3);
  });

  test('lag is the age of the oldest version a sink has not passed, by when each was stored', async () => {
    const t0 = Date.UTC(2026, 0, 5, 12);
    const clock = new FakeClock(t0);
    const down = new Set(['tw-l0000000000000000001', 'tw-l0000000000000000002']);
    const s = new TestSink('s', (a) => (down.has(a.id) ? new Error('503') : undefined));
    const registry = new Registry();
    const d = createSinkDispatcher({ sinks: [s], logger: captureLogger().logger, clock, registry, random: () => 0, retry: { baseDelayMs: 1000, maxDelayMs: 1000 } });
    const lag = async (): Promise<number> => (await registry.getSingleMetric('tilewatch_sink_lag_seconds')!.get()).values[0]!.value;
    d.push(A('tw-l0000000000000000001'));
    await clock.advance(30_000);
    d.push(A('tw-l0000000000000000002'));
    await clock.advance(30_000);
    assert.equal(await lag(), 60, 'the first, stored 60 s ago');
    down.delete('tw-l0000000000000000001');
    await clock.runUntil(() => s.delivered.length === 1);
    assert.equal(await lag(), (clock.now() - (t0 + 30_000)) / 1000, 'then the second, stored at 30 s');
    down.clear();
    await clock.runUntil(() => s.delivered.length === 2);
    assert.equal(await lag(), 0);
  });

  test('drain waits for retries that succeed within the timeout', async () => {
    const clock = new FakeClock();
    const s = new TestSink('s', (_a, n) => (n === 1 ? new Error('503') : undefined));
    const d = createSinkDispatcher({ sinks: [s], logger: captureLogger().logger, clock, random: () => 0, retry: { baseDelayMs: 2000 } });
    d.push(A('tw-w0000000000000000000'));
    await flush();
    const draining = d.drain(10_000);
    await clock.advance(1000);
    assert.deepEqual(await draining, { drained: true, left: 0, leftBySink: {} });
    assert.deepEqual(s.delivered, ['tw-w0000000000000000000:1']);
  });

  test('refuses duplicate sink names', () => {
    assert.throws(() => createSinkDispatcher({ sinks: [new TestSink('x'), new TestSink('x')], logger: captureLogger().logger }), /two sinks are named "x"/);
  });
});

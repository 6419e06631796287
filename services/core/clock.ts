/**
 * The one wall clock of tilewatch: what time it is, and waiting. Every edge that retries, times a
 * batch, expires a mute or signs a webhook takes a Clock by injection (the process's is
 * `systemClock`, services/runtime/systemClock.ts; tests pass test/support/fakeClock.ts's
 * FakeClock), so time-dependent rules run in unit tests on a clock the test moves.
 *
 * Why here and why only the interface: the core ("pure core, thin edges", ARCHITECTURE.md) never
 * reads the clock, but the shape of the clock is plain data shared by every edge, like types.ts.
 * The implementation, which reads Date.now and arms timers, lives outside the core.
 *
 * A repeating timer is not part of the seam: a periodic job is a loop over {@link Clock.sleep}
 * (aborted through its signal), which a fake clock can drive like any other wait.
 */
export interface Clock {
  /** Wall time, milliseconds since the epoch (never event time). */
  now(): number;
  /**
   * Resolves after `ms`; rejects (with the signal's reason) as soon as `signal` aborts. With
   * `background`, the wait does not keep the process alive (periodic housekeeping, heartbeats).
   */
  sleep(ms: number, signal?: AbortSignal, background?: boolean): Promise<void>;
}

/** `[0, 1)`, uniformly (Math.random in production; injected where a test must know the jitter). */
export type Random = () => number;

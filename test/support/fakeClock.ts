/**
 * A manual clock for the sink dispatcher and sinks (SinkClock): time moves only when the test says
 * so, every sleep is recorded, and timers fire in time order. Deliveries in unit tests resolve
 * through microtasks, so one setImmediate turn runs everything a fired timer unblocks.
 */
import type { Clock as SinkClock } from '../../services/core/clock.ts';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
}

export const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

export class FakeClock implements SinkClock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];
  /** Every requested sleep, in ms, in request order. */
  readonly sleeps: number[] = [];

  constructor(startMs = Date.UTC(2026, 0, 5, 12)) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const timer: Timer = {
        at: this.t + ms,
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });
  }

  /** Timers waiting now. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await flush();
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > target) break;
      this.fire(next);
      await flush();
    }
    this.t = target;
    await flush();
  }

  /** Fires timers one by one (jumping time to each) until `done()` holds; throws after `maxTimers`. */
  async runUntil(done: () => boolean, maxTimers = 1000): Promise<void> {
    await flush();
    for (let i = 0; !done(); i++) {
      const next = this.nextTimer();
      if (!next) throw new Error('runUntil: condition not met and no timer pending');
      if (i >= maxTimers) throw new Error(`runUntil: condition not met after ${maxTimers} timers`);
      this.fire(next);
      await flush();
    }
  }

  private nextTimer(): Timer | undefined {
    return [...this.timers].sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
  }

  private fire(timer: Timer): void {
    this.timers = this.timers.filter((x) => x !== timer);
    this.t = Math.max(this.t, timer.at);
    timer.resolve();
  }
}

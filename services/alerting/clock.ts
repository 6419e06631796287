/**
 * Wall time for the sinks (not event time): when to retry, when a mute rule or a block expires,
 * what timestamp a webhook is signed with. Injected so tests run on a fake clock.
 */
export interface SinkClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms`; rejects (with the signal's reason) as soon as `signal` aborts. With
   * `background`, the wait does not keep the process alive (periodic housekeeping).
   */
  sleep(ms: number, signal?: AbortSignal, background?: boolean): Promise<void>;
}

export const systemClock: SinkClock = Object.freeze({
  now: () => Date.now(),
  sleep: (ms: number, signal?: AbortSignal, background?: boolean) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      if (background) timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
});

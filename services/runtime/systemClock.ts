import type { Clock } from '../core/clock.ts';

/**
 * The process's wall clock: Date.now and setTimeout behind the {@link Clock} seam. The only module
 * that arms timers for retries, batch ticks and housekeeping; everything else takes a Clock by
 * injection and defaults to this one. It lives outside services/core/ because it reads the clock
 * and keeps the event loop busy (the core stays pure; core/clock.ts holds only the interface).
 */
export const systemClock: Clock = Object.freeze({
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

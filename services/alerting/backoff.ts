/** Retry policy of one sink. */
export interface RetryPolicy {
  /** Attempts per alert version, the first included; after the last one the version is given up. Default 8. */
  readonly maxAttempts: number;
  /** Delay before the second attempt, in ms (before jitter). Default 500. */
  readonly baseDelayMs: number;
  /** Upper bound of any delay, in ms. Default 60,000. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000 });

/**
 * Delay before attempt `failedAttempts + 1`, after `failedAttempts` (≥ 1) failures: exponential
 * (`baseDelayMs · 2^(failedAttempts−1)`, capped at `maxDelayMs`) with "equal jitter": a uniformly
 * random point in the upper half of that step, so retries from many sinks or processes do not
 * synchronise while the delay still grows. `random()` returns [0, 1) (injected for tests).
 */
export function backoffDelay(failedAttempts: number, policy: RetryPolicy, random: () => number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  const half = exp / 2;
  return Math.round(half + random() * half);
}

import type { Random } from './clock.ts';

/**
 * One retry policy for every loop that retries an outage (alert sinks, the replay batch writer,
 * Kafka ingest): how many attempts, and how long to wait between them ({@link backoffDelay}).
 * The loop itself belongs to its caller (what counts as retryable, what to log, what to wait on).
 */
export interface RetryPolicy {
  /** Attempts, the first included; after the last one the caller gives up. `Infinity`: never give up. */
  readonly maxAttempts: number;
  /** Delay step before the second attempt, in ms (before jitter). */
  readonly baseDelayMs: number;
  /** Upper bound of the step, in ms. */
  readonly maxDelayMs: number;
  /**
   * How the random part spreads around the step (default 'equal'):
   * - 'equal': uniformly in [step/2, step) ("equal jitter": never more than the step);
   * - 'centred': uniformly in [step/2, 3·step/2) (the step on average; the store writers' spread).
   */
  readonly jitter?: 'equal' | 'centred';
}

/** The alert sinks' default (sinks config `retry`): 8 attempts, 0.5 s doubling to 60 s, equal jitter. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000 });

/**
 * Delay in ms before attempt `failedAttempts + 1`, after `failedAttempts` (≥ 1) failures: the step
 * `baseDelayMs · 2^(failedAttempts−1)` capped at `maxDelayMs`, with the policy's jitter, so retries
 * from many sinks or processes do not synchronise while the delay still grows. Rounded to whole ms.
 * The exponent stops growing at 30 (2^30 steps of even 1 ms are above any cap the callers allow),
 * so an endless retry never computes Infinity or NaN.
 */
export function backoffDelay(failedAttempts: number, policy: RetryPolicy, random: Random): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, Math.max(0, failedAttempts - 1)));
  const half = step / 2;
  return Math.round(half + random() * (policy.jitter === 'centred' ? step : half));
}

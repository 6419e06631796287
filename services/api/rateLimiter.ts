/**
 * Fixed-window request counting per key, on an injected clock. The API keys authenticated calls by
 * token and everything else by client address (see {@link addressKey}), so a flood of anonymous
 * requests from one address never spends a token's budget, and health and readiness are not counted
 * at all (buildApp.ts).
 */
import { parseIpv6, isIpv4Mapped, formatIpv4, formatIpv6 } from '../core/logformat/parseIp.ts';
import type { Clock } from './deps.ts';

export interface RateDecision {
  readonly allowed: boolean;
  readonly limit: number;
  /** Requests left in the current window (0 once refused). */
  readonly remaining: number;
  /** Until the window of this key ends. */
  readonly resetInMs: number;
}

export interface RateLimiter {
  /** Counts one request for `key`: refused once the key has made `max` requests in its window. */
  hit(key: string): RateDecision;
}

export interface RateLimiterOptions {
  readonly clock: Clock;
  /** Requests per window and key. */
  readonly max: number;
  /** Window length; a key's window starts at its first request. Default 60 s. */
  readonly windowMs?: number;
  /**
   * Keys remembered at once. When full, expired windows are dropped first, then the oldest keys (their
   * counts restart). Default 100,000.
   */
  readonly maxKeys?: number;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const windowMs = opts.windowMs ?? 60_000;
  const maxKeys = opts.maxKeys ?? 100_000;
  const windows = new Map<string, { count: number; until: number }>();
  const makeRoom = (now: number): void => {
    for (const [k, w] of windows) if (w.until <= now) windows.delete(k);
    for (const k of windows.keys()) {
      if (windows.size < maxKeys) break;
      windows.delete(k);
    }
  };
  return {
    hit(key) {
      const now = opts.clock.now();
      let w = windows.get(key);
      if (w === undefined || w.until <= now) {
        if (w === undefined && windows.size >= maxKeys) makeRoom(now);
        w = { count: 0, until: now + windowMs };
        windows.delete(key);
        windows.set(key, w);
      }
      w.count++;
      const allowed = w.count <= opts.max;
      return { allowed, limit: opts.max, remaining: Math.max(0, opts.max - w.count), resetInMs: w.until - now };
    },
  };
}

/**
 * The rate-limit key of an unauthenticated caller: the IPv4 address (an IPv4-mapped IPv6 one counts
 * as IPv4), or the /64 of an IPv6 address — one host usually holds a whole /64, so a per-address
 * key would let it rotate addresses past the limit.
 */
export function addressKey(ip: string): string {
  if (!ip.includes(':')) return `addr:${ip}`;
  const g = parseIpv6(ip);
  if (g === null) return `addr:${ip}`;
  if (isIpv4Mapped(g)) return `addr:${formatIpv4(((g[6] ?? 0) * 65536 + (g[7] ?? 0)) >>> 0)}`;
  return `addr:${formatIpv6([g[0] ?? 0, g[1] ?? 0, g[2] ?? 0, g[3] ?? 0, 0, 0, 0, 0])}/64`;
}

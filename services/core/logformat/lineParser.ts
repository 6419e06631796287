import type { ParseResult } from '../types.ts';

/**
 * Parses one raw log line (without its line terminator; a single trailing `\r` is tolerated).
 *
 * Contract: never throws for any input string; returns `{ ok: true, record }` or
 * `{ ok: false, reason }` where `reason` is a short stable string for a dead-letter table.
 * Pure: the same line always gives the same result.
 */
export type LineParser = (line: string) => ParseResult;

/** Options shared by every line-parser factory. Invalid options throw at construction time. */
export interface LineParserOptions {
  /**
   * CIDRs (IPv4 and/or IPv6; a bare address means a single host) of reverse proxies whose
   * `X-Forwarded-For` header is believed. Empty or absent: X-Forwarded-For is ignored.
   */
  readonly trustedProxies?: readonly string[];
  /** Lines longer than this many UTF-16 code units give `line too long`. Default 16384. */
  readonly maxLineLength?: number;
}

/** Default for {@link LineParserOptions.maxLineLength}. */
export const DEFAULT_MAX_LINE_LENGTH = 16384;

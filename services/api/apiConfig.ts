/** Limits and knobs of the incident API, with their defaults. */
export interface ApiConfig {
  /** Largest request body in bytes. Default 64 KiB. */
  readonly bodyLimit: number;
  /** Deepest nesting of objects and arrays in a JSON body (deeper bodies are `invalid_input`). Default 16. */
  readonly jsonMaxDepth: number;
  /** Object keys in one JSON body, all levels together (more are `invalid_input`). Default 1,000. */
  readonly jsonMaxKeys: number;
  /**
   * Requests per minute per token for authenticated calls, and per client address (IPv6: per /64)
   * for everything else — no token, an unknown one, the static page, the docs, unknown routes.
   * Health and readiness are not limited. Default 600.
   */
  readonly rateLimitPerMinute: number;
  /** Longest time range a query may span. Default 93 days. */
  readonly maxSpanMs: number;
  /** Rows per page of lists and searches. Default 100, at most `maxListRows`. */
  readonly defaultListRows: number;
  /** Upper bound of `limit` on lists and searches. Default 1,000. */
  readonly maxListRows: number;
  /** Clients listed per image in exposure and reports. Default 500. */
  readonly maxClients: number;
  /** Raw rows in one evidence archive (larger exports are refused with too_many_rows). Default 200,000. */
  readonly maxExportRows: number;
  /** How long a token lookup is cached (so revocation takes effect within this). Default 10 s. */
  readonly tokenCacheMs: number;
  /** Coverage of a band that counts as "could reconstruct". Default 0.9. */
  readonly minCoverage: number;
}

export const DEFAULT_API_CONFIG: ApiConfig = Object.freeze({
  bodyLimit: 64 * 1024,
  jsonMaxDepth: 16,
  jsonMaxKeys: 1000,
  rateLimitPerMinute: 600,
  maxSpanMs: 93 * 86_400_000,
  defaultListRows: 100,
  maxListRows: 1000,
  maxClients: 500,
  maxExportRows: 200_000,
  tokenCacheMs: 10_000,
  minCoverage: 0.9,
});

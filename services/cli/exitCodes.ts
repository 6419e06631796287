/** Process exit codes (documented in README "Exit codes"). */
export const EXIT = Object.freeze({
  /** Success (alerts found or not). */
  OK: 0,
  /** A runtime failure: the store failed past its retries, an input could not be read. */
  FAILURE: 1,
  /** Bad flags or configuration. */
  USAGE: 2,
  /** The store is unavailable: the embedded directory is locked by another process, or the server is unreachable. */
  STORE: 3,
});

export class UsageError extends Error {
  readonly code = 'USAGE';
}

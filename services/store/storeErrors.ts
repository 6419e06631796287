/**
 * The store's errors, in a module of their own so the CLI can recognise them (exit code 3) without
 * loading the ClickHouse client at start.
 */

/** A ClickHouse server that does not answer (exit code 3, like a locked embedded directory). */
export class StoreUnreachableError extends Error {
  readonly code = 'STORE_UNREACHABLE';
}

/** Raised when the embedded directory is held by another process (chDB allows one per directory). */
export class StoreLockedError extends Error {
  readonly code = 'STORE_LOCKED';
  constructor(dataDir: string, cause: unknown) {
    super(
      `The data directory ${dataDir} is in use by another tilewatch process (chDB allows one process per directory). ` +
        'Stop that process, query through its API, or point both at a ClickHouse server with --clickhouse-url.',
    );
    this.cause = cause;
  }
}

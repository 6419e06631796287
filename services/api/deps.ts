import type { Logger } from 'pino';
import type { Clock as WallClock } from '../core/clock.ts';
import type { Store } from '../store/openStore.ts';
import type { ApiConfig } from './apiConfig.ts';

/** Wall clock for audit rows, token caching, mute expiry — never for event-time logic (the one Clock, reading only). */
export type Clock = Pick<WallClock, 'now'>;

/** What the incident API needs; the store is already open (and migrated) and owned by the caller. */
export interface ApiDeps {
  readonly store: Store;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly config: ApiConfig;
  /** Mounted at /metrics (viewer role) when given: the process's Prometheus registry. */
  readonly metrics?: { readonly contentType: string; metrics(): Promise<string> };
  /** Readiness beyond "the store answers" (e.g. ingest consuming, in `serve`). */
  readonly ready?: () => { ready: boolean; reason: string };
}

import type { Alert } from '../core/alert.ts';

/**
 * Where incident notices go: a webhook, Alertmanager, Kafka, a log, a block list. A sink is handed
 * the alert versions whose incident opened, escalated or resolved (`incident.notice`), each
 * delivered separately, in push order; it speaks about the incident (`noticeOf`, incidentNotice.ts)
 * and names the alert that caused the notice.
 *
 * Contract: `deliver` resolves once the version is accepted by the destination, and rejects when it
 * was not. Rejections are retried by the dispatcher with backoff unless the error is a
 * {@link PermanentSinkError} (the destination refused this version for good, e.g. HTTP 400: retrying
 * cannot help). `deliver` must be safe to call again with the same version (idempotent at the
 * destination, or harmless to repeat), and should stop early when `signal` aborts (shutdown).
 */
export interface AlertSink {
  /** Stable name for metrics labels and logs (`webhook`, `alertmanager`, …; unique per dispatcher). */
  readonly name: string;
  deliver(alert: Alert, signal?: AbortSignal): Promise<void>;
  /**
   * Also hand it the versions that notify nobody (an incident's updates between its notices), to
   * follow what an incident accuses as it grows: the block list blocks members a campaign names later
   * and renews blocks while the incident goes on. Default false: notices only.
   */
  readonly everyVersion?: boolean;
  /** Releases connections and files; called once by the dispatcher's `close()`. */
  close?(): Promise<void>;
}

/** The destination refused this notice; retrying it cannot succeed. */
export class PermanentSinkError extends Error {
  override readonly name = 'PermanentSinkError';
}

export function isPermanentSinkError(err: unknown): err is PermanentSinkError {
  return err instanceof PermanentSinkError;
}

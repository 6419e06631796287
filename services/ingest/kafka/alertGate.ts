import type { Alert } from '../../core/alert.ts';

/**
 * Holds alert versions until the rows they were detected from are stored, then releases them in the
 * order they were raised. The detector raises an alert while a batch is being filled; the batch is
 * sealed under its number when it is cut, and released once that batch is stored (before its
 * commit): a crash before the store re-raises the alert after the restart, once; a crash after it
 * finds the version in the alerts table. Plain data, no I/O.
 *
 * While detector state is being restored, alerts go to a separate list instead: they come from rows
 * that are stored already, so the caller emits the versions the alerts table does not hold yet.
 */
export class AlertGate<A = Alert> {
  /** Alerts of the batch being filled. */
  private open: A[] = [];
  /** Alerts of batches cut but not stored yet, oldest first. */
  private readonly sealed: Array<{ readonly batch: number; readonly alerts: A[] }> = [];
  private restoring: A[] | null = null;

  /** An alert version the detector just raised. */
  hold(alert: A): void {
    if (this.restoring) this.restoring.push(alert);
    else this.open.push(alert);
  }

  /** The batch being filled is cut as batch number `batch`: its alerts wait for that batch to be stored. */
  seal(batch: number): void {
    this.sealed.push({ batch, alerts: this.open });
    this.open = [];
  }

  /** Batch `batch` is stored: the alerts of every batch up to it, in the order they were raised. */
  release(batch: number): A[] {
    const out: A[] = [];
    while (this.sealed.length > 0 && this.sealed[0]!.batch <= batch) out.push(...this.sealed.shift()!.alerts);
    return out;
  }

  /** The alerts of the batch being filled (not cut): at a stop, once everything cut is stored. */
  drainOpen(): A[] {
    const out = this.open;
    this.open = [];
    return out;
  }

  /** Everything held is dropped (a fenced member: the rows these alerts came from were not stored by it). */
  clear(): void {
    this.open = [];
    this.sealed.length = 0;
    this.restoring = null;
  }

  /** A detector restore starts: alerts raised until {@link endRestore} are kept apart. */
  beginRestore(): void {
    this.restoring = [];
  }

  /** The restore is over: the alerts it raised (from stored rows; emit those the alerts table lacks). */
  endRestore(): A[] {
    const out = this.restoring ?? [];
    this.restoring = null;
    return out;
  }

  /** How many alerts are held (open and sealed). */
  get held(): number {
    return this.open.length + this.sealed.reduce((n, s) => n + s.alerts.length, 0);
  }
}

import type { Store } from '../store/openStore.ts';
import { jsonEachRow } from '../store/openStore.ts';
import { toIpv6Text } from '../store/clientIp.ts';
import type { Alert } from '../core/alert.ts';
import type { Clock, Random } from '../core/clock.ts';
import { backoffDelay, type RetryPolicy } from '../core/retry.ts';
import { systemClock } from '../runtime/systemClock.ts';
import { OUTBOX_NONE, type OutboxKind } from './outbox.ts';

/** Where a version stands in the alert outbox (outbox.ts); absent: stored only, for no sink. */
export interface OutboxMark {
  readonly origin: string;
  readonly seq: number;
  readonly kind: OutboxKind;
}

/** Columns of the `alerts` table for one alert version. */
export function alertRow(a: Alert): Record<string, unknown> {
  return outboxAlertRow(a);
}

/** Columns of the `alerts` table for one alert version with its outbox mark (copied to `alert_outbox` by the insert). */
export function outboxAlertRow(a: Alert, outbox?: OutboxMark): Record<string, unknown> {
  return {
    id: a.id,
    version: a.version,
    kind: a.kind,
    severity: a.severity,
    score: a.score,
    client: toIpv6Text(a.client.ip),
    client_ips: a.client.ips,
    user_agent: a.client.userAgent,
    subnet: a.client.subnet,
    first_seen: a.firstSeen,
    detected_at: a.detectedAt,
    last_seen: a.lastSeen,
    image_ids: a.images.map((i) => i.id),
    reasons: a.reasons.map((r) => r.text).join('; '),
    body: JSON.stringify(a),
    status: a.status,
    ...(outbox && outbox.kind !== OUTBOX_NONE ? { outbox_origin: outbox.origin, outbox_seq: outbox.seq, outbox: outbox.kind } : {}),
  };
}

export interface AlertsTableOptions {
  /** Wall clock for the waits between attempts. Default: the system clock. */
  readonly clock?: Clock;
  /** Attempts per flush. Default 5 attempts, 0.2 s doubling to 5 s. */
  readonly retry?: Partial<RetryPolicy>;
  readonly random?: Random;
  /** Told after each failed attempt (logging). */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

const TABLE_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 5000 };

/**
 * Buffers alert versions and writes them to `alerts`, the source of truth of alerting: a version
 * marked for the outbox reaches the sinks only through that same insert (the materialized view
 * copies it to `alert_outbox`), so no sink sees a version the table does not hold. The table is a
 * ReplacingMergeTree on version keyed by the deterministic id, so a replay that writes the same
 * alert versions again collapses to one row per id (read with FINAL).
 *
 * What holds:
 * - Versions leave the buffer only once an insert holding them succeeded. A failed insert is retried
 *   (`retry`, with backoff); when every attempt fails, `flush` rejects and the versions stay buffered,
 *   in order, ahead of newer ones: the next flush writes them again. Nothing is dropped.
 * - Flushes run one at a time, in call order, so the outbox positions the table holds are always a
 *   prefix of those pushed: `stored` is the highest position written.
 * - Writing a batch again after an insert that failed half way is harmless: `alerts` collapses equal
 *   versions, `alert_outbox` equal (origin, seq).
 */
export class AlertsTableSink {
  private pending: Array<{ readonly alert: Alert; readonly outbox?: OutboxMark }> = [];
  private chain: Promise<void> = Promise.resolve();
  private readonly clock: Clock;
  private readonly policy: RetryPolicy;
  written = 0;
  /** Highest outbox position the table holds (0: none written by this process). */
  stored = 0;
  constructor(
    private readonly store: Pick<Store, 'insertRaw'>,
    private readonly opts: AlertsTableOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.policy = { ...TABLE_RETRY, ...opts.retry };
  }

  push(a: Alert, outbox?: OutboxMark): void {
    this.pending.push(outbox ? { alert: a, outbox } : { alert: a });
  }

  /** Versions waiting for their insert. */
  get buffered(): number {
    return this.pending.length;
  }

  /** Writes what is buffered now (after any flush already running). Rejects when the store refused every attempt; the versions stay buffered. */
  flush(): Promise<void> {
    const run = this.chain.then(() => this.write());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async write(): Promise<void> {
    const n = this.pending.length;
    if (n === 0) return;
    const batch = this.pending.slice(0, n);
    const body = jsonEachRow(batch.map((p) => outboxAlertRow(p.alert, p.outbox)));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.insertRaw({ table: 'alerts', body, format: 'JSONEachRow', settings: { date_time_input_format: 'best_effort' } });
        break;
      } catch (err) {
        if (attempt >= this.policy.maxAttempts) throw err;
        const delayMs = backoffDelay(attempt, this.policy, this.opts.random ?? Math.random);
        this.opts.onRetry?.(err, attempt, delayMs);
        await this.clock.sleep(delayMs);
      }
    }
    this.pending.splice(0, n);
    this.written += n;
    for (const p of batch) if (p.outbox && p.outbox.kind !== OUTBOX_NONE && p.outbox.seq > this.stored) this.stored = p.outbox.seq;
  }
}

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the alert sinks, registered on the process registry (metrics.ts keeps no global state either). */
export interface SinkMetrics {
  readonly delivered: Counter<'sink'>;
  readonly failures: Counter<'sink'>;
  readonly dropped: Counter<'sink' | 'reason'>;
  readonly queueDepth: Gauge<'sink'>;
  readonly backlog: Gauge<'sink'>;
  readonly lagSeconds: Gauge<'sink'>;
  readonly deliverySeconds: Histogram<'sink'>;
  readonly muted: Counter;
}

/**
 * Why an alert version was not delivered to a sink (the `reason` label of
 * `tilewatch_sink_dropped_total`): `rejected`, the destination refused it for good (HTTP 400, …);
 * `missing`, its outbox position was gone when the sink reached it (kept 30 days, or lost with a copy
 * that failed). Transient failures are never a reason: the version stays in the outbox and is retried.
 */
export type DropReason = 'rejected' | 'missing';

/** `beforeScrape` refreshes the time-dependent gauges (lag) when /metrics is read. */
export function createSinkMetrics(registry: Registry, beforeScrape?: () => void): SinkMetrics {
  const r = [registry];
  return {
    delivered: new Counter({ name: 'tilewatch_sink_delivered_total', help: 'alert versions accepted by a sink', labelNames: ['sink'], registers: r }),
    failures: new Counter({ name: 'tilewatch_sink_failures_total', help: 'failed delivery attempts (each retry counts)', labelNames: ['sink'], registers: r }),
    dropped: new Counter({
      name: 'tilewatch_sink_dropped_total',
      help: 'alert versions a sink never received: rejected (permanent error from the destination), missing (outbox position expired or lost); transient failures are retried, never dropped',
      labelNames: ['sink', 'reason'],
      registers: r,
    }),
    queueDepth: new Gauge({ name: 'tilewatch_sink_queue_depth', help: 'alert versions read from the outbox and held in memory for a sink (waiting or in delivery; at most its queueCapacity)', labelNames: ['sink'], registers: r, ...(beforeScrape ? { collect: beforeScrape } : {}) }),
    backlog: new Gauge({ name: 'tilewatch_sink_backlog', help: 'outbox positions stored that a sink has not passed yet (its delivery backlog, held in the store)', labelNames: ['sink'], registers: r, ...(beforeScrape ? { collect: beforeScrape } : {}) }),
    lagSeconds: new Gauge({
      name: 'tilewatch_sink_lag_seconds',
      help: 'age of the oldest stored alert version a sink has not passed yet (0 when it is caught up)',
      labelNames: ['sink'],
      registers: r,
      ...(beforeScrape ? { collect: beforeScrape } : {}),
    }),
    deliverySeconds: new Histogram({
      name: 'tilewatch_sink_delivery_seconds',
      help: 'time from storing (the alerts insert) to acceptance by the sink (backlog and retries included)',
      labelNames: ['sink'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers: r,
    }),
    muted: new Counter({ name: 'tilewatch_alerts_muted_total', help: 'alert versions not sent to sinks because a mute rule matched', registers: r }),
  };
}

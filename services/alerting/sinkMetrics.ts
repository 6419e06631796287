import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the alert sinks, registered on the process registry (metrics.ts keeps no global state either). */
export interface SinkMetrics {
  readonly delivered: Counter<'sink'>;
  readonly failures: Counter<'sink'>;
  readonly dropped: Counter<'sink' | 'reason'>;
  readonly queueDepth: Gauge<'sink'>;
  readonly deliverySeconds: Histogram<'sink'>;
  readonly muted: Counter;
}

/** Why an alert version was not delivered to a sink (the `reason` label of `tilewatch_sink_dropped_total`). */
export type DropReason = 'queue_full' | 'rejected' | 'retries_exhausted' | 'shutdown';

export function createSinkMetrics(registry: Registry): SinkMetrics {
  const r = [registry];
  return {
    delivered: new Counter({ name: 'tilewatch_sink_delivered_total', help: 'alert versions accepted by a sink', labelNames: ['sink'], registers: r }),
    failures: new Counter({ name: 'tilewatch_sink_failures_total', help: 'failed delivery attempts (each retry counts)', labelNames: ['sink'], registers: r }),
    dropped: new Counter({
      name: 'tilewatch_sink_dropped_total',
      help: 'alert versions a sink never received: queue_full (oldest dropped), rejected (permanent error), retries_exhausted, shutdown',
      labelNames: ['sink', 'reason'],
      registers: r,
    }),
    queueDepth: new Gauge({ name: 'tilewatch_sink_queue_depth', help: 'alert versions waiting for or in delivery', labelNames: ['sink'], registers: r }),
    deliverySeconds: new Histogram({
      name: 'tilewatch_sink_delivery_seconds',
      help: 'time from push to acceptance by the sink (queueing and retries included)',
      labelNames: ['sink'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers: r,
    }),
    muted: new Counter({ name: 'tilewatch_alerts_muted_total', help: 'alert versions not sent to sinks because a mute rule matched', registers: r }),
  };
}

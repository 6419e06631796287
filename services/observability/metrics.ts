import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { packageVersion } from './packageVersion.ts';

export { packageVersion };

/**
 * `tilewatch_dead_letters_total{topic, reason}`: `reason` is the category of the dead letter's reason
 * (DEAD_LETTER_CATEGORIES, e.g. format_mismatch, event_time_out_of_range, store_rejected), never its
 * text, so the series stay few whatever the input.
 */
export function deadLetterCounter(registers: Registry[]): Counter<'topic' | 'reason'> {
  return new Counter({ name: 'tilewatch_dead_letters_total', help: 'messages or lines sent to dead_letters, by reason category', labelNames: ['topic', 'reason'], registers });
}

/** The version and runtime of this process, as a constant 1 (Prometheus build_info convention). */
function buildInfo(registers: Registry[]): void {
  new Gauge({ name: 'tilewatch_build_info', help: 'tilewatch version and Node.js runtime of this process (always 1)', labelNames: ['version', 'node'], registers }).set(
    { version: packageVersion(), node: process.versions.node },
    1,
  );
}

/**
 * What a finished batch run (`replay --metrics-out`) counted, in the Prometheus text format, e.g. for
 * node_exporter's textfile collector: build info, rows stored, dead letters by reason (no topic label).
 */
export function batchRunMetrics(run: { readonly stored: number; readonly deadLettersByReason: Readonly<Partial<Record<string, number>>> }): Promise<string> {
  const registry = new Registry();
  const r = [registry];
  buildInfo(r);
  new Counter({ name: 'tilewatch_ingest_rows_total', help: 'requests stored in tile_requests', labelNames: ['topic'], registers: r }).inc(run.stored);
  const dead = deadLetterCounter(r);
  for (const [reason, n] of Object.entries(run.deadLettersByReason)) if (n) dead.inc({ reason }, n);
  return registry.metrics();
}

/** Prometheus metrics of one tilewatch process, on its own registry (no global state). */
export interface Metrics {
  readonly registry: Registry;
  readonly messages: Counter<'topic'>;
  readonly rows: Counter<'topic'>;
  /** By topic and the reason's category (services/core/validate/deadLetterReason.ts: a closed set). */
  readonly deadLetters: Counter<'topic' | 'reason'>;
  readonly batchRows: Histogram;
  readonly batchBytes: Histogram;
  readonly insertSeconds: Histogram;
  readonly insertErrors: Counter;
  readonly backpressureSeconds: Counter;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly eventTimeLagSeconds: Gauge;
  readonly alerts: Counter<'kind' | 'severity'>;
  readonly detectorClients: Gauge;
  readonly detectorClientImages: Gauge;
  readonly rebalances: Counter;
  readonly repairedUnits: Counter;
  readonly fences: Counter;
  readonly assignedPartitions: Gauge;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // The runtime's metrics under their standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes …),
  // as every Node.js dashboard expects them, except three gauges prom-client names like counters
  // (`…_total`), which `promtool check metrics` rejects.
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const r = [registry];
  buildInfo(r);
  return {
    registry,
    messages: new Counter({ name: 'tilewatch_ingest_messages_total', help: 'Kafka messages consumed', labelNames: ['topic'], registers: r }),
    rows: new Counter({ name: 'tilewatch_ingest_rows_total', help: 'requests stored in tile_requests', labelNames: ['topic'], registers: r }),
    deadLetters: deadLetterCounter(r),
    batchRows: new Histogram({ name: 'tilewatch_batch_rows', help: 'rows per insert batch', buckets: [10, 100, 1000, 5000, 10_000, 50_000, 100_000], registers: r }),
    batchBytes: new Histogram({ name: 'tilewatch_batch_bytes', help: 'bytes per insert batch', buckets: [1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 64e6], registers: r }),
    insertSeconds: new Histogram({ name: 'tilewatch_insert_seconds', help: 'time to store a batch (with retries)', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60], registers: r }),
    insertErrors: new Counter({ name: 'tilewatch_insert_errors_total', help: 'failed insert attempts (retried)', registers: r }),
    backpressureSeconds: new Counter({ name: 'tilewatch_backpressure_seconds_total', help: 'time consumption waited on the store', registers: r }),
    lag: new Gauge({ name: 'tilewatch_consumer_lag_messages', help: 'messages behind the high watermark', labelNames: ['topic', 'partition'], registers: r }),
    eventTimeLagSeconds: new Gauge({ name: 'tilewatch_event_time_lag_seconds', help: 'wall clock minus the newest event time consumed', registers: r }),
    alerts: new Counter({ name: 'tilewatch_alerts_total', help: 'alerts raised or updated', labelNames: ['kind', 'severity'], registers: r }),
    detectorClients: new Gauge({ name: 'tilewatch_detector_clients', help: 'clients held by the streaming detector', registers: r }),
    detectorClientImages: new Gauge({ name: 'tilewatch_detector_client_images', help: 'client×image states held', registers: r }),
    rebalances: new Counter({ name: 'tilewatch_rebalances_total', help: 'consumer group rebalances', registers: r }),
    repairedUnits: new Counter({ name: 'tilewatch_ingest_repaired_batches_total', help: 'batches another run cut and never confirmed, read again from Kafka and inserted with their own token', registers: r }),
    fences: new Counter({ name: 'tilewatch_ingest_fences_total', help: 'times this member stopped inserting because its group membership may have been lost', registers: r }),
    assignedPartitions: new Gauge({ name: 'tilewatch_assigned_partitions', help: 'partitions assigned to this consumer', registers: r }),
  };
}

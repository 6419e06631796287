import type { Logger } from 'pino';
import type { Alert } from '../../core/alert.ts';
import type { DetectorConfig } from '../../core/detect/detectorConfig.ts';
import { createJsonParser } from '../../core/logformat/createJsonParser.ts';
import { createParser, type ParserSpec } from '../../core/logformat/createParser.ts';
import type { LineParser } from '../../core/logformat/lineParser.ts';
import type { RecogniseOptions } from '../../core/protocols/options.ts';
import type { Lineage } from '../../core/types.ts';
import { StreamingDetector } from '../../detector/streamingDetector.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { BatchWriter } from '../../store/batchWriter.ts';
import type { Store } from '../../store/openStore.ts';
import { writeDeadLetterRow, writeTileRequestRow } from '../../store/tileRequestRows.ts';
import { TsvBuffer } from '../../store/tsvBuffer.ts';
import type { Catalog } from '../catalog.ts';
import { createNormalizer, detectorEvent, type Normalized, type Normalizer } from '../normalizer.ts';
import type { BatchControl, ConsumedBatch, KafkaConsumer, TopicPartition } from './consumer.ts';
import { decodeMessage } from './decodeMessage.ts';
import { restoreDetector } from './restoreDetector.ts';

export interface KafkaIngestOptions {
  readonly consumer: KafkaConsumer;
  readonly store: Store;
  readonly topic: string;
  readonly parser: ParserSpec;
  readonly recognise: RecogniseOptions;
  readonly detector: DetectorConfig;
  readonly catalog: Catalog;
  readonly isAllowed: (ip: string, userAgent: string) => boolean;
  /** A partition's batch is stored when it holds this many rows… Default 10,000. */
  readonly maxBatchRows?: number;
  /** …or its first row is this old (wall clock). Default 1,000 ms. */
  readonly maxBatchMs?: number;
  /** Larger messages go to dead letters. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  readonly onAlert: (alert: Alert) => void;
  /** Called after each stored batch (alert sinks flush here). */
  readonly afterStore?: () => Promise<void>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

interface PartitionState {
  readonly partition: number;
  rows: TsvBuffer;
  dead: TsvBuffer;
  firstOffset: number;
  lastOffset: number;
  openedAt: number;
  /** Highest offset already in tile_requests / dead_letters: re-delivered offsets up to it are skipped. */
  storedData: number;
  storedDead: number;
}

/**
 * Kafka → ClickHouse with live detection. The effect is exactly once:
 * - commit after write: a partition's offset is committed only after its rows are stored;
 * - ClickHouse is the offset store: on assignment the highest stored offset per partition is read
 *   from tile_requests and dead_letters (lineage columns), and re-delivered messages up to it are
 *   neither stored again nor fed to the detector again;
 * - retries of one batch re-send identical bytes with a deduplication token from its offset range.
 * While the store fails, the consumer waits (nothing is fetched, nothing committed) and retries with
 * backoff; it resumes by itself.
 */
export class KafkaIngest {
  private readonly partitions = new Map<number, PartitionState>();
  private readonly writer: BatchWriter;
  private readonly detector: StreamingDetector;
  private normalizer: Normalizer | null = null;
  private readonly parseJson: LineParser;
  /** While detector state is being restored, alerts are held here and only newer versions are emitted. */
  private restoring: Alert[] | null = null;
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private outage: string | null = null;
  private running = false;
  private crashed: Error | null = null;
  private readonly source: string;
  private readonly now: () => number;
  private readonly maxRows: number;
  private readonly maxMs: number;
  private readonly maxMessageBytes: number;
  private readonly log: Logger;
  private lastEventTs = 0;
  stats = { messages: 0, rows: 0, deadLetters: 0, batches: 0, skippedStored: 0 };

  constructor(private readonly opts: KafkaIngestOptions) {
    this.now = opts.now ?? Date.now;
    this.maxRows = opts.maxBatchRows ?? 10_000;
    this.maxMs = opts.maxBatchMs ?? 1000;
    this.maxMessageBytes = opts.maxMessageBytes ?? 1 << 20;
    this.source = `kafka:${opts.topic}`;
    this.log = opts.logger.child({ component: 'kafka-ingest' });
    this.writer = new BatchWriter({
      store: opts.store,
      maxInFlight: 1,
      maxAttempts: Number.POSITIVE_INFINITY,
      now: this.now,
      onRetry: (err, attempt, b) => {
        this.outage = err.message;
        opts.metrics.insertErrors.inc();
        this.log.warn({ err, attempt, partition: b.partition, firstOffset: b.firstLine }, 'store insert failed; retrying');
      },
    });
    this.detector = new StreamingDetector({
      config: opts.detector,
      geometryOf: (p, id) => this.normalizer?.geometryOf(p, id),
      openDataOf: (p, id) => opts.catalog.get(p, id)?.openDataLongEdge,
      isAllowed: opts.isAllowed,
      onAlert: (a) => {
        if (this.restoring) {
          this.restoring.push(a);
          return;
        }
        this.emit(a);
      },
    });
    this.parseJson = createJsonParser(opts.parser.trustedProxies ? { trustedProxies: opts.parser.trustedProxies } : {});
  }

  /** Ready: consuming, and the last insert did not fail. */
  health(): { ready: boolean; reason: string } {
    if (this.crashed) return { ready: false, reason: `consumer crashed: ${this.crashed.message}` };
    if (!this.running) return { ready: false, reason: 'not consuming' };
    if (this.outage) return { ready: false, reason: `store unavailable: ${this.outage}` };
    return { ready: true, reason: '' };
  }

  get crash(): Error | null {
    return this.crashed;
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      this.withLock(() => this.flushDue()).catch((err: unknown) => this.fail(err as Error));
    }, Math.max(50, Math.floor(this.maxMs / 4)));
    await this.opts.consumer.start({
      onBatch: (batch, control) => this.withLock(() => this.consume(batch, control)),
      onAssigned: (tps) => this.withLock(() => this.assign(tps)),
      onRebalancing: () => {
        this.opts.metrics.rebalances.inc();
        this.withLock(() => this.flushAll()).catch((err: unknown) => this.fail(err as Error));
      },
      onCrash: (err) => this.fail(err),
    });
    this.running = true;
  }

  /** Graceful stop: no new batches, store and commit what is held, leave the group. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.withLock(() => this.flushAll());
    await this.opts.consumer.stop();
    await this.withLock(() => this.flushAll());
    this.detector.flush();
    await this.opts.afterStore?.();
  }

  detectorStats(): ReturnType<StreamingDetector['stats']> {
    return this.detector.stats();
  }

  private emit(a: Alert): void {
    this.opts.metrics.alerts.inc({ kind: a.kind, severity: a.severity });
    this.opts.onAlert(a);
  }

  private fail(err: Error): void {
    this.crashed ??= err;
    this.log.error({ err }, 'ingest failed');
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async assign(tps: readonly TopicPartition[]): Promise<void> {
    const mine = new Set(tps.filter((t) => t.topic === this.opts.topic).map((t) => t.partition));
    // Partitions no longer ours: what was pending is stored already (flushed on rebalance) — forget them.
    for (const p of [...this.partitions.keys()]) if (!mine.has(p)) this.partitions.delete(p);
    const fresh = [...mine].filter((p) => !this.partitions.has(p));
    if (fresh.length === 0) return;
    const stored = await storedOffsets(this.opts.store, this.source, fresh);
    for (const p of fresh) {
      const s = stored.get(p) ?? { data: -1, dead: -1 };
      this.partitions.set(p, { partition: p, rows: new TsvBuffer(), dead: new TsvBuffer(1 << 16), firstOffset: -1, lastOffset: -1, openedAt: 0, storedData: s.data, storedDead: s.dead });
    }
    // Rebuild detector state of the new partitions' clients from what is stored (a restart or a
    // rebalance in the middle of a scrape must not reset it); alerts already stored are not raised again.
    this.restoring = [];
    let restored: number;
    try {
      restored = await restoreDetector({
        store: this.opts.store,
        source: this.source,
        partitions: fresh,
        windowMs: this.opts.detector.idleMs,
        detector: this.detector,
        normalizer: this.ensureNormalizer([]),
      });
    } finally {
      const held = this.restoring;
      this.restoring = null;
      await this.emitNewer(held);
    }
    this.log.info({ partitions: fresh, stored: Object.fromEntries(stored), restoredRows: restored }, 'partitions assigned');
  }

  /** Emits alert versions raised during a restore that the alerts table does not hold yet. */
  private async emitNewer(alerts: readonly Alert[]): Promise<void> {
    if (alerts.length === 0) return;
    const ids = [...new Set(alerts.map((a) => a.id))];
    const rs = await this.opts.store.client.query({
      query: 'SELECT id, max(version) AS v FROM alerts WHERE id IN {ids:Array(String)} GROUP BY id',
      query_params: { ids },
      format: 'JSONEachRow',
    });
    const stored = new Map((await rs.json<{ id: string; v: number }>()).map((r) => [r.id, Number(r.v)]));
    for (const a of alerts) if (a.version > (stored.get(a.id) ?? 0)) this.emit(a);
  }

  private ensureNormalizer(sample: readonly string[]): Normalizer {
    if (this.normalizer === null) {
      const parser = createParser(this.opts.parser, sample);
      this.normalizer = createNormalizer({ parse: parser.parse, recognise: this.opts.recognise, catalog: this.opts.catalog });
      this.log.info({ format: parser.name }, 'log format');
    }
    return this.normalizer;
  }

  private async consume(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    if (batch.topic !== this.opts.topic) return;
    let ps = this.partitions.get(batch.partition);
    if (!ps) {
      await this.assign([{ topic: batch.topic, partition: batch.partition }]);
      ps = this.partitions.get(batch.partition)!;
    }
    const m = this.opts.metrics;
    for (const msg of batch.messages) {
      if (control.isStale()) break;
      const offset = Number(msg.offset);
      control.resolveOffset(msg.offset);
      if (offset <= ps.lastOffset) continue;
      this.stats.messages++;
      m.messages.inc({ topic: batch.topic });
      const lineage: Lineage = { source: this.source, line: offset, partition: batch.partition };
      const decoded = decodeMessage(msg.value, this.maxMessageBytes);
      if (ps.firstOffset < 0) {
        ps.firstOffset = offset;
        ps.openedAt = this.now();
      }
      ps.lastOffset = offset;
      if (!decoded.ok) {
        this.dead(ps, lineage, decoded.reason, msg.value ? msg.value.toString('latin1') : '', offset);
        continue;
      }
      if (offset <= ps.storedData && offset <= ps.storedDead) {
        this.stats.skippedStored++;
        continue;
      }
      const norm = this.ensureNormalizer(decoded.lines);
      for (const line of decoded.lines) {
        let n: Normalized;
        if (decoded.json) {
          const parsed = this.parseJson(line);
          n = parsed.ok ? norm.normalizeRecord(parsed.record) : parsed;
        } else {
          n = norm.normalize(line);
        }
        if (!n.ok) {
          this.dead(ps, lineage, n.reason, line, offset);
          continue;
        }
        if (offset <= ps.storedData) continue;
        writeTileRequestRow(ps.rows, n.record, n.request, lineage, n.record.ip);
        this.detector.push(detectorEvent(n, lineage));
        if (n.record.ts > this.lastEventTs) this.lastEventTs = n.record.ts;
      }
    }
    m.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - 1 - ps.lastOffset));
    if (this.lastEventTs > 0) m.eventTimeLagSeconds.set(Math.max(0, (this.now() - this.lastEventTs) / 1000));
    if (ps.rows.rows >= this.maxRows || (ps.firstOffset >= 0 && this.now() - ps.openedAt >= this.maxMs)) await this.flush(ps);
    await control.heartbeat();
  }

  private dead(ps: PartitionState, lineage: Lineage, reason: string, raw: string, offset: number): void {
    if (offset <= ps.storedDead) return;
    writeDeadLetterRow(ps.dead, this.now(), lineage, reason, raw);
  }

  private async flushDue(): Promise<void> {
    const t = this.now();
    for (const ps of this.partitions.values()) if (ps.firstOffset >= 0 && t - ps.openedAt >= this.maxMs) await this.flush(ps);
  }

  private async flushAll(): Promise<void> {
    for (const ps of this.partitions.values()) if (ps.firstOffset >= 0) await this.flush(ps);
  }

  /** Stores a partition's batch (retrying while the store is down), then commits past it. */
  private async flush(ps: PartitionState): Promise<void> {
    if (ps.firstOffset < 0) return;
    const m = this.opts.metrics;
    const rowCount = ps.rows.rows;
    const deadCount = ps.dead.rows;
    const rows = ps.rows.take();
    const dead = ps.dead.take();
    const first = ps.firstOffset;
    const last = ps.lastOffset;
    const t0 = performance.now();
    if (rowCount > 0 || deadCount > 0) {
      await this.writer.write({ sourceId: this.source, file: this.source, partition: ps.partition, firstLine: first, lastLine: last, rows, rowCount, deadLetters: dead, deadLetterCount: deadCount });
      await this.writer.drain();
      const secs = (performance.now() - t0) / 1000;
      if (this.outage) {
        m.backpressureSeconds.inc(secs);
        this.log.info({ partition: ps.partition }, 'store available again');
      }
      this.outage = null;
      m.insertSeconds.observe(secs);
      m.batchRows.observe(rowCount);
      m.batchBytes.observe(rows.length);
      m.rows.inc({ topic: this.opts.topic }, rowCount);
      m.deadLetters.inc({ topic: this.opts.topic }, deadCount);
      this.stats.rows += rowCount;
      this.stats.deadLetters += deadCount;
      this.stats.batches++;
    }
    ps.storedData = Math.max(ps.storedData, last);
    ps.storedDead = Math.max(ps.storedDead, last);
    ps.firstOffset = -1;
    const ds = this.detector.stats();
    m.detectorClients.set(ds.clients);
    m.detectorClientImages.set(ds.clientImages);
    await this.opts.afterStore?.();
    try {
      await this.opts.consumer.commit([{ topic: this.opts.topic, partition: ps.partition, offset: String(last + 1) }]);
    } catch (err) {
      // Stored but not committed (e.g. a rebalance): the next owner skips it by reading ClickHouse.
      this.log.warn({ err, partition: ps.partition, offset: last + 1 }, 'commit failed after store; the stored offsets protect against duplicates');
    }
  }
}

/** Highest offsets per partition already stored for a Kafka source (ClickHouse as the offset store). */
export async function storedOffsets(store: Store, source: string, partitions: readonly number[]): Promise<Map<number, { data: number; dead: number }>> {
  const out = new Map<number, { data: number; dead: number }>();
  if (partitions.length === 0) return out;
  for (const p of partitions) out.set(p, { data: -1, dead: -1 });
  const q = async (table: string): Promise<Array<{ partition: number; max: string }>> => {
    const rs = await store.client.query({
      query: `SELECT partition, toString(max(line)) AS max FROM ${table} WHERE source = {source:String} AND partition IN {parts:Array(Int32)} GROUP BY partition`,
      query_params: { source, parts: [...partitions] },
      format: 'JSONEachRow',
    });
    return rs.json();
  };
  for (const r of await q('tile_requests')) out.get(Number(r.partition))!.data = Number(r.max);
  for (const r of await q('dead_letters')) out.get(Number(r.partition))!.dead = Number(r.max);
  return out;
}

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Alert } from '../../core/alert.ts';
import type { DetectorConfig } from '../../core/detect/detectorConfig.ts';
import { createJsonParser } from '../../core/logformat/createJsonParser.ts';
import { createParser, type ParserSpec } from '../../core/logformat/createParser.ts';
import type { LineParser } from '../../core/logformat/lineParser.ts';
import type { RecogniseOptions } from '../../core/protocols/options.ts';
import type { AccessRecord, Lineage } from '../../core/types.ts';
import { StreamingDetector } from '../../detector/streamingDetector.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { isRetryableStoreError } from '../../store/batchWriter.ts';
import { dedupSettings, insertBisecting, rejectedRowsAsDeadLetters } from '../../store/insertBisecting.ts';
import type { Store } from '../../store/openStore.ts';
import { DEAD_LETTER_COLUMNS, TILE_REQUEST_COLUMNS, writeDeadLetterRow } from '../../store/tileRequestRows.ts';
import { TsvBuffer } from '../../store/tsvBuffer.ts';
import type { Catalog } from '../catalog.ts';
import type { InputLimits } from '../../core/validate/inputLimits.ts';
import { createNormalizer, type Normalizer } from '../normalizer.ts';
import { processLine, type LineStep } from '../processLine.ts';
import type { BatchControl, ConsumedBatch, KafkaConsumer, TopicPartition } from '../../kafka/consumer.ts';
import { decodeMessage } from './decodeMessage.ts';
import type { MessageProducer, ProducedMessage } from '../../kafka/producer.ts';
import { restoreDetector } from './restoreDetector.ts';

/** How far a due batch may grow while the previous one is still being stored (× maxBatchRows). */
const BATCH_GROWTH = 4;

export interface KafkaIngestOptions {
  readonly consumer: KafkaConsumer;
  readonly store: Store;
  readonly topic: string;
  readonly parser: ParserSpec;
  readonly recognise: RecogniseOptions;
  readonly detector: DetectorConfig;
  readonly catalog: Catalog;
  readonly isAllowed: (ip: string, userAgent: string) => boolean;
  /** Ranges a stored request must fit; messages outside them are dead letters. Default DEFAULT_INPUT_LIMITS. */
  readonly limits?: InputLimits;
  /** A batch (all partitions together) is stored when it holds this many rows or messages… Default 10,000. */
  readonly maxBatchRows?: number;
  /** …or its first message is this old (wall clock). Default 1,000 ms. */
  readonly maxBatchMs?: number;
  /** Larger messages go to dead letters. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Store requests in tile_requests (default). Off for detection workers reading a re-published topic whose requests are stored upstream. */
  readonly storeRequests?: boolean;
  /** Feed the streaming detector (default). Off for a re-publishing ingest, whose partitions are not per client. */
  readonly detect?: boolean;
  /** Also produce each dead letter here (raw value; headers reason, source topic/partition/offset), before the commit. */
  readonly deadLetterTopic?: { readonly topic: string; readonly producer: MessageProducer };
  /** Re-publish every parsed request, keyed by client, as a compact JSON record (see {@link republishValue}), before the commit. */
  readonly republish?: { readonly topic: string; readonly producer: MessageProducer };
  readonly onAlert: (alert: Alert) => void;
  /** Called after each stored batch (alert sinks flush here). */
  readonly afterStore?: () => Promise<void>;
  /** Dev/test hook: called with the batch number (1-based) after a batch is stored and before its offsets are committed. */
  readonly beforeCommit?: (batchNo: number) => void;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Base and cap of the store/produce retry backoff. Defaults 200 ms, 30 s. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

interface PartitionState {
  readonly partition: number;
  /** Highest offset processed (held, in flight or stored): re-delivered offsets up to it are skipped. */
  lastOffset: number;
  /** Highest offset already in tile_requests / dead_letters: re-delivered offsets up to it are not stored again. */
  storedData: number;
  storedDead: number;
}

/** What one flush stores and commits: rows of every partition that had messages. */
interface Cut {
  readonly no: number;
  readonly rows: Buffer;
  readonly rowCount: number;
  readonly dead: Buffer;
  readonly deadCount: number;
  readonly ranges: ReadonlyMap<number, { readonly first: number; readonly last: number }>;
  readonly deadLetterMessages: readonly ProducedMessage[];
  readonly republished: readonly ProducedMessage[];
  /** Alerts raised by this batch's requests: emitted once the requests are stored. */
  readonly alerts: readonly Alert[];
}

/**
 * Kafka → ClickHouse with live detection. The effect is exactly once:
 * - commit after write: offsets are committed only after the rows of their messages are stored;
 * - ClickHouse is the offset store: on assignment the highest stored offset per partition is read
 *   from tile_requests and dead_letters (lineage columns), and re-delivered messages up to it are
 *   neither stored again nor fed to the detector again;
 * - retries of one batch re-send identical bytes with one deduplication token.
 * One batch holds the messages of every assigned partition (one insert per table, one commit per
 * flush); the next batch is cut while the previous one is being stored, and at most one is in
 * flight: when the store fails, consumption waits (nothing more is fetched, nothing committed) and
 * the insert is retried with backoff; it resumes by itself.
 */
export class KafkaIngest {
  private readonly partitions = new Map<number, PartitionState>();
  private readonly detector: StreamingDetector;
  private normalizer: Normalizer | null = null;
  private step: LineStep | null = null;
  private readonly parseJson: LineParser;
  /** While detector state is being restored, alerts are held here and only newer versions are emitted. */
  private restoring: Alert[] | null = null;
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private outage: string | null = null;
  private running = false;
  private stopping = false;
  private crashed: Error | null = null;
  private readonly source: string;
  private readonly now: () => number;
  private readonly maxRows: number;
  private readonly maxMs: number;
  private readonly maxMessageBytes: number;
  private readonly storeRequests: boolean;
  private readonly detect: boolean;
  private readonly log: Logger;
  private lastEventTs = 0;
  // The batch being filled.
  private rows = new TsvBuffer(4 << 20);
  private dead = new TsvBuffer(1 << 16);
  private ranges = new Map<number, { first: number; last: number }>();
  private heldMessages = 0;
  private openedAt = 0;
  private deadLetterMessages: ProducedMessage[] = [];
  private republished: ProducedMessage[] = [];
  private heldAlerts: Alert[] = [];
  private cuts = 0;
  /** The batch being stored and committed (at most one). Never rejects: failures end in {@link fail}. */
  private inFlight: Promise<void> = Promise.resolve();
  private busy = false;
  stats = { messages: 0, rows: 0, deadLetters: 0, batches: 0, skippedStored: 0, republished: 0, heldMessages: 0 };

  constructor(private readonly opts: KafkaIngestOptions) {
    this.now = opts.now ?? Date.now;
    this.maxRows = opts.maxBatchRows ?? 10_000;
    this.maxMs = opts.maxBatchMs ?? 1000;
    this.maxMessageBytes = opts.maxMessageBytes ?? 1 << 20;
    this.storeRequests = opts.storeRequests ?? true;
    this.detect = opts.detect ?? true;
    this.source = `kafka:${opts.topic}`;
    this.log = opts.logger.child({ component: 'kafka-ingest' });
    this.detector = new StreamingDetector({
      config: opts.detector,
      geometryOf: (p, id) => this.normalizer?.geometryOf(p, id),
      openDataOf: (p, id) => opts.catalog.get(p, id)?.openDataLongEdge,
      isAllowed: opts.isAllowed,
      onAlert: (a) => {
        if (this.restoring) this.restoring.push(a);
        else this.heldAlerts.push(a);
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

  /** Partitions assigned to this consumer now. */
  assigned(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
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

  /**
   * Graceful stop: batches delivered from now on are ignored (not processed, not resolved), what is
   * held is stored and committed while this consumer is still a member of its group, then it leaves.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.withLock(() => this.flushAll());
    await this.opts.consumer.stop();
    // Everything consumed is stored now: alerts the final evaluation raises can go out.
    this.detector.flush();
    for (const a of this.heldAlerts.splice(0)) this.emit(a);
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
    // Whatever was cut is stored before partitions change hands (the rebalance flushed what was held).
    await this.inFlight;
    const mine = new Set(tps.filter((t) => t.topic === this.opts.topic).map((t) => t.partition));
    for (const p of [...this.partitions.keys()]) if (!mine.has(p)) this.partitions.delete(p);
    const fresh = [...mine].filter((p) => !this.partitions.has(p));
    this.opts.metrics.assignedPartitions.set(mine.size);
    if (fresh.length === 0) return;
    const stored = await storedOffsets(this.opts.store, this.source, fresh);
    for (const p of fresh) {
      const s = stored.get(p) ?? { data: -1, dead: -1 };
      this.partitions.set(p, { partition: p, lastOffset: -1, storedData: s.data, storedDead: s.dead });
    }
    if (!this.detect) {
      this.log.info({ partitions: fresh, stored: Object.fromEntries(stored) }, 'partitions assigned');
      return;
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
      this.normalizer = createNormalizer({ parse: parser.parse, recognise: this.opts.recognise, catalog: this.opts.catalog, ...(this.opts.limits ? { limits: this.opts.limits } : {}), now: this.now });
      this.log.info({ format: parser.name }, 'log format');
    }
    return this.normalizer;
  }

  /** The line step of this topic (processLine.ts), built with the normalizer on the first message. */
  private lineStep(sample: readonly string[]): LineStep {
    if (this.step === null) this.step = { normalizer: this.ensureNormalizer(sample), clientKey: this.opts.detector.clientKey, rows: this.rows, dead: this.dead, now: this.now };
    return this.step;
  }

  private async consume(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    if (batch.topic !== this.opts.topic || this.stopping || this.crashed) return;
    let ps = this.partitions.get(batch.partition);
    if (!ps) {
      await this.assign([...this.partitions.keys(), batch.partition].map((partition) => ({ topic: batch.topic, partition })));
      ps = this.partitions.get(batch.partition)!;
    }
    const m = this.opts.metrics;
    let consumed = 0;
    for (const msg of batch.messages) {
      if (control.isStale()) break;
      const offset = Number(msg.offset);
      control.resolveOffset(msg.offset);
      if (offset <= ps.lastOffset) continue;
      consumed++;
      const lineage: Lineage = { source: this.source, line: offset, partition: batch.partition };
      const decoded = decodeMessage(msg.value, this.maxMessageBytes);
      const range = this.ranges.get(batch.partition);
      if (range) range.last = offset;
      else this.ranges.set(batch.partition, { first: offset, last: offset });
      if (this.heldMessages++ === 0) this.openedAt = this.now();
      ps.lastOffset = offset;
      if (!decoded.ok) {
        this.deadLetter(ps, lineage, decoded.reason, msg.value ?? Buffer.alloc(0), msg.key, offset);
        continue;
      }
      if (offset <= ps.storedData && offset <= ps.storedDead) {
        this.stats.skippedStored++;
        continue;
      }
      const step = this.lineStep(decoded.lines);
      const newData = offset > ps.storedData;
      const newDead = offset > ps.storedDead;
      for (const line of decoded.lines) {
        const p = processLine(step, line, lineage, this.storeRequests && newData, newDead, decoded.json ? this.parseJson(line) : undefined);
        if (!p.ok) {
          if (newDead) this.publishDeadLetter(lineage, p.reason, line, msg.key, offset);
          continue;
        }
        if (!newData) continue;
        const rec = p.record;
        if (this.opts.republish) {
          this.republished.push({ key: p.clientKey, value: republishValue(rec, this.opts.topic, batch.partition, offset) });
        }
        if (this.detect) this.detector.push(p.event);
        if (rec.ts > this.lastEventTs) this.lastEventTs = rec.ts;
      }
    }
    this.stats.messages += consumed;
    m.messages.inc({ topic: batch.topic }, consumed);
    m.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - 1 - ps.lastOffset));
    if (this.lastEventTs > 0) m.eventTimeLagSeconds.set(Math.max(0, (this.now() - this.lastEventTs) / 1000));
    this.stats.heldMessages = this.heldMessages;
    if (this.due() && (!this.busy || this.held() >= BATCH_GROWTH * this.maxRows)) await this.cut(control);
    await control.heartbeat();
  }

  /** A message that yields no lines (undecodable): its dead letter, and its copy to the dead-letter topic. */
  private deadLetter(ps: PartitionState, lineage: Lineage, reason: string, raw: Buffer, key: Buffer | null, offset: number): void {
    if (offset <= ps.storedDead) return;
    writeDeadLetterRow(this.dead, this.now(), lineage, reason, raw.toString('latin1'));
    this.publishDeadLetter(lineage, reason, raw, key, offset);
  }

  /** The dead-letter topic's copy of a dead letter (when one is configured). */
  private publishDeadLetter(lineage: Lineage, reason: string, raw: string | Buffer, key: Buffer | null, offset: number): void {
    if (this.opts.deadLetterTopic) {
      this.deadLetterMessages.push({
        // The source message's key, else its partition: a partition's dead letters stay in order.
        key: key ? key.toString('latin1') : `${this.opts.topic}/${lineage.partition}`,
        value: raw,
        headers: { reason, 'source-topic': this.opts.topic, 'source-partition': String(lineage.partition), 'source-offset': String(offset) },
      });
    }
  }

  private held(): number {
    return Math.max(this.rows.rows, this.heldMessages);
  }

  /**
   * A batch is due at maxBatchRows or maxBatchMs. While the previous one is still being stored, a due
   * batch keeps filling (up to BATCH_GROWTH × maxBatchRows) and is cut when the store is free: slow
   * inserts make fewer, larger batches instead of a queue.
   */
  private due(): boolean {
    return this.heldMessages > 0 && (this.held() >= this.maxRows || this.now() - this.openedAt >= this.maxMs);
  }

  private async flushDue(): Promise<void> {
    if (this.due() && !this.busy) await this.cut();
  }

  /** Cuts what is held and waits until it is stored and committed. */
  private async flushAll(): Promise<void> {
    await this.cut();
    await this.inFlight;
  }

  /**
   * Closes the batch being filled and hands it to the store once the batch before it is stored and
   * committed (at most one in flight: this wait is the backpressure). While waiting, the group
   * heartbeat is kept when called from a fetch handler.
   */
  private async cut(control?: BatchControl): Promise<void> {
    if (this.heldMessages === 0 || this.crashed) return;
    const c: Cut = {
      no: ++this.cuts,
      rowCount: this.rows.rows,
      rows: this.rows.take(),
      deadCount: this.dead.rows,
      dead: this.dead.take(),
      ranges: this.ranges,
      deadLetterMessages: this.deadLetterMessages,
      republished: this.republished,
      alerts: this.heldAlerts,
    };
    this.heldAlerts = [];
    this.ranges = new Map();
    this.deadLetterMessages = [];
    this.republished = [];
    this.heldMessages = 0;
    this.stats.heldMessages = 0;
    await this.waitInFlight(control);
    this.busy = true;
    this.inFlight = this.storeAndCommit(c)
      .catch((err: unknown) => this.fail(err as Error))
      .finally(() => {
        this.busy = false;
        // Cut the batch that filled meanwhile now rather than at the next tick.
        if (this.due() && !this.stopping) this.withLock(() => this.flushDue()).catch((err: unknown) => this.fail(err as Error));
      });
  }

  private async waitInFlight(control?: BatchControl): Promise<void> {
    if (!control) return this.inFlight;
    let done = false;
    const p = this.inFlight.then(() => void (done = true));
    while (!done) {
      await Promise.race([p, new Promise((r) => setTimeout(r, 1000).unref())]);
      if (!done) await control.heartbeat().catch(() => undefined);
    }
  }

  /** Dead-letter topic, inserts, re-publish, alert sinks, then one commit for every partition in the batch. */
  private async storeAndCommit(c: Cut): Promise<void> {
    const m = this.opts.metrics;
    const t0 = performance.now();
    const token = `${this.source}:${createHash('sha256')
      .update([...c.ranges].map(([p, r]) => `${p}:${r.first}-${r.last}`).join(','))
      .digest('hex')
      .slice(0, 32)}`;
    // Dead letters reach their topic before their rows are stored: a crash in between re-sends them (at least once).
    if (c.deadLetterMessages.length > 0 && this.opts.deadLetterTopic) {
      const dlt = this.opts.deadLetterTopic;
      await this.retry('dead-letter topic', c, () => dlt.producer.send(dlt.topic, c.deadLetterMessages));
    }
    // A value the engine still refuses costs only its own row (bisected out, dead-lettered): a poison
    // message never stops the consumer.
    const rejected =
      c.rowCount > 0
        ? await insertBisecting(this.opts.store, {
            table: 'tile_requests',
            columns: TILE_REQUEST_COLUMNS,
            body: c.rows,
            token,
            attempt: (fn) => this.retry('tile_requests', c, async () => void (await fn())),
          })
        : [];
    const dead = rejected.length > 0 ? Buffer.concat([c.dead, rejectedRowsAsDeadLetters(rejected, this.now())]) : c.dead;
    const deadCount = c.deadCount + rejected.length;
    const rowCount = c.rowCount - rejected.length;
    if (deadCount > 0) {
      await this.retry('dead_letters', c, () =>
        this.opts.store.insertRaw({ table: 'dead_letters', columns: DEAD_LETTER_COLUMNS, body: dead, format: 'TabSeparated', settings: dedupSettings(`${token}:dl`) }),
      );
    }
    for (const [p, r] of c.ranges) {
      const ps = this.partitions.get(p);
      if (!ps) continue;
      ps.storedData = Math.max(ps.storedData, r.last);
      ps.storedDead = Math.max(ps.storedDead, r.last);
    }
    if (c.republished.length > 0 && this.opts.republish) {
      const rp = this.opts.republish;
      await this.retry('re-publish topic', c, () => rp.producer.send(rp.topic, c.republished));
      this.stats.republished += c.republished.length;
    }
    // An alert goes out only once the requests that raised it are stored: a crash before that re-raises
    // it after the restart (once); a crash after it finds it in the alerts table (restore does not repeat it).
    for (const a of c.alerts) this.emit(a);
    const secs = (performance.now() - t0) / 1000;
    if (this.outage) {
      m.backpressureSeconds.inc(secs);
      this.log.info({ batch: c.no }, 'store available again');
    }
    this.outage = null;
    m.insertSeconds.observe(secs);
    m.batchRows.observe(rowCount);
    m.batchBytes.observe(c.rows.length);
    m.rows.inc({ topic: this.opts.topic }, rowCount);
    m.deadLetters.inc({ topic: this.opts.topic }, deadCount);
    this.stats.rows += rowCount;
    this.stats.deadLetters += deadCount;
    this.stats.batches++;
    const ds = this.detector.stats();
    m.detectorClients.set(ds.clients);
    m.detectorClientImages.set(ds.clientImages);
    await this.opts.afterStore?.();
    this.opts.beforeCommit?.(c.no);
    const offsets = [...c.ranges].map(([partition, r]) => ({ topic: this.opts.topic, partition, offset: String(r.last + 1) }));
    try {
      await this.opts.consumer.commit(offsets);
    } catch (err) {
      // Stored but not committed (e.g. a rebalance): the next owner skips it by reading ClickHouse.
      this.log.warn({ err, offsets }, 'commit failed after store; the stored offsets protect against duplicates');
    }
  }

  /** Retries `fn` with capped exponential backoff and jitter while the error is an outage; others end the run. */
  private async retry(what: string, c: Cut, fn: () => Promise<void>): Promise<void> {
    const base = this.opts.backoffMs ?? 200;
    const cap = this.opts.maxBackoffMs ?? 30_000;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isRetryableStoreError(err)) throw err;
        this.outage = `${what}: ${(err as Error).message.split('\n')[0] ?? ''}`;
        this.opts.metrics.insertErrors.inc();
        this.log.warn({ err, attempt, batch: c.no, partitions: [...c.ranges.keys()] }, `${what} failed; retrying`);
        const backoff = Math.min(cap, base * 2 ** Math.min(attempt - 1, 20));
        await new Promise((r) => setTimeout(r, backoff / 2 + Math.random() * backoff));
      }
    }
  }
}

/**
 * The re-published form of a parsed request: one compact JSON object in the field names tilewatch's
 * JSON log parser reads (so a detection worker is an ordinary `ingest` of that topic), with `src`
 * naming the original message (topic/partition/offset).
 */
export function republishValue(rec: AccessRecord, topic: string, partition: number, offset: number): string {
  return JSON.stringify({
    ts: rec.ts,
    ip: rec.ip,
    method: rec.method,
    path: rec.target,
    status: rec.status,
    bytes: rec.bytes,
    referer: rec.referer,
    ua: rec.userAgent,
    host: rec.host,
    src: `${topic}/${partition}/${offset}`,
  });
}

/** Insert settings for an idempotent insert (the materialized views deduplicate with the same token). */
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

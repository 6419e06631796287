import type { Logger } from 'pino';
import type { Alert } from '../../core/alert.ts';
import type { Clock, Random } from '../../core/clock.ts';
import type { DetectorConfig } from '../../core/detect/detectorConfig.ts';
import { createJsonParser } from '../../core/logformat/createJsonParser.ts';
import { createParser, type ParserSpec } from '../../core/logformat/createParser.ts';
import type { LineParser } from '../../core/logformat/lineParser.ts';
import type { RecogniseOptions } from '../../core/protocols/options.ts';
import { backoffDelay, type RetryPolicy } from '../../core/retry.ts';
import type { InputLimits } from '../../core/validate/inputLimits.ts';
import { StreamingDetector } from '../../detector/streamingDetector.ts';
import type { BatchControl, ConsumedBatch, KafkaConsumer, PartitionReader, TopicPartition } from '../../kafka/consumer.ts';
import type { MessageProducer } from '../../kafka/producer.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { systemClock } from '../../runtime/systemClock.ts';
import { isRetryableStoreError } from '../../store/batchWriter.ts';
import type { Store } from '../../store/openStore.ts';
import type { Catalog } from '../catalog.ts';
import { createNormalizer, type Normalizer } from '../normalizer.ts';
import type { LineStep } from '../processLine.ts';
import { AlertGate } from './alertGate.ts';
import { BatchAssembly, type AssembledBatch } from './batchAssembly.ts';
import { OffsetLedger, batchToken, commitOffsets, type OffsetRange } from './offsetLedger.ts';
import { restoreDetector } from './restoreDetector.ts';
import { openStreamingAlerts, storedAlertVersions } from './storedState.ts';
import { storeRows } from './storeRows.ts';
import { processMessage, type MessageTarget } from './processMessage.ts';
import { assembleUnit } from './unitRepair.ts';
import { confirmUnit, readStreamState, recordUnit, streamId, type OpenUnit } from './unitState.ts';

export interface KafkaIngestOptions {
  readonly consumer: KafkaConsumer;
  /**
   * The cluster's id and exact offset ranges outside the group: the repair of a batch cut but never
   * confirmed (a crash, a member fenced out). Without it the cluster id is "unknown" and such a batch
   * stops the ingest with an error.
   */
  readonly reader?: PartitionReader;
  /**
   * The group's session timeout (ms). A member whose last proof of membership is older than half of it
   * may have been evicted: it starts no insert (fencing) until the group has it back. Default: no fence.
   */
  readonly sessionTimeoutMs?: number;
  /** Names this member in the unit intents (kafka_units.member). Default `pid <pid>`. */
  readonly memberName?: string;
  readonly store: Store;
  readonly topic: string;
  readonly parser: ParserSpec;
  readonly recognise: RecogniseOptions;
  readonly detector: DetectorConfig;
  readonly catalog: Catalog;
  readonly isAllowed: (ip: string, userAgent: string) => boolean;
  /** Ranges a stored request must fit; messages outside them are dead letters. Default DEFAULT_INPUT_LIMITS. */
  readonly limits?: InputLimits;
  /**
   * A batch (all partitions together) is stored when it holds this many rows or messages… Default
   * {@link DEFAULT_MAX_BATCH_ROWS}. While the previous batch is still being stored, a due batch keeps
   * filling up to {@link BATCH_GROWTH} times this.
   */
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
  /** Re-publish every parsed request, keyed by client, as a compact JSON record (topicMessages.ts republishValue), acknowledged before its batch is stored. */
  readonly republish?: { readonly topic: string; readonly producer: MessageProducer };
  readonly onAlert: (alert: Alert) => void;
  /** Called after each stored batch (alert sinks flush here). */
  readonly afterStore?: () => Promise<void>;
  /** Dev/test hook: called with the batch number (1-based) after a batch's inserts and before its confirmation (kafka_offsets). */
  readonly beforeConfirm?: (batchNo: number) => void;
  /** Dev/test hook: called with the batch number (1-based) after a batch is stored and before its offsets are committed. */
  readonly beforeCommit?: (batchNo: number) => void;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Wall clock: batch age and tick, retry waits, heartbeats while waiting. Default systemClock. */
  readonly clock?: Clock;
  /** Jitter of the retry backoff. Default Math.random. */
  readonly random?: Random;
  /** Wall time of receipt columns and batch age. Default the clock's. */
  readonly now?: () => number;
  /** Base and cap of the store/produce retry backoff ({@link KAFKA_STORE_RETRY}). Defaults 200 ms, 30 s. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** Retries of a store or produce write: endless (the consumer waits), 200 ms doubling to 30 s, centred jitter. */
export const KAFKA_STORE_RETRY: RetryPolicy = Object.freeze({ maxAttempts: Infinity, baseDelayMs: 200, maxDelayMs: 30_000, jitter: 'centred' });

/**
 * Rows per insert when nothing else says: measured (npm run bench:kafka, and inserts of 240,000
 * Kafka rows into tile_requests with its materialized views at 5k–240k rows each) the engine spends
 * ≈ 130 ms of CPU per insert besides ≈ 7 µs per row, so 10,000-row inserts cost 2.5× the CPU of
 * 50,000-row ones; beyond ≈ 50,000 the gain is flat while memory and the tail grow.
 */
export const DEFAULT_MAX_BATCH_ROWS = 50_000;

/** While a fetch handler waits for the batch in flight, the group heartbeat is sent this often (ms). */
const HEARTBEAT_WHILE_WAITING_MS = 1000;

/** What one flush stores and commits: the closed batch and the offset ranges of its partitions. */
interface Cut {
  readonly no: number;
  readonly batch: AssembledBatch;
  readonly ranges: ReadonlyMap<number, OffsetRange>;
}

/** What is left of a stored batch until its commit: its number (its alerts) and its offset ranges (the rows are gone). */
type StoredCut = Pick<Cut, 'no' | 'ranges'>;

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
 * the insert is retried with backoff; it resumes by itself. What follows a stored batch — its
 * alerts, the sinks' flush, its commit — runs off the insert path: the next insert may start while
 * it runs (at most one batch waits so), and every commit still follows its own batch's store.
 *
 * The parts: OffsetLedger (offsetLedger.ts: what is consumed, in the open batch, stored; what to
 * commit), BatchAssembly (batchAssembly.ts: the batch being filled and when it is due), AlertGate
 * (alertGate.ts: alerts held until their rows are stored), processLine (../processLine.ts: line →
 * row, dead letter, detector event), storeRows (storeRows.ts: the inserts of one batch). This class
 * consumes, cuts, stores, commits.
 */
export class KafkaIngest {
  private readonly offsets = new OffsetLedger();
  private readonly batch: BatchAssembly;
  private readonly alerts = new AlertGate();
  private detector: StreamingDetector;
  /** `<cluster id>/<topic>`: the key of the unit state (known from the first assignment on). */
  private stream: string | null = null;
  /**
   * Membership may be lost (a heartbeat refused as an unknown member, or none accepted for half a
   * session): nothing is processed or inserted until the group assigns partitions again.
   */
  private fenced = false;
  /** An assignment arrived since the fence (set at once, before the assignment's work runs). */
  private rejoinedSinceFence = false;
  /** The normalizer of repaired units (their old event times must not move the live stream's sample). */
  private repairNormalizer: Normalizer | null = null;
  private normalizer: Normalizer | null = null;
  private step: LineStep | null = null;
  private readonly parseJson: LineParser;
  /** Where consumed messages go (processMessage.ts). */
  private readonly target: MessageTarget;
  private lock: Promise<void> = Promise.resolve();
  /** Stops the batch tick (a sleep loop on the clock; see {@link tick}). */
  private ticker: AbortController | null = null;
  private outage: string | null = null;
  private running = false;
  private stopping = false;
  private crashed: Error | null = null;
  private readonly source: string;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly retryPolicy: RetryPolicy;
  private readonly now: () => number;
  private readonly maxMs: number;
  private readonly maxMessageBytes: number;
  private readonly storeRequests: boolean;
  private readonly detect: boolean;
  private readonly log: Logger;
  private lastEventTs = 0;
  private cuts = 0;
  /** The batch being stored (at most one). Never rejects: failures end in {@link fail}. */
  private inFlight: Promise<void> = Promise.resolve();
  /** Alerts, sinks' flush and commit of stored batches, in order (one chain). Never rejects. */
  private releasing: Promise<void> = Promise.resolve();
  /** The release of the batch before the newest stored one: an insert waits for it (at most one release lags). */
  private releasedBefore: Promise<void> = Promise.resolve();
  private busy = false;
  /** Between a rebalance signal and the assignment that ends it: membership of partition 0 is not known. */
  private rebalancing = false;
  /** Wall time of the last proof of group membership (an accepted heartbeat, the assignment, a commit). */
  private memberSeenAt = Number.NEGATIVE_INFINITY;
  stats = { messages: 0, rows: 0, deadLetters: 0, batches: 0, skippedStored: 0, republished: 0, heldMessages: 0, repairedUnits: 0, fences: 0, abandonedMessages: 0 };
  /**
   * When the startup phases ended, in ms since the process started (performance.now()): the consumer
   * connected and subscribed, the group's first assignment arrived, that assignment's stored offsets
   * and detector restore were done, the first batch was delivered, the first batch was stored. For
   * the startup log line and the benchmark; no logic reads it.
   */
  readonly startup: { consumerStartMs?: number; joinedMs?: number; assignedMs?: number; firstBatchMs?: number; firstStoredMs?: number } = {};

  constructor(private readonly opts: KafkaIngestOptions) {
    const clock = opts.clock ?? systemClock;
    this.clock = clock;
    this.random = opts.random ?? Math.random;
    this.retryPolicy = { ...KAFKA_STORE_RETRY, baseDelayMs: opts.backoffMs ?? KAFKA_STORE_RETRY.baseDelayMs, maxDelayMs: opts.maxBackoffMs ?? KAFKA_STORE_RETRY.maxDelayMs };
    this.now = opts.now ?? (() => clock.now());
    this.maxMs = opts.maxBatchMs ?? 1000;
    this.batch = new BatchAssembly({ maxRows: opts.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS, maxMs: this.maxMs }, this.now);
    this.maxMessageBytes = opts.maxMessageBytes ?? 1 << 20;
    this.storeRequests = opts.storeRequests ?? true;
    this.detect = opts.detect ?? true;
    this.source = `kafka:${opts.topic}`;
    this.log = opts.logger.child({ component: 'kafka-ingest' });
    this.detector = this.newDetector();
    this.parseJson = createJsonParser(opts.parser.trustedProxies ? { trustedProxies: opts.parser.trustedProxies } : {});
    this.target = {
      topic: opts.topic,
      source: this.source,
      maxMessageBytes: this.maxMessageBytes,
      asm: this.batch,
      stepFor: (sample) => this.lineStep(sample),
      parseJson: this.parseJson,
      storeRequests: this.storeRequests,
      deadLetterTopic: opts.deadLetterTopic !== undefined,
      republish: opts.republish !== undefined,
      now: this.now,
    };
  }

  private newDetector(): StreamingDetector {
    return new StreamingDetector({
      config: this.opts.detector,
      geometryOf: (p, id) => this.normalizer?.geometryOf(p, id),
      openDataOf: (p, id) => this.opts.catalog.get(p, id)?.openDataLongEdge,
      isAllowed: this.opts.isAllowed,
      onAlert: (a) => this.alerts.hold(a),
    });
  }

  /** Ready: consuming, and the last insert did not fail. */
  health(): { ready: boolean; reason: string } {
    if (this.crashed) return { ready: false, reason: `consumer crashed: ${this.crashed.message}` };
    if (!this.running) return { ready: false, reason: 'not consuming' };
    if (this.outage) return { ready: false, reason: `store unavailable: ${this.outage}` };
    if (this.fenced) return { ready: false, reason: 'group membership may be lost: waiting for the group to assign partitions again' };
    return { ready: true, reason: '' };
  }

  get crash(): Error | null {
    return this.crashed;
  }

  /** Partitions assigned to this consumer now. */
  assigned(): number[] {
    return this.offsets.partitions();
  }

  /**
   * The hunt lease (services/ingest/kafka/huntLease.ts): this member holds partition 0 of the topic —
   * the lowest partition, which the group always assigns to exactly one member — and still belongs to
   * the group as far as it can tell: running, not inside a rebalance, and the coordinator accepted a
   * heartbeat (or assigned or committed) less than `maxSilenceMs` ago. An evicted member (its session
   * expired: a long pause, a partition) sees its last heartbeat age past the session timeout and lets go.
   */
  holdsHuntLease(maxSilenceMs: number): boolean {
    return this.running && !this.stopping && !this.crashed && !this.rebalancing && !this.fenced && this.offsets.holds(0) && this.clock.now() - this.memberSeenAt < maxSilenceMs;
  }

  async start(): Promise<void> {
    this.ticker = new AbortController();
    void this.tick(Math.max(50, Math.floor(this.maxMs / 4)), this.ticker.signal);
    await this.opts.consumer.start({
      onBatch: (batch, control) => this.withLock(() => this.consume(batch, control), control),
      onAssigned: (tps) => {
        this.startup.joinedMs ??= performance.now();
        if (this.fenced) this.rejoinedSinceFence = true;
        return this.withLock(() => this.assign(tps)).then(() => void (this.startup.assignedMs ??= performance.now()));
      },
      onRebalancing: () => {
        // The client is rejoining now, without waiting for us: a batch not cut yet is dropped (its
        // messages come again from the committed offsets), never cut now and stored while another
        // member may already own its partitions. What is cut is stored (its intent row lets a new
        // owner insert it again identically).
        this.rebalancing = true;
        this.opts.metrics.rebalances.inc();
        this.withLock(async () => this.abandonOpen('rebalance')).catch((err: unknown) => this.fail(err as Error));
      },
      onCrash: (err) => this.fail(err),
      onHeartbeat: () => {
        this.memberSeenAt = this.clock.now();
        // Fenced on a stale heartbeat, yet the coordinator still knows this member: nothing will
        // deliver the dropped messages again without a rejoin, so stop (the next start re-reads them).
        if (this.fenced && !this.rejoinedSinceFence) this.fail(new Error('fenced on a stale group membership that was not lost: stopping so the uncommitted messages are read again'));
      },
    });
    this.startup.consumerStartMs = performance.now();
    this.running = true;
  }

  /**
   * Graceful stop: batches delivered from now on are ignored (not processed, not resolved), what is
   * held is stored and committed while this consumer is still a member of its group, then it leaves.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.ticker?.abort();
    this.ticker = null;
    await this.withLock(() => this.flushAll());
    await this.opts.consumer.stop();
    // Everything consumed is stored now: alerts the final evaluation raises can go out.
    this.detector.flush();
    for (const a of this.alerts.drainOpen()) this.emit(a);
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

  /** Runs `fn` after what holds the lock; a fetch handler waiting for it keeps the group heartbeat. */
  private withLock<T>(fn: () => Promise<T>, control?: BatchControl): Promise<T> {
    const before = this.lock;
    const run = (control ? this.keepAlive(before, control) : before).then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Waits for `p`; meanwhile the group heartbeat is sent (through a fetch handler's control) every second. */
  private async keepAlive(p: Promise<void>, control: BatchControl): Promise<void> {
    let done = false;
    const settled = p.then(() => void (done = true));
    const waiting = new AbortController();
    try {
      while (!done) {
        await Promise.race([settled, this.clock.sleep(HEARTBEAT_WHILE_WAITING_MS, waiting.signal, true)]);
        if (!done) await this.heartbeat(control);
      }
    } finally {
      waiting.abort();
    }
  }

  /**
   * A heartbeat from a fetch handler. A rebalance starting is noted (the handler stores what it holds
   * before returning); an error saying this member is no longer known fences it.
   */
  private async heartbeat(control: BatchControl): Promise<void> {
    try {
      await control.heartbeat();
    } catch (err) {
      const type = (err as { type?: unknown }).type;
      if (type === 'REBALANCE_IN_PROGRESS') this.rebalancing = true;
      else if (type === 'UNKNOWN_MEMBER_ID' || type === 'ILLEGAL_GENERATION' || type === 'FENCED_INSTANCE_ID') this.fence(`heartbeat refused: ${String(type)}`);
    }
  }

  /** The cluster id and topic: the key of this ingest's unit state. */
  private async streamKey(): Promise<string> {
    this.stream ??= streamId(this.opts.reader ? await this.opts.reader.clusterId() : 'unknown', this.opts.topic);
    return this.stream;
  }

  /**
   * Membership may be lost: drop everything not stored — the batch being filled, batches cut but not
   * yet inserted (their intent rows were not written), the partitions, the detector state, the held
   * alerts — and wait for the group to assign partitions again, which reads the unit state and
   * restores the detector from what is stored. A batch whose insert had started stays in flight: its
   * intent row is written, so a new owner inserts it again with the same token.
   */
  private fence(why: string): void {
    if (this.fenced) return;
    this.fenced = true;
    this.rejoinedSinceFence = false;
    this.stats.fences++;
    this.opts.metrics.fences.inc();
    this.log.warn({ why, partitions: this.offsets.partitions() }, 'fenced: group membership may be lost; dropping what is not stored until the group assigns partitions again');
    this.stats.abandonedMessages += this.batch.messages;
    this.batch.take();
    this.offsets.reassign(new Set());
    this.alerts.clear();
    this.detector = this.newDetector();
    this.stats.heldMessages = 0;
  }

  /** A rebalance began: the batch being filled is dropped unstored (see onRebalancing). */
  private abandonOpen(why: string): void {
    if (this.batch.messages === 0) return;
    this.log.info({ why, messages: this.batch.messages }, 'dropping the batch being filled; its messages are read again after the rejoin');
    this.stats.abandonedMessages += this.batch.messages;
    this.batch.take();
    this.offsets.abandonOpen();
    this.stats.heldMessages = 0;
  }

  private async assign(tps: readonly TopicPartition[]): Promise<void> {
    // Whatever was cut is stored (and committed, as far as the group lets) before partitions change hands.
    await this.inFlight;
    await this.releasing;
    const mine = new Set(tps.filter((t) => t.topic === this.opts.topic).map((t) => t.partition));
    const revoked = this.offsets.partitions().filter((p) => !mine.has(p));
    const fresh = this.offsets.reassign(mine);
    // Clients of partitions gone to another member: dropped without a word (the new owner restores them).
    if (revoked.length > 0) this.log.info({ revoked, clients: this.detector.forgetPartitions(new Set(revoked)) }, 'partitions revoked');
    this.rebalancing = false;
    this.fenced = false;
    this.memberSeenAt = this.clock.now();
    this.opts.metrics.assignedPartitions.set(mine.size);
    if (fresh.length === 0) return;
    const stream = await this.streamKey();
    const state = await readStreamState(this.opts.store, stream, this.opts.topic, this.source, fresh);
    const stored = state.stored;
    // Batches cut and never confirmed (their owner crashed, or was fenced out while inserting): read
    // exactly their ranges again and insert them with their token; then they count as stored.
    for (const u of state.open) {
      await this.repair(stream, u);
      for (const [p, r] of u.ranges) {
        const s = stored.get(p);
        if (s && r.last > s.data) stored.set(p, { ...s, data: r.last, dead: r.last });
      }
    }
    for (const p of fresh) this.offsets.add(p, stored.get(p) ?? { data: -1, dead: -1 });
    if (!this.detect) {
      this.log.info({ partitions: fresh, stored: Object.fromEntries(stored) }, 'partitions assigned');
      return;
    }
    // Rebuild detector state of the new partitions' clients from what is stored (a restart or a
    // rebalance in the middle of a scrape must not reset it); alerts already stored are not raised again.
    this.alerts.beginRestore();
    // Open alerts of these clients continue (same id, next version) although only the last idle
    // window of their requests is read back.
    this.detector.beginResume(await openStreamingAlerts(this.opts.store, this.source, fresh, this.opts.detector.idleMs));
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
      this.detector.endResume();
      await this.emitNewer(this.alerts.endRestore());
    }
    this.log.info({ partitions: fresh, stored: Object.fromEntries(stored), restoredRows: restored, repairedUnits: state.open.length }, 'partitions assigned');
  }

  /** Inserts an unconfirmed unit again from its messages, with its own token, then confirms it. */
  private async repair(stream: string, u: OpenUnit): Promise<void> {
    const reader = this.opts.reader;
    if (!reader) throw new Error(`a batch cut by an earlier run was never confirmed (${u.token}) and this ingest has no partition reader to insert it again`);
    const t0 = performance.now();
    const messages = await reader.readRanges(this.opts.topic, u.ranges);
    const batch = assembleUnit(
      {
        topic: this.opts.topic,
        source: this.source,
        maxMessageBytes: this.maxMessageBytes,
        step: (asm) => ({ normalizer: (this.repairNormalizer ??= this.buildNormalizer([])), clientKey: this.opts.detector.clientKey, rows: asm.rows, dead: asm.dead, deadReasons: asm.deadReasons, now: this.now }),
        parseJson: this.parseJson,
        storeRequests: this.storeRequests,
        withDeadLetterTopic: this.opts.deadLetterTopic !== undefined,
        withRepublish: this.opts.republish !== undefined,
        now: this.now,
      },
      messages,
    );
    const c: Cut = { no: 0, batch, ranges: u.ranges };
    const attempt = (what: string, fn: () => Promise<void>): Promise<void> => this.retry(what, c, fn);
    const rp = this.opts.republish;
    if (batch.republished.length > 0 && rp) await attempt('re-publish topic', () => rp.producer.send(rp.topic, batch.republished));
    const { rowCount, deadCount } = await storeRows({ store: this.opts.store, deadLetterTopic: this.opts.deadLetterTopic, attempt, now: this.now }, batch, u.token);
    await attempt('unit confirmation', () => confirmUnit(this.opts.store, stream, u.token, u.ranges, this.now()));
    this.stats.repairedUnits++;
    this.opts.metrics.repairedUnits.inc();
    this.log.warn(
      { token: u.token, ranges: Object.fromEntries([...u.ranges].map(([p, r]) => [p, `${r.first}-${r.last}`])), rows: rowCount, deadLetters: deadCount, ms: Math.round(performance.now() - t0) },
      'inserted a batch left unconfirmed again with its own token (the engine keeps each of its blocks once)',
    );
  }

  /** Emits alert versions raised during a restore that the alerts table does not hold yet. */
  private async emitNewer(alerts: readonly Alert[]): Promise<void> {
    if (alerts.length === 0) return;
    const stored = await storedAlertVersions(this.opts.store, [...new Set(alerts.map((a) => a.id))]);
    for (const a of alerts) if (a.version > (stored.get(a.id) ?? 0)) this.emit(a);
  }

  private ensureNormalizer(sample: readonly string[]): Normalizer {
    this.normalizer ??= this.buildNormalizer(sample);
    return this.normalizer;
  }

  private buildNormalizer(sample: readonly string[]): Normalizer {
    const parser = createParser(this.opts.parser, sample);
    this.log.info({ format: parser.name }, 'log format');
    return createNormalizer({ parse: parser.parse, recognise: this.opts.recognise, catalog: this.opts.catalog, ...(this.opts.limits ? { limits: this.opts.limits } : {}), now: this.now });
  }

  /** The line step of this topic (processLine.ts), built with the normalizer on the first message. */
  private lineStep(sample: readonly string[]): LineStep {
    this.step ??= {
      normalizer: this.ensureNormalizer(sample),
      clientKey: this.opts.detector.clientKey,
      rows: this.batch.rows,
      dead: this.batch.dead,
      deadReasons: this.batch.deadReasons,
      now: this.now,
    };
    return this.step;
  }

  private async consume(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    if (batch.topic !== this.opts.topic || this.stopping || this.crashed || this.fenced) return;
    this.startup.firstBatchMs ??= performance.now();
    const partition = batch.partition;
    if (!this.offsets.holds(partition)) await this.assign([...this.offsets.partitions(), partition].map((p) => ({ topic: batch.topic, partition: p })));
    let consumed = 0;
    // Offsets are resolved once per delivered batch (the last one processed), not per message: kafkajs
    // parses every resolved offset into a 64-bit Long, which cost more than decoding the message.
    let resolved: string | null = null;
    this.batch.startSegment(partition);
    for (const msg of batch.messages) {
      if (control.isStale()) break;
      const offset = Number(msg.offset);
      resolved = msg.offset;
      const admitted = this.offsets.consume(partition, offset);
      if (!admitted) continue;
      consumed++;
      this.batch.addMessage();
      const fresh = processMessage(this.target, msg, partition, admitted, (p) => {
        if (this.detect && admitted.detect) this.detector.push(p.event);
        if (p.record.ts > this.lastEventTs) this.lastEventTs = p.record.ts;
        this.offsets.noteEventTime(partition, p.record.ts);
      });
      if (!fresh) this.stats.skippedStored++;
    }
    if (resolved !== null) control.resolveOffset(resolved);
    const m = this.opts.metrics;
    this.stats.messages += consumed;
    m.messages.inc({ topic: batch.topic }, consumed);
    this.offsets.noteHighWatermark(partition, Number(batch.highWatermark));
    m.lag.set({ topic: batch.topic, partition: String(partition) }, Math.max(0, Number(batch.highWatermark) - 1 - this.offsets.lastOffset(partition)));
    if (this.lastEventTs > 0) m.eventTimeLagSeconds.set(Math.max(0, (this.now() - this.lastEventTs) / 1000));
    this.stats.heldMessages = this.batch.messages;
    if (this.batch.shouldCut(this.busy, this.offsets.caughtUp())) await this.cut(control);
    await this.heartbeat(control);
    // A rebalance is starting and the client waits for this handler: store and commit what is held
    // while still a member, so the partitions' next owner starts exactly after it.
    if (this.rebalancing && !this.fenced && !this.crashed) await this.flushAll(control);
  }

  /** Every `ms` until `signal` aborts: cut the batch if it is due (its age passed maxBatchMs). */
  private async tick(ms: number, signal: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await this.clock.sleep(ms, signal);
      } catch {
        return; // stopped
      }
      this.withLock(() => this.flushDue()).catch((err: unknown) => this.fail(err as Error));
    }
  }

  private async flushDue(): Promise<void> {
    if (!this.busy && this.batch.shouldCut(false, this.offsets.caughtUp())) await this.cut();
  }

  /** Cuts what is held and waits until it is stored and committed. */
  private async flushAll(control?: BatchControl): Promise<void> {
    await this.cut(control);
    await (control ? this.keepAlive(this.inFlight, control) : this.inFlight);
    await this.releasing;
  }

  /**
   * Closes the batch being filled and hands it to the store once the batch before it is stored and
   * committed (at most one in flight: this wait is the backpressure). While waiting, the group
   * heartbeat is kept when called from a fetch handler.
   */
  private async cut(control?: BatchControl): Promise<void> {
    if (this.batch.messages === 0 || this.crashed) return;
    const c: Cut = { no: ++this.cuts, batch: this.batch.take(), ranges: this.offsets.takeRanges() };
    this.alerts.seal(c.no);
    this.stats.heldMessages = 0;
    await this.waitInFlight(control);
    this.busy = true;
    this.inFlight = this.storeAndCommit(c)
      .catch((err: unknown) => this.fail(err as Error))
      .finally(() => {
        this.busy = false;
        // Cut the batch that filled meanwhile now rather than at the next tick.
        if (this.batch.shouldCut(false, this.offsets.caughtUp()) && !this.stopping) this.withLock(() => this.flushDue()).catch((err: unknown) => this.fail(err as Error));
      });
  }

  private async waitInFlight(control?: BatchControl): Promise<void> {
    return control ? this.keepAlive(this.inFlight, control) : this.inFlight;
  }

  /**
   * Re-publish (acknowledged), dead-letter topic, inserts (storeRows.ts); then, off the insert path, {@link release}:
   * alert sinks and one commit for every partition in the batch. The insert waits for the release of
   * the batch two before it, so at most one stored batch waits for its commit.
   */
  private async storeAndCommit(c: Cut): Promise<void> {
    const { batch: b } = c;
    await this.releasedBefore;
    const t0 = performance.now();
    const attempt = (what: string, fn: () => Promise<void>): Promise<void> => this.retry(what, c, fn);
    const stream = await this.streamKey();
    const token = batchToken(`kafka:${stream}`, c.ranges);
    // Fencing: a member that may have been evicted starts no insert (its partitions may already be
    // read by another member). Past this point the unit's intent row is written first, so a new owner
    // finds the unit and inserts it again with the same token whenever this insert lands.
    if (this.fenced || !this.memberFresh()) {
      this.fence(this.fenced ? 'fenced before the insert' : `no proof of group membership for ${Math.round(this.clock.now() - this.memberSeenAt)} ms`);
      return;
    }
    await attempt('unit intent', () => recordUnit(this.opts.store, stream, token, c.ranges, this.member, this.now()));
    // Re-publish first, acknowledged by the brokers, then store: once a batch's rows are stored its
    // offsets are skipped on a re-read, so a crash between the two must find them not yet stored (it
    // re-produces the batch: at least once on the keyed topic, never lost).
    const rp = this.opts.republish;
    if (b.republished.length > 0 && rp) {
      await attempt('re-publish topic', () => rp.producer.send(rp.topic, b.republished));
      this.stats.republished += b.republished.length;
    }
    const { rowCount, deadCount, rejectedCount } = await storeRows({ store: this.opts.store, deadLetterTopic: this.opts.deadLetterTopic, attempt, now: this.now }, b, token);
    this.opts.beforeConfirm?.(c.no);
    await attempt('unit confirmation', () => confirmUnit(this.opts.store, stream, token, c.ranges, this.now()));
    this.offsets.stored(c.ranges);
    this.recordStored(c, performance.now() - t0, rowCount, deadCount, rejectedCount);
    this.startup.firstStoredMs ??= performance.now();
    const stored: StoredCut = { no: c.no, ranges: c.ranges };
    this.releasedBefore = this.releasing;
    this.releasing = this.releasing.then(() => this.release(stored)).catch((err: unknown) => this.fail(err as Error));
  }

  /** After a batch is stored: its alerts, the sinks' flush, then its commit (in batch order: one chain). */
  private async release(c: StoredCut): Promise<void> {
    // An alert goes out only once the requests that raised it are stored: a crash before that re-raises
    // it after the restart (once); a crash after it finds it in the alerts table (restore does not repeat it).
    for (const a of this.alerts.release(c.no)) this.emit(a);
    // The alerts table write (the sinks read it) retries while the store is out; the versions stay
    // buffered, and a retried flush writes nothing twice.
    const afterStore = this.opts.afterStore;
    if (afterStore) await this.retry('alerts table', c, afterStore);
    this.opts.beforeCommit?.(c.no);
    const offsets = commitOffsets(this.opts.topic, c.ranges);
    try {
      await this.opts.consumer.commit(offsets);
      this.memberSeenAt = this.clock.now();
    } catch (err) {
      // Stored but not committed (e.g. a rebalance): the next owner skips it by reading ClickHouse.
      this.log.warn({ err, offsets }, 'commit failed after store; the stored offsets protect against duplicates');
    }
  }

  /** Metrics and stats of a stored batch; the end of an outage. */
  private recordStored(c: Cut, ms: number, rowCount: number, deadCount: number, rejectedCount: number): void {
    const m = this.opts.metrics;
    const secs = ms / 1000;
    if (this.outage) {
      m.backpressureSeconds.inc(secs);
      this.log.info({ batch: c.no }, 'store available again');
    }
    this.outage = null;
    m.insertSeconds.observe(secs);
    m.batchRows.observe(rowCount);
    m.batchBytes.observe(c.batch.rows.length);
    m.rows.inc({ topic: this.opts.topic }, rowCount);
    for (const [reason, n] of c.batch.deadReasons) m.deadLetters.inc({ topic: this.opts.topic, reason }, n);
    if (rejectedCount > 0) m.deadLetters.inc({ topic: this.opts.topic, reason: 'store_rejected' }, rejectedCount);
    this.stats.rows += rowCount;
    this.stats.deadLetters += deadCount;
    this.stats.batches++;
    const ds = this.detector.stats();
    m.detectorClients.set(ds.clients);
    m.detectorClientImages.set(ds.clientImages);
  }

  /** The last proof of membership is younger than half the session timeout (always, without one). */
  private memberFresh(): boolean {
    const session = this.opts.sessionTimeoutMs;
    return session === undefined || this.clock.now() - this.memberSeenAt < session / 2;
  }

  private get member(): string {
    return this.opts.memberName ?? `pid ${process.pid}`;
  }

  /** Retries `fn` with capped exponential backoff and jitter ({@link KAFKA_STORE_RETRY}) while the error is an outage; others end the run. */
  private async retry(what: string, c: StoredCut, fn: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isRetryableStoreError(err)) throw err;
        this.outage = `${what}: ${(err as Error).message.split('\n')[0] ?? ''}`;
        this.opts.metrics.insertErrors.inc();
        this.log.warn({ err, attempt, batch: c.no, partitions: [...c.ranges.keys()] }, `${what} failed; retrying`);
        if (attempt >= this.retryPolicy.maxAttempts) throw err;
        await this.clock.sleep(backoffDelay(attempt, this.retryPolicy, this.random));
      }
    }
  }
}

import { DeadLetterTally } from '../../core/validate/deadLetterReason.ts';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Alert } from '../../core/alert.ts';
import type { DetectorConfig } from '../../core/detect/detectorConfig.ts';
import { createParser, type ParserSpec } from '../../core/logformat/createParser.ts';
import { formatFit, isMisfit } from '../../core/logformat/formatFit.ts';
import type { RecogniseOptions } from '../../core/protocols/options.ts';
import type { ImageGeometry, Protocol } from '../../core/types.ts';
import type { InputLimits } from '../../core/validate/inputLimits.ts';
import { StreamingDetector } from '../../detector/streamingDetector.ts';
import type { Readiness } from '../../observability/opsEndpoints.ts';
import { BatchWriter, batchToken } from '../../store/batchWriter.ts';
import type { Store } from '../../store/openStore.ts';
import { NO_TIME_LIMIT, readRows } from '../../store/sql.ts';
import { TsvBuffer } from '../../store/tsvBuffer.ts';
import type { Catalog } from '../catalog.ts';
import { AlertGate } from '../kafka/alertGate.ts';
import { restoreDetector } from '../kafka/restoreDetector.ts';
import { storedAlertVersions } from '../kafka/storedState.ts';
import { createNormalizer, type Normalizer } from '../normalizer.ts';
import { processLine, type LineStep } from '../processLine.ts';
import { misfitError } from '../replay.ts';
import { FileSet, type FollowNotice } from './fileSet.ts';
import { followSourceId, readFollowState, writeIntent, type FollowIntent } from './followLedger.ts';
import { sha256, type TailedFile, type TailLine } from './tailedFile.ts';

export interface FollowIngestOptions {
  /** Paths and globs to follow. */
  readonly patterns: readonly string[];
  readonly store: Store;
  readonly parser: ParserSpec;
  readonly recognise: RecogniseOptions;
  readonly detector: DetectorConfig;
  readonly catalog: Catalog;
  readonly isAllowed: (ip: string, userAgent: string) => boolean;
  readonly limits?: InputLimits;
  /** Store what was read once the oldest unstored line is this old (wall ms). Default 1,000. */
  readonly maxBatchMs?: number;
  /** … or once this many lines wait. Default 50,000. */
  readonly maxBatchLines?: number;
  /** How often the files are looked at (ms). Default 200. */
  readonly pollMs?: number;
  /** How often globs are expanded again and paths looked up (ms). Default 1,000. */
  readonly scanMs?: number;
  /** A log seen for the first time at start begins at its end. */
  readonly fromEnd?: boolean;
  /** A rotated file is closed once read to its end and quiet this long (ms). Default 5,000. */
  readonly retireAfterMs?: number;
  /** An alert version, once the rows it was raised from are stored. */
  readonly onAlert: (alert: Alert) => void;
  /** After each stored flush (the alert outputs flush here). */
  readonly afterStore?: () => Promise<void>;
  /** Hunts in event time: windows due once everything up to them (plus lateness) is stored, run off the read loop. */
  readonly hunts?: {
    readonly schedule: { observe(ts: number): void; due(storedUpTo: number): number[] };
    readonly run: (windowEnd: number) => Promise<unknown>;
    /** The newest window end already hunted (hunt_runs): stored rows after it (less a day) are observed again at start, so windows pending at the last stop still run. */
    readonly resumedAfter?: number;
  };
  /** Registers the follower's metrics here. */
  readonly registry?: Registry;
  readonly logger: Logger;
  /** Dev/test hook: called after each batch's intent is written ('intent', n) and after its rows are inserted ('rows', n), n counting batches from 1. */
  readonly debugHook?: (phase: 'intent' | 'rows', batchNo: number) => void;
  /** Wall clock (batch age, audit columns). Default Date.now. */
  readonly now?: () => number;
}

interface Pending {
  readonly key: string;
  readonly file: TailedFile;
  readonly start: number;
  readonly firstLine: number;
  end: number;
  nextLine: number;
  lastLineHash: string;
  readonly rows: TsvBuffer;
  readonly dead: TsvBuffer;
  /** The batch's dead letters by category (the metric's `reason`). */
  readonly deadReasons: DeadLetterTally;
  readonly step: LineStep;
  lines: number;
  readonly since: number;
  /** A stored intent written again (same range, same token); its lines were fed to the detector only if their rows were not stored. */
  readonly token?: string;
}

/**
 * `tilewatch follow`: live log files → the store and the streaming detector, exactly once across
 * restarts. Files are read by byte offset (fileSet.ts); each flush stores, per log, the complete
 * lines read since the last one as one batch whose insert token derives from the log's key and byte
 * range, after recording that batch in follow_batches (followLedger.ts). A restart resumes each log
 * after its newest batch and inserts that batch again when ingest_batches does not show it stored
 * (the engine drops it if its blocks arrived). Alerts wait for their rows (AlertGate). One loop reads,
 * processes and stores; hunts run beside it.
 */
export class FollowIngest {
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly detector: StreamingDetector;
  private readonly gate = new AlertGate();
  private readonly writer: BatchWriter;
  private normalizer: Normalizer | null = null;
  private files: FileSet | null = null;
  private readonly pending = new Map<string, Pending>();
  private redo = new Map<string, FollowIntent>();
  private batchSeq = 0;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private huntChain: Promise<void> = Promise.resolve();
  private storedUpTo = Number.NEGATIVE_INFINITY;
  private readUpTo = Number.NEGATIVE_INFINITY;
  private storeFailing: string | null = null;
  private started = false;
  crash: Error | null = null;
  readonly stats = { lines: 0, stored: 0, deadLetters: 0, blankLines: 0, batches: 0, restoredRows: 0, alerts: 0 };
  private readonly metrics: {
    files: Gauge;
    unread: Gauge;
    lines: Counter;
    rows: Counter;
    dead: Counter<'reason'>;
    batches: Counter;
  } | null;

  constructor(private readonly opts: FollowIngestOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'follow' });
    const geometryOf = (protocol: Protocol, imageId: string): ImageGeometry | undefined => this.normalizer?.geometryOf(protocol, imageId);
    this.detector = new StreamingDetector({
      config: opts.detector,
      geometryOf,
      ...(opts.catalog.size > 0 ? { openDataOf: (protocol: Protocol, imageId: string) => opts.catalog.get(protocol, imageId)?.openDataLongEdge } : {}),
      isAllowed: opts.isAllowed,
      onAlert: (a) => this.gate.hold(a),
    });
    // The file is the buffer: an insert that fails is retried until it succeeds (reading waits meanwhile).
    const hook = opts.debugHook;
    this.writer = new BatchWriter({
      store: hook
        ? {
            insertRaw: async (a) => {
              await opts.store.insertRaw(a);
              if (a.table === 'tile_requests') hook('rows', this.stats.batches + 1);
            },
          }
        : opts.store,
      maxInFlight: 1,
      maxAttempts: Number.POSITIVE_INFINITY,
      now: this.now,
      onRetry: (err, attempt) => {
        this.storeFailing = (err as Error).message;
        this.log.warn({ err, attempt }, 'insert failed; retrying');
      },
    });
    const r = opts.registry ? [opts.registry] : null;
    this.metrics = r
      ? {
          files: new Gauge({ name: 'tilewatch_follow_files', help: 'files open by tilewatch follow (followed paths and rotated files still being read)', registers: r }),
          unread: new Gauge({ name: 'tilewatch_follow_unread_bytes', help: 'bytes of the followed files not read yet', registers: r }),
          lines: new Counter({ name: 'tilewatch_follow_lines_total', help: 'complete lines read from followed files', registers: r }),
          rows: new Counter({ name: 'tilewatch_follow_rows_total', help: 'requests stored in tile_requests by follow', registers: r }),
          dead: new Counter({ name: 'tilewatch_follow_dead_letters_total', help: 'lines of followed files stored as dead letters, by reason category', labelNames: ['reason'], registers: r }),
          batches: new Counter({ name: 'tilewatch_follow_batches_total', help: 'batches stored by follow (one per log per flush)', registers: r }),
        }
      : null;
  }

  /** Reads where every log stands, opens the files, then runs the read loop until {@link stop}. */
  async start(): Promise<void> {
    const { positions, unstored } = await readFollowState(this.opts.store);
    this.redo = new Map(unstored.map((i) => [i.key, i]));
    this.files = new FileSet({
      patterns: this.opts.patterns,
      positions,
      ...(this.opts.fromEnd ? { fromEnd: true } : {}),
      ...(this.opts.retireAfterMs !== undefined ? { retireAfterMs: this.opts.retireAfterMs } : {}),
      now: this.now,
      notice: (n) => this.notice(n),
    });
    await this.files.scan();
    this.log.info({ patterns: this.opts.patterns, files: this.files.files.map((f) => ({ path: f.path, key: f.key, offset: f.offset })), positions: positions.size, unstored: unstored.length }, 'follow starting');
    this.started = true;
    this.loop = this.run().catch((err: unknown) => {
      this.crash = err as Error;
      this.log.error({ err }, 'follow stopped on an error');
    });
  }

  /** Stops reading, stores what was read (complete lines), releases its alerts and waits for the hunts. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    if (!this.crash) await this.flush();
    await this.huntChain;
    await this.files?.close();
  }

  health(): Readiness {
    if (this.crash) return { ready: false, reason: `stopped: ${this.crash.message}` };
    if (!this.started) return { ready: false, reason: 'starting' };
    if (this.storeFailing) return { ready: false, reason: `store failing, retrying: ${this.storeFailing}` };
    return { ready: true, reason: '' };
  }

  /** Images with geometry (catalogue and learned extents), for the images table at the end. */
  images(): Array<{ protocol: Protocol; imageId: string; geometry: ImageGeometry; openDataLongEdge: number }> {
    const out: Array<{ protocol: Protocol; imageId: string; geometry: ImageGeometry; openDataLongEdge: number }> = [];
    for (const e of this.opts.catalog.entries()) out.push({ protocol: e.protocol, imageId: e.id, geometry: e.geometry, openDataLongEdge: e.openDataLongEdge });
    for (const im of this.normalizer?.learnedImages() ?? []) out.push({ ...im, openDataLongEdge: 0 });
    return out;
  }

  /** Files open now, with what is read of them. */
  status(): Array<{ path: string; key: string | null; offset: number; size: number; retiring: boolean }> {
    return (this.files?.files ?? []).map((f) => ({ path: f.path, key: f.key, offset: f.offset, size: f.size, retiring: f.retiring }));
  }

  private notice(n: FollowNotice): void {
    this.log[n.level]({ path: n.path, ...n.detail }, n.msg);
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 200;
    const scanMs = this.opts.scanMs ?? 1000;
    const maxBatchMs = this.opts.maxBatchMs ?? 1000;
    const maxLines = this.opts.maxBatchLines ?? 50_000;
    let lastScan = this.now();
    while (!this.stopping) {
      const files = this.files!;
      if (this.now() - lastScan >= scanMs) {
        lastScan = this.now();
        await files.scan();
      }
      const got = await files.poll();
      for (const g of got) await this.take(g.file, g.lines);
      let waiting = 0;
      let oldest = Number.POSITIVE_INFINITY;
      for (const p of this.pending.values()) {
        waiting += p.lines;
        oldest = Math.min(oldest, p.since);
      }
      if (waiting > 0 && (waiting >= maxLines || this.now() - oldest >= maxBatchMs)) await this.flush();
      this.updateGauges();
      // A file with more to read is read again at once (a backlog is read at full speed).
      if (got.length > 0 && got.some((g) => g.file.size > g.file.offset)) continue;
      const due = waiting > 0 ? Math.min(pollMs, Math.max(0, oldest + maxBatchMs - this.now())) : pollMs;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, due);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private ensureNormalizer(sample: readonly string[], path: string, firstLine: number): Normalizer {
    if (this.normalizer === null) {
      const parser = createParser(this.opts.parser, sample);
      const fit = formatFit(parser.parse, sample);
      if (isMisfit(fit)) throw misfitError(path, firstLine, fit, parser.name === 'custom' ? String(this.opts.parser.format) : parser.name);
      for (const w of parser.warnings) this.log.warn({ format: parser.name }, w);
      this.log.info({ format: parser.name }, 'log format');
      this.normalizer = createNormalizer({ parse: parser.parse, recognise: this.opts.recognise, catalog: this.opts.catalog, ...(this.opts.limits ? { limits: this.opts.limits } : {}), now: this.now });
    }
    return this.normalizer;
  }

  /** The first lines: the format is chosen from them, then the detector is rebuilt from what is stored (restart in the middle of a scrape). */
  private async prepare(lines: readonly TailLine[], path: string): Promise<Normalizer> {
    if (this.normalizer) return this.normalizer;
    const normalizer = this.ensureNormalizer(
      lines.slice(0, 2000).map((l) => l.text).filter((t) => t.trim().length > 0),
      path,
      lines[0]?.lineNo ?? 1,
    );
    const sources = await readRows<{ path: string }>(this.opts.store.client, 'SELECT DISTINCT path FROM follow_batches', {}, NO_TIME_LIMIT);
    if (sources.length > 0) {
      this.gate.beginRestore();
      try {
        this.stats.restoredRows = await restoreDetector({ store: this.opts.store, source: sources.map((s) => s.path), partitions: [-1], windowMs: this.opts.detector.idleMs, detector: this.detector, normalizer });
      } finally {
        const raised = this.gate.endRestore();
        if (raised.length > 0) {
          const stored = await storedAlertVersions(this.opts.store, [...new Set(raised.map((a) => a.id))]);
          for (const a of raised) if (a.version > (stored.get(a.id) ?? 0)) this.emit(a);
        }
      }
      this.log.info({ restoredRows: this.stats.restoredRows }, 'detector state restored from the store');
      await this.observeStored(sources.map((x) => x.path));
    }
    return normalizer;
  }

  /**
   * The windows pending when the last process stopped are not recorded: the stored rows after the
   * last hunted window (less a day, the longest step a hunt looks back over for activity) are
   * observed again, one per minute of event time, so the schedule holds them again.
   */
  private async observeStored(sources: readonly string[]): Promise<void> {
    const hunts = this.opts.hunts;
    if (!hunts) return;
    const after = Number.isFinite(hunts.resumedAfter) ? hunts.resumedAfter! - 86_400_000 : 0;
    const rows = await readRows<{ b: string }>(
      this.opts.store.client,
      `SELECT toString(intDiv(toUnixTimestamp64Milli(ts), 60000) * 60000) AS b FROM tile_requests
       WHERE source IN {sources:Array(String)} AND partition = -1 AND ts > fromUnixTimestamp64Milli({after:Int64}, 'UTC')
       GROUP BY b ORDER BY b`,
      { sources: [...sources], after: Math.max(0, after) },
      NO_TIME_LIMIT,
    );
    for (const r of rows) {
      const ts = Number(r.b);
      hunts.schedule.observe(ts);
      if (ts > this.storedUpTo) this.storedUpTo = ts;
      if (ts > this.readUpTo) this.readUpTo = ts;
    }
  }

  /** Lines just read from one file: each becomes its row or dead letter in the log's pending batch, and its detector event. */
  private async take(file: TailedFile, lines: readonly TailLine[]): Promise<void> {
    const normalizer = await this.prepare(lines, file.path);
    const key = file.key!;
    const redo = this.redo.get(key);
    if (redo) {
      this.redo.delete(key);
      await this.storeAgain(file, redo, normalizer);
    }
    let p = this.pending.get(key);
    for (const line of lines) {
      if (p && p.end !== line.start) {
        // Not contiguous (cannot happen while one reader consumes a log in order): store what is held first.
        this.log.warn({ path: file.path, key, end: p.end, start: line.start }, 'non-contiguous read; storing the batch held');
        await this.flush();
        p = undefined;
      }
      p ??= this.openBatch(key, file, line, normalizer);
      this.takeLine(p, file, line, true);
      if (p.lines >= (this.opts.maxBatchLines ?? 50_000)) {
        // A backlog is stored in batches of maxBatchLines (memory stays bounded while a large file is read).
        p.lastLineHash = sha256(line.raw);
        await this.flush();
        p = undefined;
      }
    }
    if (p) p.lastLineHash = sha256(file.lastLine);
    this.metrics?.lines.inc(lines.length);
  }

  private openBatch(key: string, file: TailedFile, first: TailLine, normalizer: Normalizer, token?: string): Pending {
    const rows = new TsvBuffer();
    const dead = new TsvBuffer(1 << 14);
    const deadReasons = new DeadLetterTally();
    const p: Pending = {
      key,
      file,
      start: first.start,
      firstLine: first.lineNo,
      end: first.start,
      nextLine: first.lineNo,
      lastLineHash: '',
      rows,
      dead,
      deadReasons,
      step: { normalizer, clientKey: this.opts.detector.clientKey, rows, dead, now: this.now, deadReasons },
      lines: 0,
      since: this.now(),
      ...(token ? { token } : {}),
    };
    if (!token) this.pending.set(key, p);
    return p;
  }

  private takeLine(p: Pending, file: TailedFile, line: TailLine, feed: boolean): void {
    p.end = line.end;
    p.nextLine = line.lineNo + 1;
    p.lines++;
    this.stats.lines++;
    if (line.text.trim().length === 0) {
      this.stats.blankLines++;
      return;
    }
    const r = processLine(p.step, line.text, { source: file.path, line: line.lineNo, partition: -1 }, true, true);
    if (!r.ok) return;
    const ts = r.record.ts;
    if (ts > this.readUpTo) this.readUpTo = ts;
    this.opts.hunts?.schedule.observe(ts);
    if (feed) this.detector.push(r.event);
  }

  /**
   * A batch recorded before a crash whose store is not confirmed: its range is read again and
   * inserted with its token (dropped by the engine if it arrived). Its lines feed the detector only
   * when none of its rows are stored (else the restore fed them already).
   */
  private async storeAgain(file: TailedFile, intent: FollowIntent, normalizer: Normalizer): Promise<void> {
    const lines = await file.readRange(intent.start, intent.end, intent.firstLine);
    if (lines.length === 0) {
      this.log.warn({ path: file.path, key: intent.key, start: intent.start, end: intent.end }, 'an unconfirmed batch could not be read again (the file changed); its lines are stored only if they were before the stop');
      return;
    }
    const rows = await readRows<{ n: string }>(
      this.opts.store.client,
      'SELECT toString(count()) AS n FROM tile_requests WHERE source = {source:String} AND partition = -1 AND line BETWEEN {a:UInt64} AND {b:UInt64}',
      { source: file.path, a: intent.firstLine, b: intent.nextLine - 1 },
      NO_TIME_LIMIT,
    );
    const landed = Number(rows[0]?.n ?? 0) > 0;
    const p = this.openBatch(intent.key, file, lines[0]!, normalizer, intent.token);
    for (const l of lines) this.takeLine(p, file, l, !landed);
    p.lastLineHash = intent.lastLineHash;
    this.log.info({ path: file.path, key: intent.key, start: intent.start, end: intent.end, rowsLanded: landed }, 'storing an unconfirmed batch again (same token)');
    // Its alerts go out with the next flush's (other logs' lines read meanwhile may have raised some).
    await this.storeBatch(p);
  }

  /** Stores every pending batch (one per log), then releases their alerts and schedules due hunts. */
  private async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batches = [...this.pending.values()];
    this.pending.clear();
    for (const p of batches) await this.storeBatch(p);
    this.release();
    await this.opts.afterStore?.();
    const hunts = this.opts.hunts;
    if (hunts && this.storedUpTo > Number.NEGATIVE_INFINITY) {
      const ends = hunts.schedule.due(this.storedUpTo);
      if (ends.length > 0) {
        this.huntChain = this.huntChain.then(async () => {
          for (const end of ends) {
            try {
              await hunts.run(end);
            } catch (err) {
              this.log.error({ err, windowEnd: new Date(end).toISOString() }, 'hunt window failed');
            }
          }
        });
      }
    }
  }

  private async storeBatch(p: Pending): Promise<void> {
    const sourceId = followSourceId(p.key);
    const token = p.token ?? batchToken({ sourceId, partition: -1, firstLine: p.start, lastLine: p.end });
    const f = p.file;
    await writeIntent(
      this.opts.store,
      { key: p.key, path: f.path, dev: f.dev, ino: f.ino, head: f.head ?? '', start: p.start, end: p.end, firstLine: p.firstLine, nextLine: p.nextLine, lastLineHash: p.lastLineHash, token },
      this.now(),
    );
    this.opts.debugHook?.('intent', this.stats.batches + 1);
    const before = { ...this.writer.stats };
    const rowCount = p.rows.rows;
    const deadCount = p.dead.rows;
    await this.writer.write({ sourceId, file: f.path, partition: -1, firstLine: p.start, lastLine: p.end, rows: p.rows.take(), rowCount, deadLetters: p.dead.take(), deadLetterCount: deadCount });
    await this.writer.drain();
    this.storeFailing = null;
    const stored = this.writer.stats.rows - before.rows;
    const dead = this.writer.stats.deadLetters - before.deadLetters;
    this.stats.stored += stored;
    this.stats.deadLetters += dead;
    this.stats.batches++;
    this.metrics?.rows.inc(stored);
    // By category, as replay and Kafka ingest count them; rows the engine refused are store_rejected.
    p.deadReasons.addCategory('store_rejected', this.writer.stats.rejected - before.rejected);
    for (const [reason, n] of p.deadReasons.take()) this.metrics?.dead.inc({ reason }, n);
    this.metrics?.batches.inc();
    this.storedUpTo = Math.max(this.storedUpTo, this.readUpTo);
  }

  /** Every batch cut so far is stored: the alerts raised from their lines go out. */
  private release(): void {
    this.gate.seal(++this.batchSeq);
    for (const a of this.gate.release(this.batchSeq)) this.emit(a);
  }

  private emit(a: Alert): void {
    this.stats.alerts++;
    this.opts.onAlert(a);
  }

  private updateGauges(): void {
    if (!this.metrics || !this.files) return;
    this.metrics.files.set(this.files.files.length);
    this.metrics.unread.set(this.files.files.reduce((n, f) => n + Math.max(0, f.size - f.offset), 0));
  }
}

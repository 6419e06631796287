import type { Alert } from '../core/alert.ts';
import type { DetectorConfig } from '../core/detect/detectorConfig.ts';
import { createParser, type NamedParser, type ParserSpec } from '../core/logformat/createParser.ts';
import type { RecogniseOptions } from '../core/protocols/options.ts';
import type { ImageGeometry, Protocol } from '../core/types.ts';
import { StreamingDetector, type DetectorStats } from '../detector/streamingDetector.ts';
import { BatchWriter, storedRanges } from '../store/batchWriter.ts';
import type { Store } from '../store/openStore.ts';
import { TsvBuffer } from '../store/tsvBuffer.ts';
import type { HuntSchedule } from '../hunts/huntRunner.ts';
import type { InputLimits } from '../core/validate/inputLimits.ts';
import { DeadLetterTally, type DeadLetterCategory } from '../core/validate/deadLetterReason.ts';
import type { Catalog } from './catalog.ts';
import { openLineSource, storedLinesOf, type LineSource, type ReadFailure } from './lineReader.ts';
import { formatFit, isMisfit, type FormatFit } from '../core/logformat/formatFit.ts';
import { LogFormatError } from '../core/logformat/logFormatError.ts';
import { createNormalizer, type Normalizer } from './normalizer.ts';
import { processLine, type LineStep } from './processLine.ts';

export interface ReplayOptions {
  /** Paths in the order to replay; '-' is stdin. */
  readonly inputs: readonly string[];
  readonly store: Store;
  readonly parser: ParserSpec;
  readonly recognise: RecogniseOptions;
  readonly detector: DetectorConfig;
  readonly catalog: Catalog;
  /** Ranges a stored request must fit (event-time window, status, size); lines outside are dead letters. Default DEFAULT_INPUT_LIMITS. */
  readonly limits?: InputLimits;
  /** Allow-listed clients are stored but never scored. */
  readonly isAllowed: (ip: string, userAgent: string) => boolean;
  /** Lines per batch; batches are cut at fixed line numbers so a replay produces the same tokens. Default 50,000. */
  readonly batchLines?: number;
  readonly onAlert: (alert: Alert) => void;
  /**
   * Hunts in event time: each due window end runs once everything up to it (plus lateness) is stored.
   * `lateRows`: events older than a window already run were observed before this one was due (taken
   * from the schedule when the windows fall due, so that lines read while they run do not count).
   */
  readonly hunts?: { readonly schedule: HuntSchedule; readonly run: (windowEnd: number, lateRows: boolean) => Promise<unknown> };
  readonly onProgress?: (p: ReplayProgress) => void;
  /** Called once, when the format is chosen (before any line is stored), with what a detected format loses. */
  readonly onFormat?: (format: { readonly name: string; readonly warnings: readonly string[] }) => void;
  /** Wall clock for progress and audit columns only (never for detection). */
  readonly now?: () => number;
}

export interface ReplayProgress {
  readonly input: string;
  readonly inputIndex: number;
  readonly inputs: number;
  readonly lines: number;
  readonly bytesRead: number;
  readonly sizeBytes: number;
}

export interface ReplaySummary {
  readonly inputs: number;
  readonly format: string;
  readonly linesRead: number;
  readonly stored: number;
  readonly alreadyStored: number;
  readonly deadLetters: number;
  /** deadLetters by reason category (services/core/validate/deadLetterReason.ts), rows the store refused as store_rejected. */
  readonly deadLettersByReason: Partial<Record<DeadLetterCategory, number>>;
  readonly blankLines: number;
  readonly batches: number;
  readonly retries: number;
  readonly insertMs: number;
  readonly detector: DetectorStats;
  readonly learnedImages: number;
  readonly eventTimeFrom: number;
  readonly eventTimeTo: number;
  /** Images with geometry: catalogue entries plus learned extents at the end of the run. */
  readonly images: ReadonlyArray<{ protocol: Protocol; imageId: string; geometry: ImageGeometry; openDataLongEdge: number }>;
  /** What the detected format loses (no user agent, no Referer, lines that do not parse); empty for a given --format. */
  readonly formatWarnings: readonly string[];
  /** Inputs whose reading stopped early (a truncated .gz): their complete lines before the break were replayed. */
  readonly unreadable: ReadonlyArray<{ readonly input: string } & ReadFailure>;
  /** Time the line path waited for hunts (they run beside it; this is what they added to the run), ms. */
  readonly huntWaitMs: number;
}

/**
 * Replays access logs into the store and through the streaming detector, in event time, as fast as
 * the machine allows, with bounded memory. Lines that do not parse go to dead_letters with their reason
 * and lineage; nothing aborts the run but a store outage that outlasts the retries.
 */
export async function replay(opts: ReplayOptions): Promise<ReplaySummary> {
  const now = opts.now ?? Date.now;
  const batchLines = opts.batchLines ?? 50_000;
  let normalizer: Normalizer | null = null;
  const geometryOf = (protocol: Protocol, imageId: string): ImageGeometry | undefined => normalizer?.geometryOf(protocol, imageId);
  const detector = new StreamingDetector({
    config: opts.detector,
    geometryOf,
    // Without a catalogue every image has the default open-data edge: no look-up per evaluation.
    ...(opts.catalog.size > 0 ? { openDataOf: (protocol: Protocol, imageId: string) => opts.catalog.get(protocol, imageId)?.openDataLongEdge } : {}),
    isAllowed: opts.isAllowed,
    onAlert: (a) => {
      if (heldAlerts !== null) heldAlerts.push(a);
      else opts.onAlert(a);
    },
  });
  const writer = new BatchWriter({ store: opts.store, now });

  let parser: NamedParser | null = null;
  let linesRead = 0;
  let alreadyStored = 0;
  let blankLines = 0;
  let deadLetters = 0;
  const deadReasons = new DeadLetterTally();
  const unreadable: Array<{ input: string } & ReadFailure> = [];
  let tFrom = Number.POSITIVE_INFINITY;
  let tTo = Number.NEGATIVE_INFINITY;
  // Hunts run beside the line path: the windows due at a batch boundary hunt the batches stored up to
  // it while the next batch is read, parsed and scored. The order of everything observable stays that
  // of running them in line: the next batch is inserted only after they finish (they never see its
  // rows), and streaming alerts raised meanwhile are held and released after the hunts' own alerts.
  let hunting: Promise<void> | null = null;
  let heldAlerts: Alert[] | null = null;
  let huntWaitMs = 0;
  const huntsDone = async (): Promise<void> => {
    if (hunting === null) return;
    const h = hunting;
    hunting = null;
    const t = performance.now();
    try {
      await h;
    } finally {
      huntWaitMs += performance.now() - t;
    }
  };
  const startHunts = async (windowEnds: number[]): Promise<void> => {
    if (!opts.hunts || windowEnds.length === 0) return;
    // One hunt task at a time: a batch boundary with nothing to insert (lines stored before) did not wait for the last.
    await huntsDone();
    const hunts = opts.hunts;
    const lateRows = hunts.schedule.takeLate();
    heldAlerts = [];
    hunting = (async () => {
      try {
        await writer.drain();
        for (let i = 0; i < windowEnds.length; i++) await hunts.run(windowEnds[i]!, i === 0 && lateRows);
      } finally {
        const held = heldAlerts ?? [];
        heldAlerts = null;
        for (const a of held) opts.onAlert(a);
      }
    })();
    // Awaited at the next batch boundary (which rethrows); this only keeps a failure from being reported as unhandled first.
    hunting.catch(() => undefined);
  };

  for (let inputIndex = 0; inputIndex < opts.inputs.length; inputIndex++) {
    const name = opts.inputs[inputIndex]!;
    const source: LineSource = await openLineSource(name);
    normalizer?.newSource();
    let ranges: Array<[number, number]> | null = null;
    let rangeIdx = 0;
    const rows = new TsvBuffer();
    const dead = new TsvBuffer(1 << 16);
    let batchFirst = 0;
    let batchLast = 0;
    let lastProgress = 0;

    const flush = async (): Promise<void> => {
      if (rows.rows === 0 && dead.rows === 0) return;
      const rowCount = rows.rows;
      const deadCount = dead.rows;
      const batchRows = rows.take();
      const batchDead = dead.take();
      await huntsDone();
      await writer.write({
        sourceId: source.identity(),
        file: name,
        partition: -1,
        firstLine: batchFirst,
        lastLine: batchLast,
        rows: batchRows,
        rowCount,
        deadLetters: batchDead,
        deadLetterCount: deadCount,
      });
      batchFirst = 0;
    };

    for await (const chunk of source.chunks()) {
      if (parser === null || normalizer === null) {
        // The format is detected once, by a vote over the first chunk of the first input (its first 2,000 lines or all of it).
        parser = createParser(opts.parser, chunk.lines);
        const fit = formatFit(parser.parse, chunk.lines);
        if (isMisfit(fit)) throw misfitError(name, chunk.firstLine, fit, parser.name === 'custom' ? String(opts.parser.format) : parser.name);
        opts.onFormat?.(parser);
        normalizer = createNormalizer({ parse: parser.parse, recognise: opts.recognise, catalog: opts.catalog, ...(opts.limits ? { limits: opts.limits } : {}), now });
      }
      const step: LineStep = { normalizer, clientKey: opts.detector.clientKey, rows, dead, now, deadReasons };
      for (let i = 0; i < chunk.lines.length; i++) {
        const lineNo = chunk.firstLine + i;
        const line = chunk.lines[i]!;
        linesRead++;
        if (ranges === null && source.identityReady()) {
          ranges = await storedLinesOf(source, (id) => storedRanges(opts.store.client, id));
        }
        // Lines an earlier replay stored are still fed to the detector (alerts are deterministic) but not re-inserted.
        let stored = false;
        if (ranges !== null) {
          while (rangeIdx < ranges.length && ranges[rangeIdx]![1] < lineNo) rangeIdx++;
          const r = ranges[rangeIdx];
          stored = r !== undefined && r[0] <= lineNo && lineNo <= r[1];
        }
        if (stored) alreadyStored++;
        const lineage = { source: name, line: lineNo, partition: -1 };
        if (line.length === 0 || line.trim().length === 0) {
          blankLines++;
        } else {
          const p = processLine(step, line, lineage, !stored, !stored);
          if (!stored) {
            if (!p.ok) deadLetters++;
            if (batchFirst === 0) batchFirst = lineNo;
            batchLast = lineNo;
          }
          if (p.ok) {
            const ts = p.record.ts;
            if (ts < tFrom) tFrom = ts;
            if (ts > tTo) tTo = ts;
            opts.hunts?.schedule.observe(ts);
            detector.push(p.event);
          }
        }
        if (lineNo % batchLines === 0) {
          if (ranges === null) ranges = await storedLinesOf(source, (id) => storedRanges(opts.store.client, id));
          await flush();
          if (opts.hunts) await startHunts(opts.hunts.schedule.due(tTo));
        }
      }
      const t = now();
      if (opts.onProgress && t - lastProgress >= 1000) {
        lastProgress = t;
        opts.onProgress({ input: name, inputIndex, inputs: opts.inputs.length, lines: linesRead, bytesRead: source.bytesRead(), sizeBytes: source.sizeBytes });
      }
    }
    await flush();
    const failure = source.readFailure();
    if (failure !== null) unreadable.push({ input: name, ...failure });
  }
  await huntsDone();
  await writer.drain();
  detector.flush();
  if (opts.hunts) {
    await startHunts(opts.hunts.schedule.final(tTo));
    await huntsDone();
  }

  deadReasons.addCategory('store_rejected', writer.stats.rejected);
  const images: Array<{ protocol: Protocol; imageId: string; geometry: ImageGeometry; openDataLongEdge: number }> = [];
  for (const e of opts.catalog.entries()) images.push({ protocol: e.protocol, imageId: e.id, geometry: e.geometry, openDataLongEdge: e.openDataLongEdge });
  for (const im of normalizer?.learnedImages() ?? []) images.push({ ...im, openDataLongEdge: 0 });
  return {
    inputs: opts.inputs.length,
    format: parser?.name ?? 'none',
    linesRead,
    stored: writer.stats.rows,
    alreadyStored,
    deadLetters: deadLetters + writer.stats.rejected,
    deadLettersByReason: deadReasons.snapshot(),
    blankLines,
    batches: writer.stats.batches,
    retries: writer.stats.retries,
    insertMs: writer.stats.insertMs,
    detector: detector.stats(),
    learnedImages: normalizer?.learnedCount ?? 0,
    eventTimeFrom: Number.isFinite(tFrom) ? tFrom : 0,
    eventTimeTo: Number.isFinite(tTo) ? tTo : 0,
    images,
    formatWarnings: parser?.warnings ?? [],
    unreadable,
    huntWaitMs,
  };
}

/**
 * The first lines mostly do not parse: the format is wrong, not the lines. Stopping (exit 2) with one
 * of them, the format tried and where it failed beats storing a run of dead letters.
 */
export function misfitError(input: string, firstLine: number, fit: FormatFit, format: string): LogFormatError {
  const f = fit.first!;
  const shown = f.line.length > 300 ? `${f.line.slice(0, 300)}…` : f.line;
  return new LogFormatError(
    `the log format does not fit ${input}: ${fit.failed} of its first ${fit.sampled} lines do not parse.\n` +
      `  format tried: ${format}\n  line ${firstLine + f.index}: ${shown}\n  failed at: ${f.reason}\n` +
      'Pass --format with your nginx log_format (the whole directive may be pasted) or Apache LogFormat, or a preset: combined, combined_xff, common, apache, json.',
  );
}

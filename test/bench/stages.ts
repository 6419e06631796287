/**
 * Bench child: where replay's time goes, in-process, one pass over the file per stage (each pass reads the
 * file with the same line reader replay uses, so "read + split" is the floor of every other row):
 *
 *   read + split → parse → parse+normalize → +detect → +row encoding → normalize+detect+encode (replay minus store)
 *
 * then (untimed, --only memory --stop-at LINE) the detector's heap per client×image, measured with gc() — run
 * node with --expose-gc.
 * With --rows-out the encoded batches (cut at the same line numbers as replay) are written for insertOnly.ts.
 * The orchestrator runs each stage in its own process (--only), so no stage inherits another's heap.
 *
 *   node --expose-gc --import tsx test/bench/stages.ts --file F [--batch-lines 50000] [--rows-out PREFIX] [--only a,b]
 */
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { createAllowlist, loadConfig } from '../../services/cli/config.ts';
import type { Alert } from '../../services/core/alert.ts';
import { createParser } from '../../services/core/logformat/createParser.ts';
import { StreamingDetector } from '../../services/detector/streamingDetector.ts';
import { emptyCatalog } from '../../services/ingest/catalog.ts';
import { openLineSource } from '../../services/ingest/lineReader.ts';
import { createNormalizer, detectorEvent, type Normalized } from '../../services/ingest/normalizer.ts';
import { processLine, type LineStep } from '../../services/ingest/processLine.ts';
import { writeTileRequestRow } from '../../services/store/tileRequestRows.ts';
import { TsvBuffer } from '../../services/store/tsvBuffer.ts';
import { argValue, emit, requireArg } from './shared.ts';

const args = process.argv.slice(2);
const file = resolve(requireArg(args, '--file'));
const batchLines = Number(argValue(args, '--batch-lines') ?? 50_000);
const rowsOut = argValue(args, '--rows-out');
/** Stages to run in this process (comma-separated): read, parse, normalize, detect, encode, full, memory. */
const only = argValue(args, '--only')?.split(',');

const config = loadConfig({}, {});
const catalog = emptyCatalog();
const isAllowed = createAllowlist(config.allowlist);
const clientKeyOf = config.detector.clientKey === 'ip' ? (ip: string) => ip : (ip: string, ua: string) => `${ip}|${ua}`;

let gcMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
gcObserver.observe({ entryTypes: ['gc'] });

interface StageResult {
  readonly name: string;
  readonly lines: number;
  readonly ms: number;
  readonly gcMs: number;
  readonly note?: string;
}

type LineFn = (line: string, lineNo: number) => void;

/** One timed pass: the file through openLineSource (as replay reads it) and `onLine` per non-blank line. */
async function pass(name: string, onLine: LineFn, note?: string): Promise<StageResult> {
  (globalThis as { gc?: () => void }).gc?.();
  const gc0 = gcMs;
  const t0 = performance.now();
  const source = await openLineSource(file);
  let lines = 0;
  for await (const chunk of source.chunks()) {
    for (let i = 0; i < chunk.lines.length; i++) {
      const line = chunk.lines[i]!;
      lines++;
      if (line.length === 0 || line.trim().length === 0) continue;
      onLine(line, chunk.firstLine + i);
    }
  }
  const ms = performance.now() - t0;
  const r: StageResult = { name, lines, ms, gcMs: gcMs - gc0, ...(note ? { note } : {}) };
  process.stderr.write(`  stage ${name}: ${lines} lines in ${(ms / 1000).toFixed(1)} s (${Math.round(lines / (ms / 1000))} lines/s)\n`);
  return r;
}

async function sampleLines(): Promise<string[]> {
  const source = await openLineSource(file);
  for await (const chunk of source.chunks()) return chunk.lines.slice(0, 200);
  return [];
}

const sample = await sampleLines();
const newParser = () => createParser(config.parser, sample);
const newNormalizer = () => createNormalizer({ parse: newParser().parse, recognise: config.recognise, catalog });
const newDetector = (norm: ReturnType<typeof newNormalizer>, alerts: Alert[]) =>
  new StreamingDetector({
    config: config.detector,
    geometryOf: (p, id) => norm.geometryOf(p, id),
    isAllowed,
    onAlert: (a) => alerts.push(a),
  });

/** Replay's detector.push: the event processLine builds, with its per-line lineage object. */
function pushTo(detector: StreamingDetector, n: Normalized & { ok: true }, lineNo: number): void {
  detector.push(detectorEvent(n, { source: file, line: lineNo, partition: -1 }));
}

const want = (s: string): boolean => !only || only.includes(s);
const stages: StageResult[] = [];
let sink = 0;

if (want('read')) stages.push(await pass('read + split', () => void sink++));

if (want('parse')) {
  const parse = newParser().parse;
  stages.push(await pass('parse', (line) => void (sink += parse(line).ok ? 1 : 0)));
}

if (want('normalize')) {
  const norm = newNormalizer();
  stages.push(await pass('parse + normalize', (line) => void (sink += norm.normalize(line).ok ? 1 : 0)));
}

let detectorRun: { clients: number; clientImages: number; alerts: number; peakClientImages: number; peakAtLine: number } | null = null;
if (want('detect')) {
  const norm = newNormalizer();
  const alerts: Alert[] = [];
  const detector = newDetector(norm, alerts);
  let peak = 0;
  let peakAt = 0;
  stages.push(
    await pass('parse + normalize + detect', (line, lineNo) => {
      const n = norm.normalize(line);
      if (!n.ok) return;
      pushTo(detector, n, lineNo);
      if (lineNo % 50_000 === 0) {
        const ci = detector.stats().clientImages;
        if (ci > peak) {
          peak = ci;
          peakAt = lineNo;
        }
      }
    }),
  );
  detector.flush();
  const s = detector.stats();
  detectorRun = { clients: s.clients, clientImages: s.clientImages, alerts: alerts.length, peakClientImages: peak, peakAtLine: peakAt };
}

if (want('encode')) {
  const norm = newNormalizer();
  const out = new TsvBuffer();
  const batches: Array<{ payload: Buffer; rows: number; firstLine: number; lastLine: number }> = [];
  let first = 0;
  let last = 0;
  const cut = (): void => {
    const rows = out.rows;
    const payload = out.take();
    if (rows > 0) batches.push({ payload, rows, firstLine: first, lastLine: last });
    first = 0;
  };
  const r = await pass(
    'parse + normalize + encode rows',
    (line, lineNo) => {
      const n = norm.normalize(line);
      if (n.ok) {
        const rec = n.record;
        writeTileRequestRow(out, rec, n.request, { source: file, line: lineNo, partition: -1 }, clientKeyOf(rec.ip, rec.userAgent));
        if (first === 0) first = lineNo;
        last = lineNo;
      }
      // Replay cuts batches at fixed line numbers (blank lines included); blank lines are rare enough to ignore here.
      if (lineNo % batchLines === 0) cut();
    },
    'rows encoded as TsvBuffer bytes',
  );
  cut();
  stages.push(r);
  if (rowsOut) {
    // Pre-encoded batches for the insert-only benchmark (written after the timing).
    const fd = openSync(`${rowsOut}.tsv.tmp`, 'w');
    const index: Array<{ offset: number; length: number; rows: number; firstLine: number; lastLine: number }> = [];
    let offset = 0;
    for (const b of batches) {
      writeSync(fd, b.payload);
      index.push({ offset, length: b.payload.length, rows: b.rows, firstLine: b.firstLine, lastLine: b.lastLine });
      offset += b.payload.length;
    }
    closeSync(fd);
    renameSync(`${rowsOut}.tsv.tmp`, `${rowsOut}.tsv`);
    writeFileSync(`${rowsOut}.json`, JSON.stringify({ file, batchLines, bytes: offset, batches: index }));
  }
  batches.length = 0;
}

if (want('full')) {
  // What replay does per line minus the store: processLine (normalise, row or dead letter into the batch
  // buffers, detector event) and detector.push, batches cut at the same line numbers and dropped.
  const norm = newNormalizer();
  const alerts: Alert[] = [];
  const detector = newDetector(norm, alerts);
  const step: LineStep = { normalizer: norm, clientKey: config.detector.clientKey, rows: new TsvBuffer(), dead: new TsvBuffer(1 << 16), now: Date.now };
  const kept: Buffer[] = [];
  stages.push(
    await pass(
      'normalize + detect + encode (replay minus store)',
      (line, lineNo) => {
        const p = processLine(step, line, { source: file, line: lineNo, partition: -1 }, true, true);
        if (p.ok) detector.push(p.event);
        if (lineNo % batchLines === 0) {
          kept.push(step.rows.take(), step.dead.take());
          if (kept.length > 4) kept.splice(0, 2); // as many batches alive as BatchWriter holds in flight
        }
      },
      'as replay (processLine + detector.push), batches dropped instead of inserted',
    ),
  );
  detector.flush();
}

/**
 * Detector memory (untimed): the pipeline runs up to `--stop-at` (the line where the timed detect stage saw the
 * most client×images held), then heapUsed after gc() with the detector held, minus heapUsed after gc() once it is
 * dropped: the detector's own heap at its peak, divided by the client×images and clients it holds.
 */
let memory: unknown = null;
const gc = (globalThis as { gc?: () => void }).gc;

async function feedUntil(box: { detector: StreamingDetector | null; norm: ReturnType<typeof newNormalizer> | null }, stopAt: number): Promise<number> {
  const norm = box.norm!;
  // --detach-lines: copy each line into its own flat string first, so nothing kept from it can pin the
  // reader's ~1 MiB chunk text (V8 substrings of a split() line are slices of the whole chunk).
  const detach = args.includes('--detach-lines');
  const source = await openLineSource(file);
  let lastLine = 0;
  outer: for await (const chunk of source.chunks()) {
    for (let i = 0; i < chunk.lines.length; i++) {
      const line = detach ? (' ' + chunk.lines[i]!).slice(1) : chunk.lines[i]!;
      lastLine = chunk.firstLine + i;
      if (line.trim().length > 0) {
        const n = norm.normalize(line);
        if (n.ok) pushTo(box.detector!, n, lastLine);
      }
      if (lastLine >= stopAt) break outer;
    }
  }
  return lastLine;
}
if (want('memory') && gc) {
  // gc() from inside the same synchronous run does not free what the just-finished async frames held:
  // yield to the event loop between collections.
  const heap = async (): Promise<number> => {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    return process.memoryUsage().heapUsed;
  };
  const stopAt = Number(argValue(args, '--stop-at') ?? 0) || Number.POSITIVE_INFINITY;
  let alerts = 0;
  // Held through a box so each can be dropped (and its heap measured) without a dangling local.
  const box: { detector: StreamingDetector | null; norm: ReturnType<typeof newNormalizer> | null } = { detector: null, norm: newNormalizer() };
  box.detector = new StreamingDetector({
    config: config.detector,
    geometryOf: (p, id) => box.norm!.geometryOf(p, id),
    isAllowed,
    onAlert: () => void alerts++,
  });
  const before = await heap();
  const t0 = performance.now();
  // The loop lives in its own function: a suspended async frame keeps its temporaries (the detector) alive.
  const lastLine = await feedUntil(box, stopAt);
  const s = box.detector!.stats();
  const learnedImages = box.norm!.learnedCount;
  const held = await heap();
  box.detector = null;
  const withoutDetector = await heap();
  box.norm = null;
  const withoutNormalizer = await heap();
  const detectorBytes = held - withoutDetector;
  memory = {
    detachLines: args.includes('--detach-lines'),
    ms: performance.now() - t0,
    atLine: lastLine,
    clients: s.clients,
    clientImages: s.clientImages,
    detectorBytes,
    normalizerBytes: withoutDetector - withoutNormalizer,
    heapBefore: before,
    heapWithDetector: held,
    bytesPerClientImage: s.clientImages > 0 ? detectorBytes / s.clientImages : 0,
    bytesPerClient: s.clients > 0 ? detectorBytes / s.clients : 0,
    learnedImages,
    alerts,
  };
  process.stderr.write(
    `  memory: at line ${lastLine}, ${s.clients} clients, ${s.clientImages} client×images, detector heap ${(detectorBytes / 1048576).toFixed(1)} MiB\n`,
  );
}

gcObserver.disconnect();
emit({ stages, detectorRun, memory, gcAvailable: gc !== undefined, sink, maxRssKb: process.resourceUsage().maxRSS });

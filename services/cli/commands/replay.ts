import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Alert } from '../../core/alert.ts';
import { createParser, type ParserSpec } from '../../core/logformat/createParser.ts';
import { emptyCatalog, loadCatalog } from '../../ingest/catalog.ts';
import { readableFileSize } from '../../ingest/lineReader.ts';
import { replay, type ReplayProgress, type ReplaySummary } from '../../ingest/replay.ts';
import { writeImages } from '../../store/images.ts';
import { batchRunMetrics } from '../../observability/metrics.ts';
import { HuntRunner, HuntSchedule, huntActivitySpanMs } from '../../hunts/huntRunner.ts';
import { createAllowlist } from '../config.ts';
import { EXIT } from '../exitCodes.ts';
import { openAlertOutputs } from './alertOutputs.ts';
import { openContext, syncAsnInto, type CommonFlags } from './context.ts';
import { loadNetworkContext } from '../../network/asnSources.ts';

export interface ReplayFlags extends CommonFlags {
  readonly alertsOut?: string;
  readonly quiet?: boolean;
  readonly batchLines?: number;
  /** Written at the end: the run's counters in the Prometheus text format (replay only). */
  readonly metricsOut?: string;
}

export interface ReplayRun {
  readonly summary: ReplaySummary;
  readonly alerts: readonly Alert[];
  readonly elapsedMs: number;
  readonly hunts: { readonly runs: number; readonly emitted: number; readonly totalMs: number; readonly stateRebuilds: number } | null;
}

/**
 * `tilewatch replay`: prints alerts as they are raised (unless --quiet) and a summary at the end.
 * An input that could not be read to its end (a truncated .gz) does not stop the run: its readable
 * lines and the other inputs are replayed, then the input is named on stderr and the exit code is
 * FAILURE.
 */
export async function runReplay(files: readonly string[], flags: ReplayFlags): Promise<number> {
  const run = await replayFiles(files, flags, { printAlerts: !flags.quiet });
  process.stdout.write(formatSummary(run));
  if (flags.metricsOut) await writeMetricsFile(flags.metricsOut, await batchRunMetrics(run.summary));
  for (const u of run.summary.unreadable) process.stderr.write(`tilewatch: ${describeUnreadable(u)}\n`);
  return run.summary.unreadable.length > 0 ? EXIT.FAILURE : EXIT.OK;
}

/** Written beside and renamed into place, so a collector never reads half a file. */
async function writeMetricsFile(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/**
 * Before the store is opened: every input file exists and is readable, and a format given by name or
 * pasted (`--format`, config `parser.format`) compiles — a log_format typo is a usage error (exit 2).
 */
async function preflightReplay(files: readonly string[], parser: ParserSpec): Promise<void> {
  for (const f of files) if (f !== '-') await readableFileSize(f);
  const format = (parser.format ?? 'auto').trim().toLowerCase();
  if (format !== '' && format !== 'auto') createParser(parser);
}

/** Shared by `replay` and `demo`. */
export async function replayFiles(files: readonly string[], flags: ReplayFlags, out: { printAlerts: boolean }): Promise<ReplayRun> {
  const readsStdin = files.includes('-');
  const { config, logger, store } = await openContext(flags, (c) => preflightReplay(files, c.parser), { syncAsn: !readsStdin });
  const log = logger.child({ component: 'replay' });
  const started = performance.now();
  let alertsOut: WriteStream | null = null;
  const alerts: Alert[] = [];
  try {
    const catalog = config.catalog ? await loadCatalog(config.catalog) : emptyCatalog();
    if (flags.alertsOut) {
      await mkdir(dirname(flags.alertsOut), { recursive: true });
      alertsOut = createWriteStream(flags.alertsOut, { flags: 'w' });
    }
    const network = await loadNetworkContext(config.network);
    const outputs = await openAlertOutputs({ config, store, logger, network, outbox: 'replay' });
    const progress = createProgress(!flags.quiet && process.stderr.isTTY === true, started);
    const emit = (version: Alert): void => {
      const a = outputs.emit(version);
      alerts.push(a);
      alertsOut?.write(`${JSON.stringify(a)}\n`);
      log.info({ alert: { id: a.id, kind: a.kind, severity: a.severity, score: a.score, version: a.version, status: a.status }, client: { ip: a.client.ip } }, 'alert');
      if (out.printAlerts) process.stdout.write(formatAlertLine(a));
    };
    const hunter = config.hunts
      ? new HuntRunner({
          store,
          config: config.hunts,
          exclusions: huntExclusions(config.allowlist),
          onAlert: emit,
          onRun: (r) => log.debug({ windowEnd: new Date(r.windowEnd).toISOString(), ms: r.timings }, 'hunt run'),
          // Replay is the store's only writer, in event time: campaigns and exposure from incremental states.
          incrementalHunts: true,
          onStateRebuilt: (err) => log.warn({ err }, 'hunt state rebuilt: a bucket changed after it was hunted'),
          // The same ASN table the alert outputs loaded (once per process), the one the store's copy is written from.
          hostingAsnOf: (ip: string) => network.hostingAsn(ip),
        })
      : null;
    // Hunts resume after the last window hunt_runs holds: windows hunted before are not run again.
    const schedule = hunter && config.hunts ? new HuntSchedule(config.hunts.everyMs, config.hunts.latenessMs, huntActivitySpanMs(config.hunts)) : null;
    const resumed = hunter ? await hunter.resumePoint() : Number.NEGATIVE_INFINITY;
    schedule?.resumeAfter(resumed);
    const summary = await replay({
      inputs: files,
      store,
      parser: config.parser,
      recognise: config.recognise,
      detector: config.detector,
      catalog,
      limits: config.limits,
      isAllowed: createAllowlist(config.allowlist),
      ...(flags.batchLines ? { batchLines: flags.batchLines } : {}),
      onProgress: progress,
      onFormat: (f) => {
        for (const w of f.warnings) process.stderr.write(`tilewatch: warning: ${w}\n`);
        log.info({ format: f.name, warnings: f.warnings }, 'log format');
      },
      onAlert: (a) => {
        hunter?.noteStreamingAlert(a);
        emit(a);
      },
      ...(hunter && schedule
        ? {
            hunts: {
              schedule,
              run: (end: number, lateRows: boolean) => {
                if (lateRows) hunter.noteLateRows();
                return hunter.runAt(end);
              },
            },
          }
        : {}),
    });
    progress?.({ done: true });
    if (schedule && Number.isFinite(resumed) && schedule.skipped > 0)
      process.stderr.write(
        `tilewatch: note: ${schedule.skipped} hunt windows with data end at or before ${new Date(schedule.completedUpTo).toISOString()}, which were hunted before; they were not run again (\`tilewatch hunt --from … --to …\` re-runs a period)\n`,
      );
    await outputs.close();
    await writeImages(store, summary.images);
    // Standard input is read to its end now (see syncAsnInto); hunts during this replay looked networks up in what the store held.
    if (readsStdin) await syncAsnInto(store, config, logger);
    return {
      summary,
      alerts,
      elapsedMs: performance.now() - started,
      hunts: hunter ? { runs: hunter.runs, emitted: hunter.emitted, totalMs: hunter.totalMs, stateRebuilds: hunter.stateRebuilds } : null,
    };
  } finally {
    if (alertsOut) await new Promise<void>((r) => alertsOut!.end(r));
    await store.close();
  }
}

/** Allow-lists as hunt exclusions: CIDRs, and the user-agent patterns as case-insensitive RE2. */
export function huntExclusions(allow: { readonly cidrs: readonly string[]; readonly userAgents: readonly string[] }): { cidrs: string[]; userAgentPatterns: string[] } {
  return { cidrs: [...allow.cidrs], userAgentPatterns: allow.userAgents.map((p) => `(?i)${p}`) };
}

export function formatAlertLine(a: Alert): string {
  if (a.status === 'resolved') return `[RESOLVED] ${a.kind} ${a.subject ?? a.client.ip} ${a.id} at ${a.resolvedAt ?? a.lastSeen}\n`;
  const who = a.kind === 'campaign' ? `${a.subject ?? ''} (${a.client.ips.length} clients)` : a.kind === 'image-exposure' ? `image ${a.subject ?? ''}` : a.client.ip;
  const head = `[${a.severity.toUpperCase()}] ${a.kind} ${who} score ${a.score} at ${a.detectedAt}${a.version > 1 ? ` (update ${a.version})` : ''}`;
  return `${head}\n${a.reasons.map((r) => `    - ${r.text}`).join('\n')}\n`;
}

export function formatSummary(run: ReplayRun): string {
  const s = run.summary;
  const secs = run.elapsedMs / 1000;
  const firsts = run.alerts.filter((a) => a.version === 1);
  const bySeverity = new Map<string, number>();
  for (const a of firsts) bySeverity.set(a.severity, (bySeverity.get(a.severity) ?? 0) + 1);
  const sev = [...bySeverity].map(([k, v]) => `${v} ${k}`).join(', ');
  const span = s.eventTimeFrom > 0 ? `${new Date(s.eventTimeFrom).toISOString()} … ${new Date(s.eventTimeTo).toISOString()}` : 'none';
  return [
    '',
    'tilewatch replay summary',
    `  inputs          ${s.inputs} (format ${s.format})`,
    ...s.formatWarnings.map((w) => `  format warning  ${w}`),
    ...s.unreadable.map((u) => `  unreadable      ${describeUnreadable(u)}`),
    `  event time      ${span}`,
    `  lines read      ${s.linesRead}`,
    `  stored          ${s.stored} new rows${s.alreadyStored > 0 ? `, ${s.alreadyStored} lines already stored by an earlier replay` : ''}`,
    `  dead letters    ${s.deadLetters}${s.blankLines > 0 ? ` (+${s.blankLines} blank lines skipped)` : ''}`,
    ...(s.deadLetters > 0 ? [`  dead by reason  ${Object.entries(s.deadLettersByReason).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
    `  alerts          ${firsts.length}${sev ? ` (${sev})` : ''}, ${run.alerts.length - firsts.length} updates`,
    ...(run.hunts ? [`  hunts           ${run.hunts.runs} event-time windows in ${(run.hunts.totalMs / 1000).toFixed(1)} s (the replay waited ${(run.summary.huntWaitMs / 1000).toFixed(1)} s for them), ${run.hunts.emitted} alert versions${run.hunts.stateRebuilds > 2 ? ` (hunt states rebuilt ${run.hunts.stateRebuilds}× for late rows)` : ''}`] : []),
    `  clients held    ${s.detector.clients} at end, ${s.detector.evicted} evicted idle; images learned ${s.learnedImages}`,
    `  elapsed         ${secs.toFixed(1)} s, ${Math.round(s.linesRead / Math.max(secs, 0.001))} lines/s (insert ${Math.round(s.insertMs)} ms over ${s.batches} batches${s.retries ? `, ${s.retries} retries` : ''})`,
    '',
  ].join('\n');
}

/** One input that could not be read to its end, as a sentence naming it. */
export function describeUnreadable(u: ReplaySummary['unreadable'][number]): string {
  if (u.lines === 0) return `${u.input}: ${u.reason}: nothing could be read from it`;
  return `${u.input}: ${u.reason} after line ${u.lines}: the ${u.lines} lines before it were replayed, the rest could not be read`;
}

function createProgress(enabled: boolean, started: number): ((p: ReplayProgress | { done: true }) => void) | undefined {
  if (!enabled) return undefined;
  return (p) => {
    if ('done' in p) {
      process.stderr.write('\r\x1b[K');
      return;
    }
    const secs = (performance.now() - started) / 1000;
    const rate = Math.round(p.lines / Math.max(secs, 0.001));
    let text = `${p.input} (${p.inputIndex + 1}/${p.inputs}): ${p.lines} lines, ${rate} lines/s`;
    if (p.sizeBytes > 0) {
      const frac = Math.min(1, p.bytesRead / p.sizeBytes);
      const eta = frac > 0 ? secs / frac - secs : 0;
      text += `, ${(frac * 100).toFixed(0)} %, ETA ${eta.toFixed(0)} s`;
    }
    process.stderr.write(`\r\x1b[K${text}`);
  };
}

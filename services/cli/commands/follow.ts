import { createWriteStream, type WriteStream } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isDynamicPattern } from 'tinyglobby';
import type { Alert } from '../../core/alert.ts';
import { createParser, type ParserSpec } from '../../core/logformat/createParser.ts';
import { LogFormatError } from '../../core/logformat/logFormatError.ts';
import { DEFAULT_API_CONFIG } from '../../api/apiConfig.ts';
import { startApiServer, type RunningServer } from '../../api/server.ts';
import { HuntRunner, HuntSchedule, huntActivitySpanMs } from '../../hunts/huntRunner.ts';
import { emptyCatalog, loadCatalog } from '../../ingest/catalog.ts';
import { FollowIngest } from '../../ingest/follow/followIngest.ts';
import { createMetrics } from '../../observability/metrics.ts';
import { buildOpsApp } from '../../observability/opsEndpoints.ts';
import { writeImages } from '../../store/images.ts';
import { createAllowlist } from '../config.ts';
import { EXIT, UsageError } from '../exitCodes.ts';
import { gracefulStop } from './gracefulStop.ts';
import { openAlertOutputs } from './alertOutputs.ts';
import { parseListen } from './api.ts';
import { openContext, type CommonFlags } from './context.ts';
import { formatAlertLine, huntExclusions } from './replay.ts';

export interface FollowFlags extends CommonFlags {
  /** `tilewatch serve PATH…`: also run the incident API on this host:port, on the same store. */
  readonly listen?: string;
  readonly rateLimit?: number;
  readonly maxBatchMs: number;
  readonly maxBatchRows: number;
  readonly pollMs?: number;
  readonly fromEnd?: boolean;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly alertsOut?: string;
  readonly quiet?: boolean;
  readonly shutdownTimeoutMs: number;
  /** Dev/test only: `intent:N` or `rows:N` — SIGKILL this process after the Nth batch's intent, or after its rows are inserted (before the ledger). */
  readonly debugKill?: string;
}

/**
 * Before the store is opened: every plain path is a readable regular file or does not exist yet
 * (followed once it appears); a glob is taken as it is; a named or pasted log format compiles.
 */
async function preflightFollow(patterns: readonly string[], parser: ParserSpec): Promise<void> {
  if (patterns.length === 0) throw new UsageError('follow needs at least one PATH (a file, or a quoted glob such as "/var/log/nginx/*.log")');
  for (const p of patterns) {
    if (p === '-') throw new UsageError('follow reads files, not stdin: use `tilewatch replay -` for a pipe');
    if (isDynamicPattern(p)) continue;
    const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw new UsageError(`cannot follow ${p}: ${err.message}`);
    });
    if (st === null) continue;
    if (!st.isFile()) throw new UsageError(`cannot follow ${p}: not a regular file${st.isDirectory() ? ' (a directory: quote a glob such as "' + resolve(p, '*.log') + '")' : ''}`);
    await access(p, constants.R_OK).catch((err: Error) => {
      throw new UsageError(`cannot follow ${p}: ${err.message}`);
    });
  }
  const format = (parser.format ?? 'auto').trim().toLowerCase();
  if (format !== '' && format !== 'auto') createParser(parser);
}

/**
 * `tilewatch follow PATH…` (and `tilewatch serve PATH…`, with the incident API on the same store):
 * follows live log files, stores at least once a second, detects and hunts live, resumes exactly
 * where it stopped. Runs until SIGTERM or SIGINT, then stores the complete lines it read and exits 0.
 */
export async function runFollow(patterns: readonly string[], flags: FollowFlags): Promise<number> {
  const { config, logger, store } = await openContext(flags, (c) => preflightFollow(patterns, c.parser));
  const log = logger.child({ component: 'follow' });
  const metrics = createMetrics();
  let alertsOut: WriteStream | null = null;
  let outputs: Awaited<ReturnType<typeof openAlertOutputs>> | null = null;
  let api: RunningServer | null = null;
  let app: ReturnType<typeof buildOpsApp> | null = null;
  let follower: FollowIngest | null = null;
  const closeAll = async (): Promise<void> => {
    await api?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await outputs?.close().catch(() => undefined);
    if (alertsOut) await new Promise<void>((r) => alertsOut!.end(r));
    alertsOut = null;
    await store.close();
  };
  try {
    const catalog = config.catalog ? await loadCatalog(config.catalog) : emptyCatalog();
    outputs = await openAlertOutputs({ config, store, logger, registry: metrics.registry, outbox: 'follow' });
    const out = outputs;
    alertsOut = flags.alertsOut ? createWriteStream(flags.alertsOut, { flags: 'a' }) : null;
    const emit = (version: Alert): void => {
      const a = out.emit(version);
      alertsOut?.write(`${JSON.stringify(a)}\n`);
      metrics.alerts.inc({ kind: a.kind, severity: a.severity });
      log.info({ alert: { id: a.id, kind: a.kind, severity: a.severity, score: a.score, version: a.version, status: a.status }, client: { ip: a.client.ip } }, 'alert');
      if (!flags.quiet) process.stdout.write(formatAlertLine(a));
    };
    // Hunts in event time over what is stored: this process is the store's only writer.
    const hunter = config.hunts
      ? new HuntRunner({
          store,
          config: config.hunts,
          exclusions: huntExclusions(config.allowlist),
          onAlert: emit,
          onRun: (r) => log.debug({ windowEnd: new Date(r.windowEnd).toISOString(), ms: r.timings }, 'hunt run'),
        })
      : null;
    const schedule = hunter && config.hunts ? new HuntSchedule(config.hunts.everyMs, config.hunts.latenessMs, huntActivitySpanMs(config.hunts)) : null;
    const resumedAfter = hunter ? await hunter.resumePoint() : Number.NEGATIVE_INFINITY;
    schedule?.resumeAfter(resumedAfter);
    const f = new FollowIngest({
      patterns,
      store,
      parser: config.parser,
      recognise: config.recognise,
      detector: config.detector,
      catalog,
      isAllowed: createAllowlist(config.allowlist),
      limits: config.limits,
      maxBatchMs: flags.maxBatchMs,
      maxBatchLines: flags.maxBatchRows,
      ...(flags.pollMs ? { pollMs: flags.pollMs } : {}),
      ...(flags.fromEnd ? { fromEnd: true } : {}),
      onAlert: (a) => {
        hunter?.noteStreamingAlert(a);
        emit(a);
      },
      afterStore: () => out.flush(),
      ...(hunter && schedule ? { hunts: { schedule, resumedAfter, run: (end: number) => hunter.runAt(end).then(() => out.flush()) } } : {}),
      registry: metrics.registry,
      logger,
      ...(flags.debugKill ? { debugHook: debugKiller(flags.debugKill) } : {}),
    });
    follower = f;
    app = buildOpsApp({ ready: () => f.health(), metrics: metrics.registry });
    await app.listen({ host: flags.httpHost, port: flags.httpPort });
    if (flags.listen) {
      const { host, port } = parseListen(flags.listen);
      const apiConfig = Object.freeze({ ...DEFAULT_API_CONFIG, ...(flags.rateLimit ? { rateLimitPerMinute: flags.rateLimit } : {}) });
      api = await startApiServer({ store, logger: logger.child({ component: 'api' }), clock: { now: () => Date.now() }, config: apiConfig, metrics: metrics.registry }, { host, port });
      log.info({ api: api.url }, 'incident API listening');
      process.stderr.write(`tilewatch serve: incident API on ${api.url}, following ${patterns.join(' ')}\n`);
    }
    await f.start();
  } catch (err) {
    await follower?.stop().catch(() => undefined);
    await closeAll();
    throw err;
  }
  const f = follower;

  const shutdown = gracefulStop(log, { timeoutMs: flags.shutdownTimeoutMs, what: 'storing the complete lines read', lostNote: 'what was not stored is read again at the next start' }, async () => {
    await f.stop();
    await writeImages(store, f.images());
    await closeAll();
    log.info({ stats: f.stats }, 'stopped');
    return f.crash ? EXIT.FAILURE : EXIT.OK;
  });
  return new Promise<number>((done) => {
    process.once('SIGTERM', () => void shutdown('SIGTERM').then(done));
    process.once('SIGINT', () => void shutdown('SIGINT').then(done));
    const watchdog = setInterval(() => {
      if (f.crash) {
        clearInterval(watchdog);
        process.stderr.write(`tilewatch: ${f.crash.message}\n`);
        void shutdown('crash').then(() => done(f.crash instanceof LogFormatError ? EXIT.USAGE : EXIT.FAILURE));
      }
    }, 250);
    watchdog.unref();
  });
}

function debugKiller(spec: string): (phase: 'intent' | 'rows', n: number) => void {
  const m = /^(intent|rows):(\d+)$/.exec(spec);
  if (!m) throw new UsageError(`--debug-kill expects intent:N or rows:N, got ${spec}`);
  return (phase, n) => {
    if (phase === m[1] && n >= Number(m[2])) process.kill(process.pid, 'SIGKILL');
  };
}

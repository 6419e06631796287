import { HuntRunner, HuntSchedule, completedWindowEnds, huntActivitySpanMs } from '../../hunts/huntRunner.ts';
import { readRows } from '../../store/sql.ts';
import { activeSteps } from '../../hunts/huntQueries.ts';
import type { Alert } from '../../core/alert.ts';
import { EXIT, UsageError } from '../exitCodes.ts';
import { openAlertOutputs } from './alertOutputs.ts';
import { openContext, type CommonFlags } from './context.ts';
import { formatAlertLine, huntExclusions } from './replay.ts';

export interface HuntFlags extends CommonFlags {
  /** With --to: backfill this period (re-running windows that ran before). Without both: resume. */
  readonly from?: string;
  readonly to?: string;
  readonly huntEvery?: number;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

function parseTime(text: string, flag: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} must be an ISO-8601 time (e.g. 2026-03-02T00:00:00Z), got ${text}`);
  return ms;
}

/**
 * `tilewatch hunt`: runs the hunts over stored history at the window ends of the event-time grid
 * that have stored data in their last step, continuing the open hunt alerts (deterministic ids:
 * re-running a period adds no duplicates), and writes the alert versions to the alerts table and the
 * sinks. Without --from/--to it resumes: only windows after the newest one `hunt_runs` holds, up to
 * the newest stored event. With --from/--to it backfills: every such window in (from, to], also the
 * ones that ran before (reported as re-run).
 */
export async function runHunt(flags: HuntFlags): Promise<number> {
  if ((flags.from === undefined) !== (flags.to === undefined)) throw new UsageError('--from and --to go together (a period to backfill); without both, hunt resumes after the last hunted window');
  const backfill = flags.from !== undefined && flags.to !== undefined ? { from: parseTime(flags.from, '--from'), to: parseTime(flags.to, '--to') } : null;
  if (backfill && backfill.to <= backfill.from) throw new UsageError('--to must be after --from');
  const { config, logger, store } = await openContext(flags);
  if (!config.hunts) throw new UsageError('hunts are disabled in the config (hunts: false)');
  const hunts = config.hunts;
  const log = logger.child({ component: 'hunt' });
  const emitted: Alert[] = [];
  try {
    const outputs = await openAlertOutputs({ config, store, logger, outbox: 'hunt' });
    const runner = new HuntRunner({
      store,
      config: hunts,
      exclusions: huntExclusions(config.allowlist),
      onAlert: (version) => {
        const a = outputs.emit(version);
        emitted.push(a);
        if (!flags.quiet && !flags.json) process.stdout.write(formatAlertLine(a));
      },
      onRun: (r) => log.debug({ windowEnd: new Date(r.windowEnd).toISOString(), ms: r.timings }, 'hunt run'),
    });
    // Only windows with stored data in their last step (a wide --from/--to costs nothing where nothing is stored).
    const span = huntActivitySpanMs(hunts);
    const schedule = new HuntSchedule(hunts.everyMs, 0, span);
    let from: number;
    let to: number;
    if (backfill) {
      ({ from, to } = backfill);
    } else {
      // Resume: after the last completed window, up to the newest stored event (nothing stored: nothing to do).
      const resumed = await runner.resumePoint();
      const [stored] = await readRows<{ lo: number; hi: number; n: number }>(store.client, 'SELECT toUnixTimestamp64Milli(min(ts)) AS lo, toUnixTimestamp64Milli(max(ts)) AS hi, count() AS n FROM tile_requests');
      const has = stored !== undefined && stored.n > 0;
      from = Number.isFinite(resumed) ? resumed : has ? stored.lo - 1 : 0;
      to = has ? Math.max(from, stored.hi) : from;
      schedule.resumeAfter(resumed);
    }
    if (to > from) for (const step of await activeSteps(store.client, hunts.everyMs, from - span, to + 1)) schedule.observe(step);
    const ends = to > from ? schedule.final(to).filter((t) => t > from && (!backfill || t <= to)) : [];
    const rerun = backfill && ends.length > 0 ? new Set(await completedWindowEnds(store, ends[0]! - 1, ends[ends.length - 1]!)) : new Set<number>();
    const started = performance.now();
    let done = 0;
    for (const end of ends) {
      await runner.runAt(end);
      done++;
      if (process.stderr.isTTY && !flags.quiet) process.stderr.write(`\r  hunted ${done}/${ends.length} windows (${new Date(end).toISOString()})`);
    }
    if (process.stderr.isTTY && !flags.quiet) process.stderr.write('\n');
    await outputs.close();
    const byKind: Record<string, number> = {};
    for (const a of emitted) {
      const key = `${a.kind} ${a.status === 'resolved' ? 'resolved' : a.version === 1 ? 'new' : 'updated'}`;
      byKind[key] = (byKind[key] ?? 0) + 1;
    }
    const iso = (t: number): string => new Date(t).toISOString();
    const summary = {
      mode: backfill ? 'backfill' : 'resume',
      windows: ends.length,
      rerun: ends.filter((e) => rerun.has(e)).length,
      from: iso(from),
      to: iso(to),
      firstWindowEnd: ends.length > 0 ? iso(ends[0]!) : null,
      lastWindowEnd: ends.length > 0 ? iso(ends[ends.length - 1]!) : null,
      windowEnds: ends.map(iso),
      alertVersions: emitted.length,
      byKind,
      elapsedMs: Math.round(performance.now() - started),
      open: runner.openAlerts().length,
    };
    const ran = ends.length === 0 ? (backfill ? 'no stored data in the period' : 'nothing new since the last hunted window') : `ends ${summary.firstWindowEnd} … ${summary.lastWindowEnd}${backfill ? `, ${summary.rerun} run before` : ''}`;
    process.stdout.write(flags.json ? `${JSON.stringify({ summary, alerts: emitted }, null, 2)}\n` : `\ntilewatch hunt summary (${summary.mode})\n  windows         ${summary.windows} (${ran})\n  period          ${summary.from} … ${summary.to}\n  alert versions  ${summary.alertVersions}${Object.keys(byKind).length ? ` (${Object.entries(byKind).map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}\n  open hunt alerts ${summary.open}\n  elapsed         ${(summary.elapsedMs / 1000).toFixed(1)} s\n`);
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

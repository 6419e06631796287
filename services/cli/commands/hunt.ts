import { HuntRunner, HuntSchedule, huntActivitySpanMs } from '../../hunts/huntRunner.ts';
import { activeSteps } from '../../hunts/huntQueries.ts';
import type { Alert } from '../../core/alert.ts';
import { EXIT, UsageError } from '../exitCodes.ts';
import { openAlertOutputs } from './alertOutputs.ts';
import { openContext, type CommonFlags } from './context.ts';
import { formatAlertLine, huntExclusions } from './replay.ts';

export interface HuntFlags extends CommonFlags {
  readonly from: string;
  readonly to: string;
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
 * `tilewatch hunt --from --to`: runs the hunts over stored history at every window end of the
 * event-time grid in [from, to], continuing the open hunt alerts (deterministic ids: re-running a
 * period adds no duplicates), and writes the alert versions to the alerts table and the sinks.
 */
export async function runHunt(flags: HuntFlags): Promise<number> {
  const from = parseTime(flags.from, '--from');
  const to = parseTime(flags.to, '--to');
  if (to <= from) throw new UsageError('--to must be after --from');
  const { config, logger, store } = await openContext(flags);
  if (!config.hunts) throw new UsageError('hunts are disabled in the config (hunts: false)');
  const hunts = config.hunts;
  const log = logger.child({ component: 'hunt' });
  const emitted: Alert[] = [];
  try {
    const outputs = await openAlertOutputs({ config, store, logger });
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
    const schedule = new HuntSchedule(hunts.everyMs, 0, huntActivitySpanMs(hunts));
    for (const step of await activeSteps(store.client, hunts.everyMs, from - huntActivitySpanMs(hunts), to)) schedule.observe(step);
    const ends = schedule.final(to).filter((t) => t > from);
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
    const summary = { windows: ends.length, from: new Date(from).toISOString(), to: new Date(to).toISOString(), alertVersions: emitted.length, byKind, elapsedMs: Math.round(performance.now() - started), open: runner.openAlerts().length };
    process.stdout.write(flags.json ? `${JSON.stringify({ summary, alerts: emitted }, null, 2)}\n` : `\ntilewatch hunt summary\n  windows         ${summary.windows} (${summary.from} … ${summary.to})\n  alert versions  ${summary.alertVersions}${Object.keys(byKind).length ? ` (${Object.entries(byKind).map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}\n  open hunt alerts ${summary.open}\n  elapsed         ${(summary.elapsedMs / 1000).toFixed(1)} s\n`);
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { evaluate, formatReport, readLabels, writeSimulation } from '../../sim/index.ts';
import { EXIT } from '../exitCodes.ts';
import type { CommonFlags } from './context.ts';
import { formatAlertLine, formatSummary, replayFiles } from './replay.ts';

export interface DemoFlags extends CommonFlags {
  readonly seed: number;
  readonly hours: number;
  readonly out: string;
}

/**
 * The README's first command: simulate a day of museum image-server traffic with scrapers in it,
 * replay it into the embedded store (no catalogue: extents are learned), print the alerts, the
 * evaluation against the simulator's labels, and the replay summary.
 */
export async function runDemo(flags: DemoFlags): Promise<number> {
  process.stdout.write(`simulating ${flags.hours} h of traffic (seed ${flags.seed}) into ${flags.out} …\n`);
  const sim = await writeSimulation({ out: flags.out, seed: flags.seed, hours: flags.hours });
  process.stdout.write(`  ${sim.lines} log lines from ${sim.actors} actors (${sim.threatActors} of them scrapers)\n\n`);
  // A deployment configures its staff network as an allow-list; the simulator says which one it used.
  const hint = JSON.parse(await readFile(join(flags.out, 'allowlist.json'), 'utf8')) as { cidrs?: string[] };
  const alertsPath = join(flags.out, 'alerts.jsonl');
  const run = await replayFiles(
    [join(flags.out, 'access.log')],
    { ...flags, allowCidr: hint.cidrs ?? [], alertsOut: alertsPath },
    { printAlerts: false },
  );
  const firsts = run.alerts.filter((a) => a.version === 1);
  process.stdout.write(`alerts (${firsts.length}; full JSON in ${alertsPath}):\n`);
  for (const a of firsts) process.stdout.write(formatAlertLine(a));
  process.stdout.write('\nevaluation against the simulator labels:\n');
  process.stdout.write(formatReport(evaluate(await readLabels(join(flags.out, 'labels.jsonl')), run.alerts)));
  process.stdout.write(formatSummary(run));
  process.stdout.write(`\nexplore the store: npx tilewatch query "SELECT kind, count() FROM tile_requests GROUP BY kind" --data ${flags.data ?? './data'}\n`);
  return EXIT.OK;
}

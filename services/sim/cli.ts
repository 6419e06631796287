/**
 * Command line for the simulator and evaluator (run with `node --import tsx services/sim/cli.ts`):
 *   simulate --seed 1 --hours 24 --out /tmp/sim [--scale 1] [--start 2026-03-02T00:00:00Z] [--images 300]
 *   evaluate --labels /tmp/sim/labels.jsonl --alerts alerts.jsonl [--json]
 *   baseline --log /tmp/sim/access.log --threshold 100 > alerts.jsonl
 */
import { parseArgs } from 'node:util';
import { evaluate, formatReport, readAlerts, readLabels } from './evaluate.ts';
import { naiveRateBaselineFile } from './baseline.ts';
import { writeSimulation } from './simulate.ts';

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      seed: { type: 'string', default: '1' },
      hours: { type: 'string', default: '24' },
      out: { type: 'string' },
      scale: { type: 'string' },
      start: { type: 'string' },
      images: { type: 'string' },
      labels: { type: 'string' },
      alerts: { type: 'string' },
      log: { type: 'string' },
      threshold: { type: 'string', default: '100' },
      json: { type: 'boolean', default: false },
    },
  });
  if (cmd === 'simulate') {
    if (!values.out) throw new Error('--out is required');
    const r = await writeSimulation({
      seed: values.seed ?? '1',
      hours: Number(values.hours),
      out: values.out,
      ...(values.scale ? { scale: Number(values.scale) } : {}),
      ...(values.start ? { start: values.start } : {}),
      ...(values.images ? { images: Number(values.images) } : {}),
    });
    process.stdout.write(`${r.lines} lines, ${r.actors} actors (${r.threatActors} threat) in ${(r.elapsedMs / 1000).toFixed(1)} s → ${values.out}\n`);
    return 0;
  }
  if (cmd === 'evaluate') {
    if (!values.labels || !values.alerts) throw new Error('--labels and --alerts are required');
    const report = evaluate(await readLabels(values.labels), await readAlerts(values.alerts));
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  }
  if (cmd === 'baseline') {
    if (!values.log) throw new Error('--log is required');
    for (const a of await naiveRateBaselineFile(values.log, Number(values.threshold))) process.stdout.write(`${JSON.stringify(a)}\n`);
    return 0;
  }
  process.stderr.write('usage: cli.ts simulate|evaluate|baseline [options]\n');
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

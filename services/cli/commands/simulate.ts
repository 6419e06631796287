import { writeSimulation } from '../../sim/index.ts';
import { EXIT } from '../exitCodes.ts';

export interface SimulateFlags {
  readonly out: string;
  readonly seed: number;
  readonly hours: number;
  readonly scale: number;
}

export async function runSimulate(flags: SimulateFlags): Promise<number> {
  const r = await writeSimulation({ out: flags.out, seed: flags.seed, hours: flags.hours, scale: flags.scale });
  process.stdout.write(
    `wrote ${r.lines} lines from ${r.actors} actors (${r.threatActors} threats) in ${(r.elapsedMs / 1000).toFixed(1)} s:\n` +
      r.files.map((f) => `  ${f}\n`).join(''),
  );
  return EXIT.OK;
}

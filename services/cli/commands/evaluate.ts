import { evaluate, formatReport, readAlerts, readLabels } from '../../sim/index.ts';
import { EXIT } from '../exitCodes.ts';

export interface EvaluateFlags {
  readonly labels: string;
  readonly alerts: string;
  readonly json?: boolean;
}

export async function runEvaluate(flags: EvaluateFlags): Promise<number> {
  const report = evaluate(await readLabels(flags.labels), await readAlerts(flags.alerts));
  process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return EXIT.OK;
}

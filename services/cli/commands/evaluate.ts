import { evaluate, formatComparison, formatReport, readAlerts, readLabels } from '../../sim/index.ts';
import { naiveRateBaselineFile } from '../../sim/baseline.ts';
import { EXIT } from '../exitCodes.ts';

export interface EvaluateFlags {
  readonly labels: string;
  readonly alerts: string;
  readonly json?: boolean;
  /** Also evaluate a naive requests-per-minute rule over this access log, side by side. */
  readonly baselineLog?: string;
  readonly baselineRpm?: number;
}

export async function runEvaluate(flags: EvaluateFlags): Promise<number> {
  const labels = await readLabels(flags.labels);
  const report = evaluate(labels, await readAlerts(flags.alerts));
  if (!flags.baselineLog) {
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return EXIT.OK;
  }
  const rpm = flags.baselineRpm ?? 60;
  const naive = evaluate(labels, await naiveRateBaselineFile(flags.baselineLog, rpm));
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ tilewatch: report, naiveRate: { requestsPerMinute: rpm, report: naive } }, null, 2)}\n`
      : `${formatReport(report)}\n${formatComparison(report, naive, ['tilewatch', `naive >${rpm}/min`])}`,
  );
  return EXIT.OK;
}

/**
 * Runs the campaign hunt both ways over a stored period — the SQL over the look-back
 * (huntQueries.campaignCandidates) and the incremental state (core/hunts/campaignState.ts) moved
 * bucket by bucket — and returns, per window end, the two candidate lists in one canonical order.
 * Used by the equivalence test and by the benchmark.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { CampaignCandidateRow } from '../../services/core/hunts/findings.ts';
import { IncrementalCampaigns } from '../../services/hunts/incrementalCampaigns.ts';
import { campaignCandidates, type HuntExclusions } from '../../services/hunts/huntQueries.ts';

export interface CompareOptions {
  readonly lookbackMs: number;
  readonly stepMs: number;
  readonly exclusions: HuntExclusions;
  readonly protectedScale: number;
  readonly openDataLongEdge: number;
  readonly gates: { readonly minMembers: number; readonly minUnionCoverage: number };
}

export interface WindowComparison {
  readonly windowEnd: number;
  readonly sql: string[];
  readonly incremental: string[];
  readonly sqlMs: number;
  readonly incrementalMs: number;
}

export function canonical(rows: readonly CampaignCandidateRow[]): string[] {
  return rows.map((r) => JSON.stringify({ ...r, members: [...r.members].sort() })).sort();
}

export async function compareCampaigns(client: ClickHouseClient, ends: readonly number[], o: CompareOptions): Promise<WindowComparison[]> {
  const protectedBand = 0 - Math.round(Math.log2(o.protectedScale));
  const inc = new IncrementalCampaigns(client, { lookbackMs: o.lookbackMs, stepMs: o.stepMs, exclusions: o.exclusions, protectedBand, openDataLongEdge: o.openDataLongEdge });
  const out: WindowComparison[] = [];
  for (const end of ends) {
    let t = performance.now();
    const sqlRows = await campaignCandidates(client, { from: end - o.lookbackMs, to: end, recentFrom: end - o.stepMs }, o.exclusions, { protectedScale: o.protectedScale, openDataLongEdge: o.openDataLongEdge }, o.gates);
    const sqlMs = performance.now() - t;
    t = performance.now();
    const incRows = await inc.candidates(end, o.gates);
    out.push({ windowEnd: end, sql: canonical(sqlRows), incremental: canonical(incRows), sqlMs, incrementalMs: performance.now() - t });
  }
  return out;
}

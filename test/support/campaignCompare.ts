/**
 * Runs the campaign hunt both ways over a stored period — the SQL over the look-back
 * (huntQueries.campaignCandidates) and the incremental state (core/hunts/campaignState.ts) moved
 * bucket by bucket — and returns, per window end, the two candidate lists in one canonical order.
 * Used by the equivalence test and by the benchmark.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { CampaignState } from '../../services/core/hunts/campaignState.ts';
import type { CampaignCandidateRow } from '../../services/core/hunts/findings.ts';
import { activeImages, catalogueSizes, cellRows } from '../../services/hunts/campaignCells.ts';
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
  const state = new CampaignState(protectedBand);
  let lo = Number.NaN;
  let hi = Number.NaN;
  const out: WindowComparison[] = [];
  for (const end of ends) {
    let t = performance.now();
    const sqlRows = await campaignCandidates(client, { from: end - o.lookbackMs, to: end, recentFrom: end - o.stepMs }, o.exclusions, { protectedScale: o.protectedScale, openDataLongEdge: o.openDataLongEdge }, o.gates);
    const sqlMs = performance.now() - t;
    t = performance.now();
    const from = end - o.lookbackMs;
    if (Number.isNaN(lo) || from >= hi || from < lo) {
      state.clear();
      const d = await cellRows(client, from, end, o.exclusions, protectedBand);
      state.add(d.rows, d.extents);
    } else {
      const gone = await cellRows(client, lo, from, o.exclusions, protectedBand);
      state.remove(gone.rows, lo, from);
      const added = await cellRows(client, hi, end, o.exclusions, protectedBand);
      state.add(added.rows, added.extents);
    }
    lo = from;
    hi = end;
    const images = await activeImages(client, end - o.stepMs, end);
    const cat = await catalogueSizes(client, images);
    const incRows = state.candidates(images, cat, o.openDataLongEdge, o.gates);
    out.push({ windowEnd: end, sql: canonical(sqlRows), incremental: canonical(incRows), sqlMs, incrementalMs: performance.now() - t });
  }
  return out;
}

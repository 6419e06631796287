/**
 * Runs the campaign and image-exposure hunts both ways over a stored period — the SQL over the
 * look-back (huntQueries.campaignCandidates, exposedImages) and the incremental states
 * (core/hunts/campaignState.ts, exposureState.ts) moved bucket by bucket — and returns, per window
 * end, the two result lists in one canonical order. Used by the equivalence test.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { CampaignCandidateRow, ImageExposureRow } from '../../services/core/hunts/findings.ts';
import { IncrementalCampaigns, IncrementalExposure } from '../../services/hunts/incrementalHunts.ts';
import { campaignCandidates, campaignMembers, exposedImages, type HuntExclusions } from '../../services/hunts/huntQueries.ts';

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

export function canonical(rows: ReadonlyArray<CampaignCandidateRow | ImageExposureRow>): string[] {
  return rows.map((r) => JSON.stringify('members' in r ? { ...r, members: [...r.members].sort() } : r)).sort();
}

/**
 * `members`: also compare the members' profiles of these clients on these images (campaignMembers
 * against IncrementalCampaigns.members) on every window, as `membersSql` / `membersIncremental`.
 */
export async function compareCampaigns(
  client: ClickHouseClient,
  ends: readonly number[],
  o: CompareOptions,
  members?: { readonly clients: readonly string[]; readonly images: readonly string[] },
): Promise<Array<WindowComparison & { membersSql: string[]; membersIncremental: string[] }>> {
  const protectedBand = 0 - Math.round(Math.log2(o.protectedScale));
  const inc = new IncrementalCampaigns(client, { lookbackMs: o.lookbackMs, stepMs: o.stepMs, exclusions: o.exclusions, protectedBand, openDataLongEdge: o.openDataLongEdge });
  const out: Array<WindowComparison & { membersSql: string[]; membersIncremental: string[] }> = [];
  const lines = (rows: readonly object[]): string[] => rows.map((r) => JSON.stringify(r, Object.keys(r).sort())).sort();
  for (const end of ends) {
    const w = { from: end - o.lookbackMs, to: end, recentFrom: end - o.stepMs };
    const p = { protectedScale: o.protectedScale, openDataLongEdge: o.openDataLongEdge };
    let t = performance.now();
    const sqlRows = await campaignCandidates(client, w, o.exclusions, p, o.gates);
    const sqlMs = performance.now() - t;
    t = performance.now();
    const incRows = await inc.candidates(end, o.gates);
    const incrementalMs = performance.now() - t;
    const membersSql = members ? lines(await campaignMembers(client, w, o.exclusions, p, members.clients, members.images, 'tile_requests')) : [];
    const membersIncremental = members ? lines(await inc.members(members.clients, members.images)) : [];
    out.push({ windowEnd: end, sql: canonical(sqlRows), incremental: canonical(incRows), sqlMs, incrementalMs, membersSql, membersIncremental });
  }
  return out;
}

export async function compareExposure(
  client: ClickHouseClient,
  ends: readonly number[],
  o: Omit<CompareOptions, 'gates'> & { readonly gates: { readonly minUnionCoverage: number; readonly minEdgeRatio: number } },
): Promise<WindowComparison[]> {
  const protectedBand = 0 - Math.round(Math.log2(o.protectedScale));
  const inc = new IncrementalExposure(client, { lookbackMs: o.lookbackMs, stepMs: o.stepMs, exclusions: o.exclusions, protectedBand, openDataLongEdge: o.openDataLongEdge });
  const out: WindowComparison[] = [];
  for (const end of ends) {
    let t = performance.now();
    const sqlRows = await exposedImages(client, { from: end - o.lookbackMs, to: end, recentFrom: end - o.stepMs }, o.exclusions, { protectedScale: o.protectedScale, openDataLongEdge: o.openDataLongEdge }, o.gates);
    const sqlMs = performance.now() - t;
    t = performance.now();
    const incRows = await inc.exposed(end, o.gates);
    out.push({ windowEnd: end, sql: canonical(sqlRows), incremental: canonical(incRows), sqlMs, incrementalMs: performance.now() - t });
  }
  return out;
}

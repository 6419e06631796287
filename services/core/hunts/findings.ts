/**
 * The hunts' judgement, as pure functions over rows measured in ClickHouse (services/hunts). Each
 * finding is explainable: every reason carries the measured value and its threshold.
 */
import { median, medianAbsoluteDeviation, quantileSorted } from 'simple-statistics';
import type { AlertClient, AlertImage, AlertReason, Severity } from '../alert.ts';
import { subnetOf } from '../logformat/cidr.ts';
import type { HuntConfig } from './huntConfig.ts';

export type HuntKind = 'low-and-slow' | 'campaign' | 'image-exposure';

export const HUNT_KINDS: readonly HuntKind[] = ['low-and-slow', 'campaign', 'image-exposure'];

/** One hunt result, before it is reconciled with the open alerts into alert versions. */
export interface Finding {
  readonly kind: HuntKind;
  /** What the alert is about: a client IP, a campaign group ('net:…' / 'asn:…' / 'ua:…'), or an image id. */
  readonly key: string;
  readonly severity: Severity;
  readonly score: number;
  readonly client: AlertClient;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly images: readonly AlertImage[];
  readonly reasons: readonly AlertReason[];
}

/**
 * How much an alert or finding has found, from fields both carry: images, members and coverage
 * (in tenths). An open hunt alert gets a new version only when this grows or its severity rises.
 */
export function magnitudeOf(x: { readonly images: readonly AlertImage[]; readonly client: AlertClient }): number {
  return x.images.length * 10_000 + x.client.ips.length * 100 + x.images.reduce((s, i) => s + Math.floor(i.coverage * 10), 0);
}

// ---------------------------------------------------------------- resolution bands

/**
 * Resolution band of a scale (output px per full-resolution px): band = round(log2(1/scale)), so
 * 0 is full resolution, 1 half, 2 a quarter …, larger is coarser — the meaning of the detector's
 * cells (core/detect/cells.ts) and of the incident queries (incidents/bands.ts). The hunts' SQL
 * (services/hunts/huntQueries.ts) computes the `band` of every row below this way, without clamping:
 * an upscaled request (scale > 1) has a negative band.
 */
export function bandOfScale(scale: number): number {
  return Math.round(-Math.log2(scale)) + 0; // + 0: no negative zero
}

/** Scale of a band: 2^-band (band 0 → 1, band 1 → 0.5). What an alert's image `scale` says. */
export function scaleOfBand(band: number): number {
  return 2 ** -band;
}

// ---------------------------------------------------------------- rows measured by the queries

export interface SlowClientRow {
  readonly client: string;
  readonly userAgent: string;
  readonly deepTiles: number;
  readonly deepRequests: number;
  readonly tileRequests: number;
  readonly activeHours: number;
  readonly firstTs: number;
  readonly lastTs: number;
  readonly noRefererFraction: number;
  readonly medianGapMs: number;
  readonly madGapMs: number;
}

export interface ClientImageCoverageRow {
  readonly client: string;
  readonly imageId: string;
  /** Resolution band (bandOfScale: 0 = full resolution, 1 = half …). */
  readonly band: number;
  readonly coverage: number;
  readonly longEdge: number;
  readonly revealedPixels: number;
  readonly requests: number;
}

export interface CampaignCandidateRow {
  readonly imageId: string;
  /** Resolution band (bandOfScale: 0 = full resolution, 1 = half …). */
  readonly band: number;
  /** 'net:<cidr>' (shared /24 or /48), 'asn:<n>' (one hosting network's AS) or 'ua:<user agent>'. */
  readonly group: string;
  readonly members: readonly string[];
  readonly unionCoverage: number;
  readonly overlap: number;
  readonly longEdge: number;
  readonly unionPixels: number;
}

export interface CampaignMemberRow {
  readonly client: string;
  readonly imageId: string;
  readonly userAgent: string;
  readonly deepFraction: number;
  /** Area (full-resolution px²) the member covered at high-resolution bands. */
  readonly coveredArea: number;
  readonly requests: number;
  readonly firstTs: number;
  readonly lastTs: number;
}

export interface ImageExposureRow {
  readonly imageId: string;
  /** Resolution band (bandOfScale: 0 = full resolution, 1 = half …). */
  readonly band: number;
  readonly unionCoverage: number;
  /** Full-resolution pixels of the image (width × height). */
  readonly imageArea: number;
  readonly longEdge: number;
  readonly openDataLongEdge: number;
  readonly clients: number;
  readonly firstTs: number;
  readonly lastTs: number;
}

/** One client's requests for an exposed image: how it fetched it, and how much of it it revealed. */
export interface ImageContributorRow {
  readonly imageId: string;
  readonly client: string;
  readonly userAgent: string;
  /** Share of its requests for the image at high resolution (1 = no navigation through coarser levels). */
  readonly deepFraction: number;
  /**
   * Levels between its coarsest and finest request for the image (pyramid levels, or bands of scale
   * for IIIF regions): a viewer's home view, or a cache warming the pyramid level by level, makes this
   * ≥ 2. Levels matter where scale does not: without a catalogue, a pyramid's scale is relative to the
   * deepest level seen so far, so early coarse tiles were stored as full resolution.
   */
  readonly bandSpan: number;
  /** Full-resolution pixels it revealed at high resolution (distinct rectangles). */
  readonly coveredArea: number;
}

// ---------------------------------------------------------------- population baselines

export interface Baseline {
  readonly median: number;
  readonly mad: number;
  readonly p95: number;
  readonly p99: number;
  readonly samples: number;
}

/** Robust summary of a sample (median/MAD and upper quantiles, simple-statistics). */
export function baselineOf(values: readonly number[]): Baseline {
  if (values.length === 0) return { median: 0, mad: 0, p95: 0, p99: 0, samples: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: median(sorted),
    mad: medianAbsoluteDeviation(sorted),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
    samples: sorted.length,
  };
}

/** Baseline from a histogram (value → count), expanded; at most 100,000 samples (proportionally thinned). */
export function baselineOfHistogram(hist: ReadonlyArray<{ value: number; count: number }>): Baseline {
  const total = hist.reduce((s, h) => s + h.count, 0);
  const keep = total > 100_000 ? 100_000 / total : 1;
  const values: number[] = [];
  for (const h of hist) for (let i = 0, n = Math.max(1, Math.round(h.count * keep)); i < n; i++) values.push(h.value);
  return baselineOf(values);
}

/** Per hour of day (0–23, UTC) baselines of tiles per active client per hour. */
export function hourOfDayBaselines(rows: ReadonlyArray<{ hourOfDay: number; tiles: readonly number[] }>): Map<number, Baseline> {
  const out = new Map<number, Baseline>();
  for (const r of rows) out.set(r.hourOfDay, baselineOf(r.tiles));
  return out;
}

// ---------------------------------------------------------------- helpers

const SEVERITY_AT: ReadonlyArray<[number, Severity]> = [
  [90, 'critical'],
  [80, 'high'],
  [65, 'medium'],
  [0, 'low'],
];

export function severityOf(score: number): Severity {
  for (const [min, sev] of SEVERITY_AT) if (score >= min) return sev;
  return 'low';
}

const pct = (x: number): string => `${Math.round(x * 100)} %`;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const minutes = (ms: number): string => (ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)} h` : ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`);

function commonPrefix(ips: readonly string[]): string {
  const subnets = new Set(ips.map(subnetOf));
  return subnets.size === 1 ? [...subnets][0]! : '';
}

// ---------------------------------------------------------------- low-and-slow

/**
 * Clients covering images at high resolution slowly, over many hours: distinct deep tiles, persistence
 * beyond the population's p99 of active hours, slow cadence (no viewport bursts), deepest level only.
 */
export function lowAndSlowFindings(
  rows: readonly SlowClientRow[],
  coverage: readonly ClientImageCoverageRow[],
  activeHours: Baseline,
  alreadyAlerted: ReadonlySet<string>,
  cfg: HuntConfig,
): Finding[] {
  const c = cfg.lowAndSlow;
  const persistence = Math.max(c.minActiveHours, Math.floor(activeHours.p99) + 1);
  const out: Finding[] = [];
  for (const r of rows) {
    if (c.skipAlerted && alreadyAlerted.has(r.client)) continue;
    const deepFraction = r.tileRequests > 0 ? r.deepRequests / r.tileRequests : 0;
    if (r.deepTiles < c.minTiles || r.activeHours < persistence || r.medianGapMs < c.minMedianGapMs || deepFraction < c.minDeepFraction) continue;
    // Best band per image for this client.
    const best = new Map<string, ClientImageCoverageRow>();
    for (const cov of coverage) {
      if (cov.client !== r.client) continue;
      const prev = best.get(cov.imageId);
      if (!prev || cov.revealedPixels > prev.revealedPixels) best.set(cov.imageId, cov);
    }
    const images = [...best.values()].sort((a, b) => b.revealedPixels - a.revealedPixels);
    const screens = images.reduce((s, i) => s + i.revealedPixels, 0) / cfg.screenPixels;
    const topCoverage = images[0]?.coverage ?? 0;
    const score = Math.min(
      100,
      50 + 10 * Math.min(2, (r.activeHours - persistence) / persistence) + 15 * Math.min(1, screens / 8) + 5 * (r.noRefererFraction >= 0.9 ? 1 : 0),
    );
    const reasons: AlertReason[] = [
      {
        signal: 'persistence',
        value: r.activeHours,
        threshold: persistence,
        text: `high-resolution tiles in ${r.activeHours} distinct hours (population p99 ${round3(activeHours.p99)} h over ${activeHours.samples} clients; threshold ${persistence})`,
      },
      {
        signal: 'slow-cadence',
        value: r.medianGapMs,
        threshold: c.minMedianGapMs,
        text: `one tile every ${minutes(r.medianGapMs)} ± ${minutes(r.madGapMs)} (median gap ≥ ${minutes(c.minMedianGapMs)}: no viewport bursts)`,
      },
      {
        signal: 'depth-only',
        value: round3(deepFraction),
        threshold: c.minDeepFraction,
        text: `${pct(deepFraction)} of ${r.tileRequests} tile requests at high resolution (≥ ${pct(c.minDeepFraction)}), ${r.deepTiles} distinct tiles`,
      },
      {
        signal: 'exposure',
        value: round3(screens),
        threshold: 0,
        text: `revealed ${screens.toFixed(1)} screens at high resolution over ${images.length} image(s); best ${pct(topCoverage)} of ${images[0]?.imageId ?? '-'}`,
      },
    ];
    if (r.noRefererFraction >= 0.9) reasons.push({ signal: 'context', value: round3(r.noRefererFraction), threshold: 0.9, text: `${pct(r.noRefererFraction)} of requests without Referer` });
    out.push({
      kind: 'low-and-slow',
      key: r.client,
      severity: severityOf(score),
      score: Math.round(score),
      client: { ip: r.client, ips: [r.client], userAgent: r.userAgent, subnet: subnetOf(r.client) },
      firstSeen: r.firstTs,
      lastSeen: r.lastTs,
      images: images.slice(0, 20).map((i) => ({ id: i.imageId, protocol: '', coverage: round3(i.coverage), scale: scaleOfBand(i.band), longEdge: Math.round(i.longEdge), requests: i.requests })),
      reasons,
    });
  }
  return out;
}

// ---------------------------------------------------------------- campaigns

/** The candidate-level campaign gates (members, union, overlap, screens): the runner measures members only for these. */
export function isPlausibleCampaign(row: CampaignCandidateRow, cfg: HuntConfig): boolean {
  const c = cfg.campaign;
  const excessScreens = row.unionPixels / cfg.screenPixels - 1;
  return row.members.length >= c.minMembers && row.unionCoverage >= c.minUnionCoverage && row.overlap <= c.maxOverlap && excessScreens >= c.minExcessScreens;
}

/**
 * Groups of clients (shared /24 or /48, one hosting network's AS, or one user agent across unrelated networks) that jointly
 * covered images at high resolution while each covered little and they barely overlapped, fetching
 * the deepest level only. One finding per group, naming all its members and images.
 */
export function campaignFindings(
  candidates: readonly CampaignCandidateRow[],
  members: readonly CampaignMemberRow[],
  hourly: ReadonlyMap<number, Baseline>,
  peaks: ReadonlyArray<{ client: string; hour: number; tiles: number }>,
  cfg: HuntConfig,
): Finding[] {
  const c = cfg.campaign;
  const byMemberImage = new Map<string, CampaignMemberRow>();
  for (const m of members) byMemberImage.set(`${m.client}\n${m.imageId}`, m);
  const peakOf = new Map(peaks.map((p) => [p.client, p]));

  interface Hit {
    readonly row: CampaignCandidateRow;
    readonly maxShare: number;
    readonly deepShare: number;
  }
  const byGroup = new Map<string, Hit[]>();
  for (const row of candidates) {
    if (!isPlausibleCampaign(row, cfg)) continue;
    const rows = row.members.map((ip) => byMemberImage.get(`${ip}\n${row.imageId}`)).filter((m): m is CampaignMemberRow => m !== undefined);
    if (rows.length === 0) continue;
    const unionArea = rows.reduce((s, m) => s + m.coveredArea, 0) / Math.max(1, row.overlap);
    const maxShare = unionArea > 0 ? Math.max(...rows.map((m) => m.coveredArea)) / unionArea : 1;
    const deepShare = rows.filter((m) => m.deepFraction >= cfg.lowAndSlow.minDeepFraction).length / rows.length;
    if (maxShare > c.maxMemberShare || deepShare < c.minDeepMembers) continue;
    const list = byGroup.get(row.group) ?? [];
    list.push({ row, maxShare, deepShare });
    byGroup.set(row.group, list);
  }

  // A campaign found both by network and by user agent is reported once, by network (names a CIDR);
  // one found by /24 (/48) and by hosting AS, by /24 (/48); a user-agent group made mostly of members
  // of either is not repeated.
  const netMembers = new Set<string>();
  const asnMembers = new Set<string>();
  for (const [group, hits] of byGroup) {
    const into = group.startsWith('net:') ? netMembers : group.startsWith('asn:') ? asnMembers : null;
    if (into) for (const h of hits) for (const m of h.row.members) into.add(m);
  }

  const out: Finding[] = [];
  for (const [group, hits] of [...byGroup].sort((a, b) => a[0].localeCompare(b[0]))) {
    // Name only members whose own requests fit the campaign (deepest level only on its images): a
    // viewer who shares the user agent and looked at one of the images is not a member.
    const deepOn = (ip: string): boolean =>
      hits.some((h) => {
        const m = byMemberImage.get(`${ip}\n${h.row.imageId}`);
        return m !== undefined && m.deepFraction >= cfg.lowAndSlow.minDeepFraction;
      });
    const ips = [...new Set(hits.flatMap((h) => h.row.members))].filter(deepOn).sort();
    if (ips.length < c.minMembers) continue;
    if (group.startsWith('ua:') && ips.filter((ip) => netMembers.has(ip) || asnMembers.has(ip)).length >= ips.length / 2) continue;
    if (group.startsWith('asn:') && ips.filter((ip) => netMembers.has(ip)).length >= ips.length / 2) continue;
    const memberRows = members.filter((m) => ips.includes(m.client) && hits.some((h) => h.row.imageId === m.imageId));
    const firstSeen = Math.min(...memberRows.map((m) => m.firstTs));
    const lastSeen = Math.max(...memberRows.map((m) => m.lastTs));
    const uas = [...new Set(memberRows.map((m) => m.userAgent))];
    const cidr = group.startsWith('net:') ? group.slice(4) : commonPrefix(ips);
    const overlap = Math.max(...hits.map((h) => h.row.overlap));
    const maxShare = Math.max(...hits.map((h) => h.maxShare));
    const deepShare = Math.min(...hits.map((h) => h.deepShare));
    const screens = hits.reduce((s, h) => s + h.row.unionPixels, 0) / cfg.screenPixels;
    // Synchronised volume: members whose busiest hour exceeds that hour of day's p99 of tiles per client.
    let aboveP99 = 0;
    let compared = 0;
    for (const ip of ips) {
      const p = peakOf.get(ip);
      const b = p ? hourly.get(new Date(p.hour).getUTCHours()) : undefined;
      if (!p || !b || b.samples === 0) continue;
      compared++;
      if (p.tiles > b.p99) aboveP99++;
    }
    const score = Math.min(100, 60 + 5 * Math.min(4, hits.length) + 10 * Math.min(1, screens / 16) + (compared > 0 ? 10 * (aboveP99 / compared) : 0));
    const reasons: AlertReason[] = [
      {
        signal: 'union-coverage',
        value: round3(Math.min(...hits.map((h) => h.row.unionCoverage))),
        threshold: c.minUnionCoverage,
        text: `${ips.length} clients jointly covered ${hits.length} image(s) at high resolution (each ≥ ${pct(c.minUnionCoverage)} in union), ${screens.toFixed(1)} screens`,
      },
      { signal: 'low-overlap', value: round3(overlap), threshold: c.maxOverlap, text: `overlap ${overlap.toFixed(2)} (≤ ${c.maxOverlap}: the work was split; viewers overlap on the same areas)` },
      { signal: 'member-share', value: round3(maxShare), threshold: c.maxMemberShare, text: `no member covered more than ${pct(maxShare)} of any image's union (≤ ${pct(c.maxMemberShare)})` },
      { signal: 'depth-only', value: round3(deepShare), threshold: c.minDeepMembers, text: `${pct(deepShare)} of members fetched the deepest level only (≥ ${pct(c.minDeepMembers)})` },
      {
        signal: group.startsWith('net:') ? 'shared-network' : group.startsWith('asn:') ? 'shared-hosting-network' : 'shared-user-agent',
        value: ips.length,
        threshold: c.minMembers,
        text: group.startsWith('net:')
          ? `all members in ${cidr}`
          : group.startsWith('asn:')
            ? `all members in one hosting network, AS${group.slice(4)}, across ${new Set(ips.map(subnetOf)).size} /24 (/48) networks`
            : `one user agent across ${new Set(ips.map(subnetOf)).size} networks: ${group.slice(3)}`,
      },
    ];
    if (compared > 0)
      reasons.push({ signal: 'volume', value: aboveP99, threshold: compared, text: `${aboveP99} of ${compared} members' busiest hour above that hour of day's p99 of tiles per client` });
    out.push({
      kind: 'campaign',
      key: group,
      severity: severityOf(score),
      score: Math.round(score),
      client: { ip: ips[0]!, ips, userAgent: uas.length === 1 ? uas[0]! : `${uas.length} user agents`, subnet: cidr },
      firstSeen,
      lastSeen,
      images: hits
        .sort((a, b) => b.row.unionPixels - a.row.unionPixels)
        .slice(0, 20)
        .map((h) => ({ id: h.row.imageId, protocol: '', coverage: round3(h.row.unionCoverage), scale: scaleOfBand(h.row.band), longEdge: Math.round(h.row.longEdge), requests: 0 })),
      reasons,
    });
  }
  return out;
}

// ---------------------------------------------------------------- image exposure

/** Images whose union coverage above twice the open-data resolution crossed policy, whoever did it. */
/**
 * Image exposure as an alert: only when the exposure is attributable to clients that fetched the
 * image like a script (≥ minDeepFraction of their requests for it at high resolution, and never a
 * level two or more coarser than their finest: no viewer's home view, however long they then studied
 * details) and that no
 * open alert accuses yet (`accused`), and only when two or more such clients revealed ≥
 * minAttributedShare of the exposed area. The alert names exactly them (largest contribution first, then address), never
 * the viewers who also looked at the image; everything else is for the exposure report.
 */
export function imageExposureFindings(rows: readonly ImageExposureRow[], contributors: readonly ImageContributorRow[], accused: ReadonlySet<string>, cfg: HuntConfig): Finding[] {
  const best = new Map<string, ImageExposureRow>();
  for (const r of rows) {
    if (r.unionCoverage < cfg.imageExposure.minUnionCoverage) continue;
    const prev = best.get(r.imageId);
    if (!prev || r.longEdge > prev.longEdge) best.set(r.imageId, r);
  }
  const byImage = new Map<string, ImageContributorRow[]>();
  for (const c of contributors) {
    if (c.deepFraction < cfg.imageExposure.minDeepFraction || c.bandSpan >= 2 || accused.has(c.client)) continue;
    const list = byImage.get(c.imageId) ?? [];
    list.push(c);
    byImage.set(c.imageId, list);
  }
  const out: Finding[] = [];
  for (const r of [...best.values()].sort((a, b) => a.imageId.localeCompare(b.imageId))) {
    const suspects = (byImage.get(r.imageId) ?? []).sort((a, b) => b.coveredArea - a.coveredArea || a.client.localeCompare(b.client));
    const exposedArea = r.unionCoverage * r.imageArea;
    const attributed = suspects.reduce((sum, c) => sum + c.coveredArea, 0);
    const share = exposedArea > 0 ? Math.min(1, attributed / exposedArea) : 0;
    // One client alone is the streaming detector's and the low-and-slow hunt's to judge; this is for exposures spread over several.
    if (suspects.length < 2 || share < cfg.imageExposure.minAttributedShare) continue;
    const ips = suspects.map((c) => c.client);
    const uas = [...new Set(suspects.map((c) => c.userAgent))];
    const ratio = r.openDataLongEdge > 0 ? r.longEdge / r.openDataLongEdge : 0;
    const score = Math.min(100, 40 + 10 * Math.min(3, ratio - cfg.imageExposure.minEdgeRatio + 1) + 10 * share);
    out.push({
      kind: 'image-exposure',
      key: r.imageId,
      severity: severityOf(score),
      score: Math.round(score),
      client: { ip: ips[0]!, ips, userAgent: uas.length === 1 ? uas[0]! : `${uas.length} user agents`, subnet: '' },
      firstSeen: r.firstTs,
      lastSeen: r.lastTs,
      images: [{ id: r.imageId, protocol: '', coverage: round3(r.unionCoverage), scale: scaleOfBand(r.band), longEdge: Math.round(r.longEdge), requests: 0 }],
      reasons: [
        {
          signal: 'image-exposure',
          value: round3(r.unionCoverage),
          threshold: cfg.imageExposure.minUnionCoverage,
          text: `${pct(r.unionCoverage)} of ${r.imageId} revealed at ${Math.round(r.longEdge)} px long edge (open data ${r.openDataLongEdge} px, policy ${cfg.imageExposure.minEdgeRatio}×)`,
        },
        {
          signal: 'attributed-share',
          value: round3(share),
          threshold: cfg.imageExposure.minAttributedShare,
          text: `${pct(share)} of it by ${ips.length} client(s) fetching the image at high resolution only, not accused by another alert (${r.clients} client(s) in all)`,
        },
      ],
    });
  }
  return out;
}

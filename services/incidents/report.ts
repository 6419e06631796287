/**
 * Incident report: for a set of images and a period, the clients who could reconstruct each image at
 * a long edge of at least `minLongEdge` pixels (coverage ≥ minCoverage at such a band), since when,
 * with their request counts and the first and last evidence lines.
 */
import type { Store } from '../store/openStore.ts';
import { imageExposures, reconstructLongEdge, type Evidence, type ImageExposure } from './exposure.ts';
import type { TimeRange } from './inputs.ts';
import { iso } from './iso.ts';

export interface ReportClient {
  readonly ip: string;
  readonly longEdge: number;
  /** When coverage first reached the threshold at a band of at least minLongEdge. */
  readonly since: string;
  readonly requests: number;
  readonly firstEvidence: Evidence;
  readonly lastEvidence: Evidence;
}

export interface ReportImage {
  readonly imageId: string;
  readonly width: number;
  readonly height: number;
  readonly clients: readonly ReportClient[];
  /** All clients together: best long edge at ≥ minCoverage and since when (null: never). */
  readonly union: { readonly longEdge: number; readonly since: string | null };
}

export interface IncidentReport {
  readonly from: string;
  readonly to: string;
  readonly minLongEdge: number;
  readonly minCoverage: number;
  readonly images: readonly ReportImage[];
}

export interface ReportQuery {
  readonly imageIds: readonly string[];
  readonly range: TimeRange;
  readonly minLongEdge: number;
  readonly minCoverage: number;
  readonly maxClients: number;
}

export function reportImage(e: ImageExposure, minLongEdge: number): ReportImage {
  const clients: ReportClient[] = [];
  for (const c of e.clients) {
    const r = reconstructLongEdge(c.bands, minLongEdge);
    if (r.since === null) continue;
    clients.push({ ip: c.ip, longEdge: r.longEdge, since: r.since, requests: c.requests, firstEvidence: c.firstEvidence, lastEvidence: c.lastEvidence });
  }
  clients.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.ip < b.ip ? -1 : 1));
  const u = reconstructLongEdge(e.union.bands, minLongEdge);
  return { imageId: e.imageId, width: e.size?.width ?? 0, height: e.size?.height ?? 0, clients, union: { longEdge: u.longEdge, since: u.since } };
}

export async function incidentReport(store: Store, q: ReportQuery): Promise<IncidentReport> {
  const exposures = await imageExposures(store, { imageIds: q.imageIds, range: q.range, minCoverage: q.minCoverage, maxClients: q.maxClients, reachedOnly: true });
  const images = exposures.map((e) => reportImage(e, q.minLongEdge));
  return { from: iso(q.range.from), to: iso(q.range.to), minLongEdge: q.minLongEdge, minCoverage: q.minCoverage, images };
}

/**
 * The exposure digest of one day (UTC): the images that became exposed beyond policy that day —
 * all clients together covered ≥ `minCoverage` of a band whose long edge is at least `minEdgeRatio`
 * × the image's open-data edge by the end of the day, and not before it — with the clients that
 * revealed most of that band (top `topClients` by revealed cells, i.e. area) and the incidents,
 * open or resolved, whose alerts accuse those clients. One implementation for the API and the CLI.
 *
 * Coverage is the incident queries' (exposure.ts): full-resolution cells per band over the requests
 * of the `lookbackMs` before the day's end, so "not before" means not before within that look-back.
 * Images are first narrowed to those requested that day at a band fine enough to break the policy
 * (a band's coverage can only cross the line on a day it is requested).
 */
import type { AlertKind, Severity } from '../core/alert.ts';
import { DEFAULT_HUNT_CONFIG } from '../core/hunts/huntConfig.ts';
import type { Store } from '../store/openStore.ts';
import { bandGrid, bandOfScale } from './bands.ts';
import { imageExposures, type BandExposure } from './exposure.ts';
import { imageSizes } from './images.ts';
import { incidentsByAddress, selectIncidents, severityRank, toIncident, type IncidentStatus } from './incidentView.ts';
import { readRows } from '../store/sql.ts';
import { iso } from './iso.ts';

const DAY_MS = 86_400_000;

export interface DigestPolicy {
  /** Share of a band's cells that makes it reconstructable. Default 0.9 (the image-exposure hunt's). */
  readonly minCoverage: number;
  /** A band breaks policy when its long edge is at least this × the open-data edge. Default 2. */
  readonly minEdgeRatio: number;
  /** Open-data long edge of images the catalogue gives none for. Default 2048. */
  readonly defaultOpenDataLongEdge: number;
}

export const DEFAULT_DIGEST_POLICY: DigestPolicy = Object.freeze({
  minCoverage: DEFAULT_HUNT_CONFIG.imageExposure.minUnionCoverage,
  minEdgeRatio: DEFAULT_HUNT_CONFIG.imageExposure.minEdgeRatio,
  defaultOpenDataLongEdge: DEFAULT_HUNT_CONFIG.openDataLongEdge,
});

export interface DigestQuery {
  /** First millisecond of the day (UTC). */
  readonly day: number;
  /** Requests before the day's end that count towards coverage. */
  readonly lookbackMs: number;
  readonly policy: DigestPolicy;
  /** Clients read per image (exposure.ts's bound). */
  readonly maxClients: number;
  /** Contributors named per image. Default 5. */
  readonly topClients?: number;
}

export interface DigestClient {
  readonly ip: string;
  /** Cells of the exposed band this client revealed, and their share of the band. */
  readonly cells: number;
  readonly share: number;
  readonly requests: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** Incidents whose alerts accuse this address. */
  readonly incidents: readonly string[];
}

export interface DigestIncident {
  readonly id: string;
  readonly severity: Severity;
  readonly status: IncidentStatus;
  readonly kinds: readonly AlertKind[];
  readonly alertCount: number;
  readonly firstDetected: string;
  readonly lastSeen: string;
}

export interface DigestImage {
  readonly imageId: string;
  readonly width: number;
  readonly height: number;
  readonly openDataLongEdge: number;
  /** When all clients together first covered `minCoverage` of a band beyond policy. */
  readonly exposedAt: string;
  /** That band, its long edge and its coverage at the end of the day. */
  readonly band: number;
  readonly longEdge: number;
  readonly coverage: number;
  /** Clients that revealed cells of that band. */
  readonly clientCount: number;
  /** The ones that revealed most, largest first. */
  readonly clients: readonly DigestClient[];
  /** Incidents of those clients, most severe first. */
  readonly incidents: readonly DigestIncident[];
}

export interface ExposureDigest {
  readonly day: string;
  readonly from: string;
  readonly to: string;
  /** Start of the look-back: coverage counts requests from here to `to`. */
  readonly since: string;
  readonly policy: DigestPolicy;
  /** Earliest exposure first. */
  readonly images: readonly DigestImage[];
}

/** Images per exposure pass (exposure.ts reads several images in one set of queries). */
const CHUNK = 50;

/** Images requested in [from, to) with the finest scale they were revealed at that day. */
async function requestedImages(store: Store, from: number, to: number): Promise<Array<{ image_id: string; max_scale: number }>> {
  return readRows(
    store.client,
    `SELECT image_id, max(scale) AS max_scale FROM image_requests
     WHERE ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})
       AND kind IN ('tile', 'region', 'full', 'thumbnail') AND status < 400 AND scale > 0 AND rect_w > 0 AND rect_h > 0
     GROUP BY image_id ORDER BY image_id`,
    { from, to },
  );
}

async function openDataEdges(store: Store, ids: readonly string[]): Promise<Map<string, number>> {
  const rows = await readRows<{ image_id: string; od: number }>(
    store.client,
    'SELECT image_id, argMax(open_data_long_edge, updated_at) AS od FROM images FINAL WHERE image_id IN {ids:Array(String)} GROUP BY image_id',
    { ids: [...ids] },
  );
  return new Map(rows.filter((r) => r.od > 0).map((r) => [r.image_id, r.od]));
}

export async function exposureDigest(store: Store, q: DigestQuery, opts: { now: number }): Promise<ExposureDigest> {
  const from = q.day;
  const to = q.day + DAY_MS;
  const since = to - q.lookbackMs;
  const top = q.topClients ?? 5;
  const requested = await requestedImages(store, from, to);
  const sizes = await imageSizes(store, requested.map((r) => r.image_id));
  const od = await openDataEdges(store, requested.map((r) => r.image_id));
  const openData = (id: string): number => od.get(id) ?? q.policy.defaultOpenDataLongEdge;
  const beyond = (id: string, longEdge: number): boolean => longEdge >= q.policy.minEdgeRatio * openData(id);
  const candidates = requested.filter((r) => {
    const size = sizes.get(r.image_id);
    return size !== undefined && beyond(r.image_id, bandGrid(size.width, size.height, bandOfScale(r.max_scale)).longEdge);
  });

  const found: Array<Omit<DigestImage, 'clients' | 'incidents'> & { contributors: DigestClient[] }> = [];
  for (let i = 0; i < candidates.length; i += CHUNK) {
    const ids = candidates.slice(i, i + CHUNK).map((c) => c.image_id);
    const exposures = await imageExposures(store, { imageIds: ids, range: { from: since, to }, minCoverage: q.policy.minCoverage, maxClients: q.maxClients });
    for (const e of exposures) {
      if (!e.size) continue;
      // The band beyond policy that reached the threshold first (a finer one on a tie).
      let hit: BandExposure | null = null;
      for (const b of e.union.bands) {
        if (b.reachedAt === null || !beyond(e.imageId, b.longEdge)) continue;
        if (!hit || b.reachedAt < hit.reachedAt! || (b.reachedAt === hit.reachedAt && b.longEdge > hit.longEdge)) hit = b;
      }
      if (!hit || Date.parse(hit.reachedAt!) < from) continue;
      const band = hit.band;
      const contributors = e.clients
        .flatMap((c) => {
          const b = c.bands.find((x) => x.band === band);
          return b && b.cells > 0 ? [{ ip: c.ip, cells: b.cells, share: b.coverage, requests: c.requests, firstSeen: c.firstSeen, lastSeen: c.lastSeen, incidents: [] as string[] }] : [];
        })
        .sort((a, b) => b.cells - a.cells || (a.ip < b.ip ? -1 : 1));
      found.push({
        imageId: e.imageId,
        width: e.size.width,
        height: e.size.height,
        openDataLongEdge: openData(e.imageId),
        exposedAt: hit.reachedAt!,
        band,
        longEdge: hit.longEdge,
        coverage: hit.coverage,
        clientCount: contributors.length,
        contributors: contributors.slice(0, top),
      });
    }
  }

  const named = [...new Set(found.flatMap((f) => f.contributors.map((c) => c.ip)))];
  const byAddress = await incidentsByAddress(store, named, { since, now: opts.now });
  const incidentIds = [...new Set([...byAddress.values()].flat())];
  const rows = incidentIds.length === 0 ? [] : await selectIncidents(store, { ids: incidentIds, limit: incidentIds.length }, opts.now);
  const incidents = new Map(
    rows.map((r) => {
      const s = toIncident(r, false);
      return [s.id, { id: s.id, severity: s.severity, status: s.status, kinds: s.kinds, alertCount: s.alertCount, firstDetected: s.firstDetected, lastSeen: s.lastSeen }];
    }),
  );
  const images = found
    .map(({ contributors, ...f }): DigestImage => {
      const clients = contributors.map((c) => ({ ...c, incidents: byAddress.get(c.ip) ?? [] }));
      const ids = [...new Set(clients.flatMap((c) => c.incidents))];
      const list = ids
        .map((id) => incidents.get(id))
        .filter((x): x is DigestIncident => x !== undefined)
        .sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || (a.lastSeen < b.lastSeen ? 1 : a.lastSeen > b.lastSeen ? -1 : a.id < b.id ? -1 : 1));
      return { ...f, clients, incidents: list };
    })
    .sort((a, b) => (a.exposedAt < b.exposedAt ? -1 : a.exposedAt > b.exposedAt ? 1 : a.imageId < b.imageId ? -1 : 1));
  return { day: iso(from).slice(0, 10), from: iso(from), to: iso(to), since: iso(since), policy: q.policy, images };
}

import type { AlertKind, AlertReason, Severity } from '../alert.ts';
import type { DetectorConfig } from './detectorConfig.ts';
import { SHARED_OPEN_IMAGES, SHARED_USER_AGENTS, type Features } from './features.ts';

/** The judgement on one client: a score (0..100) made of explained parts. */
export interface Verdict {
  readonly kind: AlertKind;
  readonly score: number;
  readonly severity: Severity | null;
  readonly reasons: readonly AlertReason[];
}

/**
 * Signals of how a client fetched, as opposed to how much (exposure, volume) or how steadily (timing):
 * a whole image swept at one resolution, raster order, deepest level only, a script's context. A
 * crowd of viewers behind one address, or one person studying images closely for hours, adds up to
 * exposure, volume and even steady timing, but fetches like a viewer: none of these. Accusing needs
 * at least one.
 */
export const METHOD_SIGNALS: ReadonlySet<string> = new Set(['whole-image-sweep', 'raster-order', 'depth-only', 'context']);
/** Context points (of 10) that count as a method signal: two of no descriptor, no (or a tile) Referer, a library user agent. */
const METHOD_CONTEXT_POINTS = 6;
/**
 * Raster order that counts as a method signal: a script walking the grid scores ~1 even with parallel
 * fetchers; a person panning methodically across an image reaches just over half (viewport bursts are
 * requested centre-out, not row by row). Between the two.
 */
const METHOD_RASTER_FRACTION = 0.75;

function isMethod(r: AlertReason): boolean {
  if (r.signal === 'context') return r.value >= METHOD_CONTEXT_POINTS;
  if (r.signal === 'raster-order') return r.value >= METHOD_RASTER_FRACTION;
  return METHOD_SIGNALS.has(r.signal);
}

/**
 * Weights of each signal. Exposure (what the client could reconstruct) dominates: fully exposing
 * images at high resolution is the harm. The pattern signals (order, depth, timing, context,
 * volume) each add a bounded amount, so one of them alone never alerts, and a client that sweeps in
 * the manner of a scraper alerts even while each of its IPs covers only a slice (distributed sweeps).
 */
export const WEIGHTS = Object.freeze({
  /** Points at `exposureScreens` excess screens, rising to `maxExposure` at three times that. */
  fullExposure: 40,
  maxExposure: 60,
  /** Below `exposureScreens`, points grow linearly up to this. */
  partialExposure: 40,
  /** First image swept whole at one resolution; a second one, or a sweep in raster order, adds `sweepExtra`. */
  sweep: 15,
  sweepExtra: 10,
  raster: 15,
  depthOnly: 10,
  regularTiming: 10,
  context: 10,
  volume: 10,
});

export function severityOf(score: number, cfg: DetectorConfig): Severity | null {
  if (score < cfg.alertScore) return null;
  if (score >= 90) return 'critical';
  if (score >= 80) return 'high';
  if (score >= 65) return 'medium';
  return 'low';
}

const pct = (x: number): string => `${Math.round(x * 100)} %`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 0)} s`;

/** Scores harvesting by tiles. Returns null when the client is not worth scoring (gate). */
export function scoreHarvest(f: Features, cfg: DetectorConfig): Verdict | null {
  if (f.protectedTiles < cfg.minProtectedTiles) return null;
  const reasons: AlertReason[] = [];
  let score = 0;

  // Exposure: pixels revealed at protected bands beyond what one full-screen view shows, in screens.
  if (f.excessScreens > 0) {
    const k = cfg.exposureScreens;
    const pts =
      f.excessScreens >= k
        ? WEIGHTS.fullExposure + (WEIGHTS.maxExposure - WEIGHTS.fullExposure) * Math.min(1, (f.excessScreens - k) / (2 * k))
        : WEIGHTS.partialExposure * (f.excessScreens / k);
    score += pts;
    if (pts >= 5) {
      const top = f.exposures[0];
      reasons.push({
        signal: 'exposure',
        value: round(f.excessScreens),
        threshold: k,
        text:
          `revealed ${f.excessScreens.toFixed(1)} screens of image content above the open-data resolution` +
          (f.fullyExposed > 0 ? `; ${f.fullyExposed} image(s) ≥ ${pct(cfg.fullCoverage)} covered` : '') +
          (top ? `; e.g. ${pct(top.coverage)} of ${top.imageId} at scale ${fmtScale(top.scale)} (${top.longEdge} px long edge)` : ''),
      });
    }
  }

  // Whole images fetched at one resolution without navigating; in raster order it is a script's signature.
  if (f.sweptImages > 0) {
    const systematic = f.transitions >= 30 && f.rasterFraction >= cfg.rasterFraction;
    score += WEIGHTS.sweep + (f.sweptImages > 1 || systematic ? WEIGHTS.sweepExtra : 0);
    reasons.push({
      signal: 'whole-image-sweep',
      value: f.sweptImages,
      threshold: 1,
      text: `fetched ${f.sweptImages} image(s) whole (≥ ${pct(cfg.fullCoverage)}) at one high resolution without coarser levels${systematic ? ', row by row' : ''}`,
    });
  }

  // Order.
  if (f.transitions >= 30 && f.rasterFraction >= cfg.rasterFraction) {
    score += WEIGHTS.raster * Math.min(1, (f.rasterFraction - cfg.rasterFraction) / (1 - cfg.rasterFraction) + 0.5);
    reasons.push({ signal: 'raster-order', value: round(f.rasterFraction), threshold: cfg.rasterFraction, text: `${pct(f.rasterFraction)} of tiles in raster order` });
  }

  // Depth profile.
  if (f.depthOnlyFraction >= cfg.depthOnlyFraction && !f.coarseLevels) {
    score += WEIGHTS.depthOnly;
    reasons.push({ signal: 'depth-only', value: round(f.depthOnlyFraction), threshold: cfg.depthOnlyFraction, text: `${pct(f.depthOnlyFraction)} of tiles at the deepest level fetched, no coarse levels first` });
  }

  // A crowd behind one address: its totals describe many sessions, so volume and timing say nothing.
  if (f.shared) {
    reasons.push({
      signal: 'shared-address',
      value: Math.max(f.openImages, f.userAgents),
      threshold: Math.min(SHARED_OPEN_IMAGES, SHARED_USER_AGENTS),
      text: `shared address: ${f.openImages} images open at once, ${f.userAgents} user agents within the hour; judged without volume or timing, two method signals needed`,
    });
  }

  // Timing.
  if (!f.shared && f.activeMinutes >= cfg.minTimingMinutes && f.minuteCv <= cfg.regularCv) {
    score += WEIGHTS.regularTiming;
    reasons.push({
      signal: 'regular-timing',
      value: round(f.minuteCv),
      threshold: cfg.regularCv,
      text: `steady ${f.tilesPerMinute.toFixed(1)} tiles/min over ${f.activeMinutes} min (CV ${f.minuteCv.toFixed(2)}; gap median ${secs(f.medianGapMs)} ± ${secs(f.madGapMs)})`,
    });
  }

  // Context: what a viewer in a browser always does and a script rarely does.
  const ctx: string[] = [];
  let ctxPts = 0;
  if (f.noDescriptorFraction >= 0.5) {
    ctxPts += 3;
    ctx.push(`no descriptor before tiles for ${pct(f.noDescriptorFraction)} of images`);
  }
  if (f.refererNoneFraction >= 0.5) {
    ctxPts += 3;
    ctx.push('no Referer');
  } else if (f.refererProtocolFraction >= 0.5) {
    ctxPts += 3;
    ctx.push('Referer is a tile/descriptor URL');
  }
  if (f.uaClass === 'library' || f.uaClass === 'empty' || f.uaClass === 'other') {
    ctxPts += 3;
    ctx.push(`${f.uaClass} user agent`);
  }
  if (f.notModified === 0 && f.assets === 0 && f.pages === 0) {
    ctxPts += 1;
    ctx.push('no pages, assets or revalidations');
  }
  if (ctxPts > 0) {
    score += (WEIGHTS.context * ctxPts) / 10;
    reasons.push({ signal: 'context', value: ctxPts, threshold: 10, text: ctx.join('; ') });
  }

  // Volume against this server's population.
  if (!f.shared && f.volumeZ >= cfg.volumeZ) {
    score += WEIGHTS.volume;
    reasons.push({ signal: 'volume', value: round(f.volumeZ), threshold: cfg.volumeZ, text: `${f.hourTiles} tiles this hour, robust z = ${f.volumeZ.toFixed(1)} against active clients` });
  }

  const total = Math.min(100, Math.round(score));
  const methods = reasons.filter(isMethod);
  const method = methods.length;
  if (!accusable(methods, f, cfg)) return { kind: 'bulk-harvest', score: total, severity: null, reasons };
  return { kind: 'bulk-harvest', score: total, severity: harvestSeverity(total, method, f, cfg), reasons };
}

/**
 * Whether the evidence can accuse at all. Exposure and volume say how much; without a method signal
 * they describe viewers, not a harvest. Of the method signals, fetching only the deepest level and a
 * script's context are things a viewer never does; raster order and a whole-image sweep are things a
 * viewer does in part (a person reading a manuscript pans row by row; one who pans across an image of
 * a screen or two sees all of it). So one of the latter accuses alone only together with the harm it
 * would explain: an image revealed whole at a protected resolution, larger than viewing shows.
 * Behind a shared address one signal is never enough: the sessions' union can complete any image.
 */
function accusable(methods: readonly AlertReason[], f: Features, cfg: DetectorConfig): boolean {
  if (!gatheredProtected(f, cfg)) return false;
  if (methods.length >= 2) return true;
  const only = methods[0];
  if (only === undefined || f.shared) return false;
  return VIEWER_NEVER.has(only.signal) || f.fullyExposedBeyondViewing >= 1;
}

/**
 * A harvest gathers protected content: more than one screen of it beyond what viewing shows, or the
 * deepest level only (each member of a distributed harvest may hold just a slice), or an image swept
 * whole. A client fetching like a script but revealing less (a CDN warming its cache with the coarse
 * levels, a monitor) has taken nothing worth accusing it of.
 */
function gatheredProtected(f: Features, cfg: DetectorConfig): boolean {
  return f.excessScreens >= MIN_GATHERED_SCREENS || f.sweptImages > 0 || (f.depthOnlyFraction >= cfg.depthOnlyFraction && !f.coarseLevels);
}
const MIN_GATHERED_SCREENS = 1;

/** Method signals no viewer produces even in part (see `accusable`). */
const VIEWER_NEVER: ReadonlySet<string> = new Set(['depth-only', 'context']);

/**
 * Severity of a harvest verdict: the score's band, unless the evidence is conclusive — two or more
 * method signals and at least one image fetched whole (or ≥ 90 % covered) at a protected resolution
 * is a confirmed harvest in progress: critical from its first notification, so the incident does not
 * page again for every further image. Low stays for weak, single-signal evidence.
 */
function harvestSeverity(score: number, method: number, f: Features, cfg: DetectorConfig): Severity | null {
  const byScore = severityOf(score, cfg);
  if (byScore === null) return null;
  return method >= 2 && Math.max(f.sweptImages, f.fullyExposed) >= 1 ? 'critical' : byScore;
}


/** Scores whole-image downloads at high resolution (one request reveals a whole image). */
export function scoreFullDownloads(f: Features, cfg: DetectorConfig): Verdict | null {
  if (f.fullDownloads < cfg.fullDownloadImages) return null;
  const score = Math.min(100, cfg.alertScore + 5 * (f.fullDownloads - cfg.fullDownloadImages) + (f.uaClass === 'library' ? 10 : 0));
  return {
    kind: 'full-download',
    score,
    severity: severityOf(score, cfg),
    reasons: [
      {
        signal: 'full-downloads',
        value: f.fullDownloads,
        threshold: cfg.fullDownloadImages,
        text: `downloaded ${f.fullDownloads} whole images above the open-data resolution, one request each`,
      },
    ],
  };
}

function fmtScale(s: number): string {
  return s >= 1 ? '1' : `1/${Math.round(1 / s)}`;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

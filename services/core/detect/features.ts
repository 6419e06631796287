import { mean, standardDeviation } from 'simple-statistics';
import type { ImageGeometry, Protocol } from '../types.ts';
import { isPyramid, resGrid } from './cells.ts';
import { GAPS, MINUTES, type ClientState, type ImageState, type UaClassCount } from './clientState.ts';
import type { DetectorConfig } from './detectorConfig.ts';
import type { UserAgentClass } from './userAgent.ts';

/** Exposure of one image at its best protected band (or its finest band when none is protected). */
export interface ImageExposure {
  readonly protocol: Protocol;
  readonly imageId: string;
  readonly coverage: number;
  readonly scale: number;
  readonly longEdge: number;
  /** Output pixels revealed at that band (coverage × band pixels); 0 when the size is unknown. */
  readonly revealedPixels: number;
  readonly cells: number;
  readonly requests: number;
  readonly isProtected: boolean;
  /** Whole image revealed by a single full-image request at this band. */
  readonly byFullRequest: boolean;
}

/** Population baseline of tiles per active client per hour (robust). */
export interface VolumeBaseline {
  readonly median: number;
  readonly mad: number;
  readonly clients: number;
}

/** Measured evidence about one client; every number is explainable on its own. */
export interface Features {
  readonly tiles: number;
  readonly protectedTiles: number;
  readonly exposures: readonly ImageExposure[];
  readonly fullyExposed: number;
  /** Of those, images larger than BEYOND_VIEWING_SCREENS screens at that band: more than viewing reveals. */
  readonly fullyExposedBeyondViewing: number;
  readonly bestCoverage: number;
  /**
   * Images covered ≥ fullCoverage at a protected band with (almost) nothing fetched at coarser levels,
   * each tile once, in at most two visits: fetched whole at one resolution without
   * navigating, as sweeping scripts do and viewers never do.
   */
  readonly sweptImages: number;
  /**
   * Pixels revealed at protected bands beyond one screenful per image, in screens: images covered
   * ≥ fullCoverage count whole, partially covered images count half (viewers explore regions of many
   * images; reconstructing an image needs all of it).
   */
  readonly excessScreens: number;
  readonly fullDownloads: number;
  /** Share of tile transitions that extend a raster frontier by a small forward step. */
  readonly rasterFraction: number;
  readonly transitions: number;
  /** Share of tiles, over images with protected tiles, at the client's finest res of that image. */
  readonly depthOnlyFraction: number;
  /** Some image with protected tiles also has tiles ≥ 2 levels coarser (what viewers do). */
  readonly coarseLevels: boolean;
  /** Coefficient of variation of per-minute tile counts over the active span (bounded window). */
  readonly minuteCv: number;
  readonly activeMinutes: number;
  readonly medianGapMs: number;
  readonly madGapMs: number;
  readonly tilesPerMinute: number;
  /** Images with protected tiles whose descriptor was not fetched before their first tile. */
  readonly noDescriptorFraction: number;
  readonly refererNoneFraction: number;
  readonly refererProtocolFraction: number;
  readonly uaClass: UserAgentClass;
  readonly notModified: number;
  readonly pages: number;
  readonly assets: number;
  /**
   * Most images this client had open at once (visits overlapping in time) over the last SHARED_WINDOW_MS,
   * and the distinct user agents it used in that window.
   */
  readonly openImages: number;
  readonly userAgents: number;
  /**
   * Many sessions behind one address (campus or office NAT, carrier NAT, proxy): ≥ SHARED_OPEN_IMAGES
   * images open at once or ≥ SHARED_USER_AGENTS browsers. Its totals are a crowd's, so it is judged on
   * what one session does: volume and timing do not count, and one method signal is not enough.
   */
  readonly shared: boolean;
  /** Robust z-score of this hour's tiles against the population; 0 without a baseline. */
  readonly volumeZ: number;
  readonly hourTiles: number;
}

/**
 * Fetches per distinct finest-level tile above which a whole-image "sweep" is a crowd, not a sweep:
 * a script fetches each tile once (retries and parallel overlap stay well under 1.5); several viewers
 * behind one address re-fetch the details everyone zooms into.
 */
export const MAX_FETCHES_PER_TILE_IN_SWEEP = 1.5;

/**
 * Screens (cfg.screenPixels) beyond which an image revealed whole is more than viewing shows: a person
 * who opens an image of a screen or two and pans across it once has seen all of it.
 */
export const BEYOND_VIEWING_SCREENS = 2;

/**
 * Visits (clientState.ts VISIT_GAP_MS) in which a sweep fetches its image: one pass, or a pass resumed
 * once after a break. An image covered over many separate visits is people coming back to it through
 * one address or a shared cache, each seeing part of it.
 */
export const MAX_VISITS_IN_SWEEP = 2;

/** Window over which a client's concurrency (open images, user agents) is judged. */
export const SHARED_WINDOW_MS = 3600_000;
/** Images open at once that make a client a crowd: a person looks at one image (two while comparing). */
export const SHARED_OPEN_IMAGES = 3;
/** Distinct user agents in the window that make a client a crowd: a person has a browser or two. */
export const SHARED_USER_AGENTS = 3;

export type GeometryLookup = (protocol: Protocol, imageId: string) => ImageGeometry | undefined;
/** Per-image open-data long edge from the catalogue; undefined or 0 → the configured default. */
export type OpenDataLookup = (protocol: Protocol, imageId: string) => number | undefined;

/** Measures a client. Pure: reads the state, the geometry lookup and the baseline. */
export function measure(
  state: ClientState,
  geometryOf: GeometryLookup,
  baseline: VolumeBaseline | undefined,
  cfg: DetectorConfig,
  openDataOf?: OpenDataLookup,
): Features {
  const exposures: ImageExposure[] = [];
  let protectedTiles = 0;
  let depthTiles = 0;
  let depthAll = 0;
  let coarseLevels = false;
  let protectedImages = 0;
  let noDescriptor = 0;
  let transitions = 0;
  let forward = 0;
  let fullDownloads = 0;
  let excessPixels = 0;
  let sweptImages = 0;
  for (const img of state.images.values()) {
    transitions += img.transitions;
    forward += img.forward;
    const m = imageMemo(img, geometryOf(img.protocol, img.imageId), cfg, openDataOf?.(img.protocol, img.imageId) || cfg.openDataLongEdge);
    const exp = m.exposure;
    if (exp === null) continue;
    exposures.push(exp);
    if (exp.isProtected) {
      protectedTiles += m.protectedTiles;
      protectedImages++;
      if (!img.descriptorFirst) noDescriptor++;
      const finestTiles = m.finestTiles;
      depthTiles += finestTiles;
      // A sweep fetches each tile once; many fetches of the same tiles are many people behind one
      // address looking at the same details (shared salient areas), not one fetcher walking the image.
      const once = finestTiles <= MAX_FETCHES_PER_TILE_IN_SWEEP * Math.max(1, m.finestCells);
      if (exp.coverage >= cfg.fullCoverage && !exp.byFullRequest && finestTiles >= cfg.depthOnlyFraction * img.tiles && once && img.visits <= MAX_VISITS_IN_SWEEP)
        sweptImages++;
      depthAll += img.tiles;
      if (m.coarseLevels) coarseLevels = true;
      if (exp.byFullRequest) fullDownloads++;
      const excess = Math.max(0, exp.revealedPixels - cfg.screenPixels);
      excessPixels += exp.coverage >= cfg.fullCoverage ? excess : excess / 2;
    }
  }
  exposures.sort((a, b) => Number(b.isProtected) - Number(a.isProtected) || b.coverage * b.longEdge - a.coverage * a.longEdge);
  const whole = exposures.filter((e) => e.isProtected && e.coverage >= cfg.fullCoverage);
  const fullyExposed = whole.length;
  const fullyExposedBeyondViewing = whole.filter((e) => e.revealedPixels > BEYOND_VIEWING_SCREENS * cfg.screenPixels).length;
  const bestCoverage = exposures.reduce((m, e) => (e.isProtected ? Math.max(m, e.coverage) : m), 0);

  const timing = minuteTiming(state);
  // Gap median and MAD only show in the text of a regular-timing reason: computed when first read
  // (evaluate() reads the features at once, before the state changes again).
  let gapsMeasured: { median: number; mad: number } | null = null;
  const gaps = (): { median: number; mad: number } => (gapsMeasured ??= gapStats(state));

  const since = state.lastSeen - SHARED_WINDOW_MS;
  const openImages = maxOpenAtOnce(state, since);
  const userAgents = userAgentsSince(state, since);

  let volumeZ = 0;
  if (baseline && baseline.clients >= 10) {
    const spread = Math.max(1.4826 * baseline.mad, 1);
    volumeZ = (state.hourTiles - baseline.median) / spread;
  }
  return {
    tiles: state.tiles,
    protectedTiles,
    exposures,
    fullyExposed,
    fullyExposedBeyondViewing,
    bestCoverage,
    excessScreens: excessPixels / cfg.screenPixels,
    sweptImages,
    fullDownloads,
    rasterFraction: transitions > 0 ? forward / transitions : 0,
    transitions,
    depthOnlyFraction: depthAll > 0 ? depthTiles / depthAll : 0,
    coarseLevels,
    minuteCv: timing.cv,
    activeMinutes: timing.minutes,
    get medianGapMs() {
      return gaps().median;
    },
    get madGapMs() {
      return gaps().mad;
    },
    tilesPerMinute: timing.mean,
    noDescriptorFraction: protectedImages > 0 ? noDescriptor / protectedImages : 0,
    refererNoneFraction: state.tiles > 0 ? state.refererNone / state.tiles : 0,
    refererProtocolFraction: state.tiles > 0 ? state.refererProtocol / state.tiles : 0,
    uaClass: dominantClass(state.uaClasses),
    notModified: state.notModified,
    pages: state.pages,
    assets: state.assets,
    openImages,
    userAgents,
    shared: openImages >= SHARED_OPEN_IMAGES || userAgents >= SHARED_USER_AGENTS,
    volumeZ,
    hourTiles: state.hourTiles,
  };
}

/**
 * What measure() derives from one image's state alone, kept on the state and reused while nothing it
 * depends on changed: the image's state (every change to it counts a request), its geometry (the same
 * object while the catalogue or the learned extents hold it unchanged; a changed geometry is a new
 * object), the open-data long edge and the config. Incremental features: a client re-scored every 25
 * tiles recomputes only the images it touched since, not all of its (up to 256) images.
 */
export interface ImageMemo {
  readonly requests: number;
  readonly geom: ImageGeometry | undefined;
  readonly openDataLongEdge: number;
  readonly cfg: DetectorConfig;
  readonly exposure: ImageExposure | null;
  readonly protectedTiles: number;
  /** Tiles and distinct cells at the finest res requested, and whether tiles ≥ 2 levels coarser exist. */
  readonly finestTiles: number;
  readonly finestCells: number;
  readonly coarseLevels: boolean;
}

function imageMemo(img: ImageState, geom: ImageGeometry | undefined, cfg: DetectorConfig, openDataLongEdge: number): ImageMemo {
  const m = img.memo;
  if (m !== null && m.requests === img.requests && m.geom === geom && m.openDataLongEdge === openDataLongEdge && m.cfg === cfg) return m;
  const exp = imageExposure(img, geom, cfg, openDataLongEdge);
  let finestTiles = 0;
  let finestCells = 0;
  let coarseLevels = false;
  if (exp?.exposure.isProtected) {
    const finest = maxKey(img.tilesPerRes);
    finestTiles = img.tilesPerRes.get(finest) ?? 0;
    finestCells = img.cells.get(finest)?.size ?? 0;
    for (const res of img.tilesPerRes.keys()) if (res <= finest - 2) coarseLevels = true;
  }
  const next: ImageMemo = {
    requests: img.requests,
    geom,
    openDataLongEdge,
    cfg,
    exposure: exp?.exposure ?? null,
    protectedTiles: exp?.protectedTiles ?? 0,
    finestTiles,
    finestCells,
    coarseLevels,
  };
  img.memo = next;
  return next;
}

function imageExposure(
  img: ImageState,
  geom: ImageGeometry | undefined,
  cfg: DetectorConfig,
  openDataLongEdge: number,
): { exposure: ImageExposure; protectedTiles: number } | null {
  let best: ImageExposure | null = null;
  let protectedTiles = 0;
  const resKeys = new Set<number>([...img.cells.keys(), ...img.whole]);
  for (const res of resKeys) {
    const whole = img.whole.has(res);
    const cellCount = img.cells.get(res)?.size ?? 0;
    let coverage: number;
    let scale: number;
    let longEdge: number;
    let pixels = 0;
    const grid = geom ? resGrid(img.protocol, res, geom) : null;
    if (grid) {
      coverage = whole ? 1 : Math.min(1, cellCount / (grid.cols * grid.rows));
      scale = grid.scale;
      longEdge = grid.longEdge;
      pixels = grid.pixels;
    } else if (whole && !isPyramid(img.protocol)) {
      // IIIF whole-image request of unknown size: the scale is known from the URL, the size is not.
      coverage = 1;
      scale = 2 ** -(64 - res);
      longEdge = Number.POSITIVE_INFINITY;
    } else {
      continue;
    }
    const isProtected = scale >= cfg.protectedScale && longEdge > openDataLongEdge;
    if (isProtected) protectedTiles += img.tilesPerRes.get(res) ?? 0;
    const candidate: ImageExposure = {
      protocol: img.protocol,
      imageId: img.imageId,
      coverage,
      scale,
      longEdge: Number.isFinite(longEdge) ? longEdge : 0,
      revealedPixels: coverage * pixels,
      cells: cellCount,
      requests: img.requests,
      isProtected,
      byFullRequest: whole && img.fullRequests > 0,
    };
    if (best === null || rank(candidate) > rank(best)) best = candidate;
  }
  return best ? { exposure: best, protectedTiles } : null;
}

/** Protected bands first, then revealed pixels (coverage × long edge²). */
function rank(e: ImageExposure): number {
  return (e.isProtected ? 1e18 : 0) + e.coverage * (e.longEdge || 1) ** 2;
}

function maxKey(m: Map<number, number>): number {
  let best = Number.NEGATIVE_INFINITY;
  for (const k of m.keys()) if (k > best) best = k;
  return best;
}

function minuteTiming(state: ClientState): { cv: number; minutes: number; mean: number } {
  if (state.minuteHead < 0) return { cv: Number.POSITIVE_INFINITY, minutes: 0, mean: 0 };
  const from = Math.max(state.firstTileMinute, state.minuteHead - MINUTES + 1);
  const counts: number[] = [];
  for (let m = from; m <= state.minuteHead; m++) counts.push(state.minuteCounts[m % MINUTES] ?? 0);
  if (counts.length < 2) return { cv: Number.POSITIVE_INFINITY, minutes: counts.length, mean: counts[0] ?? 0 };
  const mu = mean(counts);
  return { cv: mu > 0 ? standardDeviation(counts) / mu : Number.POSITIVE_INFINITY, minutes: counts.length, mean: mu };
}

/** Scratch for the sorts below (one detector runs on one thread; nothing here is kept between calls). */
let scratchA = new Float64Array(GAPS);
let scratchB = new Float64Array(GAPS);
function scratch(n: number): void {
  if (scratchA.length >= n) return;
  let size = scratchA.length * 2;
  while (size < n) size *= 2;
  scratchA = new Float64Array(size);
  scratchB = new Float64Array(size);
}

/**
 * Median and median absolute deviation of the recent gaps, as simple-statistics' median and
 * medianAbsoluteDeviation compute them (numpy's linear quantile at 0.5: the middle value, or
 * lo + 0.5 · (hi − lo) between the two middle ones), from typed-array sorts instead of array copies.
 */
function gapStats(state: ClientState): { median: number; mad: number } {
  const n = Math.min(state.gapCount, GAPS);
  if (n === 0) return { median: 0, mad: 0 };
  const sorted = scratchA.subarray(0, n);
  sorted.set(state.gaps.subarray(0, n));
  sorted.sort();
  const med = medianOfSorted(sorted, n);
  const dev = scratchB.subarray(0, n);
  for (let i = 0; i < n; i++) dev[i] = Math.abs(state.gaps[i]! - med);
  dev.sort();
  return { median: med, mad: medianOfSorted(dev, n) };
}

/** simple-statistics quantileSorted(x, 0.5). */
function medianOfSorted(x: Float64Array, n: number): number {
  const idx = (n - 1) * 0.5;
  if (idx % 1 !== 0) {
    const lower = Math.floor(idx);
    const upper = Math.ceil(idx);
    const fraction = idx - lower;
    return x[lower]! + fraction * (x[upper]! - x[lower]!);
  }
  return x[idx]!;
}

/**
 * Most image visits open at the same moment among visits that reached `since` (a sweep over their spans
 * [start, last]). At equal times a visit closes before the next opens: back-to-back images are one at a time.
 */
function maxOpenAtOnce(state: ClientState, since: number): number {
  scratch(state.images.size);
  let n = 0;
  for (const img of state.images.values()) {
    if (img.lastTs < since || img.tiles === 0) continue;
    scratchA[n] = Math.max(img.visitStart, since);
    scratchB[n] = img.lastTs + 1;
    n++;
  }
  const opens = scratchA.subarray(0, n).sort();
  const closes = scratchB.subarray(0, n).sort();
  let open = 0;
  let most = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const t = opens[i]!;
    while (j < n && closes[j]! <= t) {
      open--;
      j++;
    }
    open++;
    if (open > most) most = open;
  }
  return most;
}

/** Distinct user agents used since `since`, the current one included. */
function userAgentsSince(state: ClientState, since: number): number {
  let n = 1;
  for (const [ua, last] of state.recentUas) if (last >= since && ua !== state.userAgent) n++;
  return n;
}

function dominantClass(counts: readonly UaClassCount[]): UserAgentClass {
  let best: UserAgentClass = 'empty';
  let n = -1;
  for (const c of counts) {
    if (c.n > n) {
      best = c.cls;
      n = c.n;
    }
  }
  return best;
}

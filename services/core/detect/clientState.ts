import type { ImageGeometry, Lineage, Protocol, TileRequest } from '../types.ts';
import { cellsOf } from './cells.ts';
import type { ImageMemo } from './features.ts';
import type { DetectorConfig } from './detectorConfig.ts';
import { ownString } from '../ownString.ts';
import { classifyUserAgent, type UserAgentClass } from './userAgent.ts';

/** One request as the detector sees it: the parsed record's context plus its tile geometry. */
export interface DetectorEvent {
  readonly ts: number;
  readonly ip: string;
  readonly userAgent: string;
  readonly referer: string;
  readonly status: number;
  readonly request: TileRequest;
  /** Kind of the request the Referer points to ('page', 'tile', 'info', …) or 'none' when absent. */
  readonly refererKind: RefererKind;
  readonly lineage: Lineage;
}

export type RefererKind = 'none' | 'page' | 'protocol' | 'other';

/** Evidence about one (client, image). */
export interface ImageState {
  readonly protocol: Protocol;
  readonly imageId: string;
  requests: number;
  tiles: number;
  firstTs: number;
  lastTs: number;
  /** Separate visits to the image: a request more than VISIT_GAP_MS after the previous one starts a new one. */
  visits: number;
  /** Event time of the current visit's first request. */
  visitStart: number;
  /** A descriptor (info.json, .dzi, …) was fetched before the first tile. */
  descriptorFirst: boolean;
  descriptorSeen: boolean;
  /** res → revealed cells. */
  readonly cells: Map<number, Set<number>>;
  /** res values revealed whole by one request (IIIF full-image requests). */
  readonly whole: Set<number>;
  /** res → tiles requested (with repeats). */
  readonly tilesPerRes: Map<number, number>;
  fullRequests: number;
  /** Raster-order tracking at the res of the last tile. */
  lastRes: number;
  frontier: number;
  transitions: number;
  forward: number;
  /** What measure() last derived from this image (features.ts), reused while the image and its geometry are unchanged. */
  memo: ImageMemo | null;
}

/**
 * Quiet time on one image after which the next request is a new visit. Scripts sweep an image in one
 * pass (even one tile a minute never pauses this long); people come back to it.
 */
export const VISIT_GAP_MS = 30 * 60_000;

/** Distinct user agents remembered per client (clientState.recentUas). */
export const MAX_RECENT_UAS = 16;

/** Rolling per-minute tile counts over the last MINUTES minutes of event time. */
export const MINUTES = 120;
export const GAPS = 256;

/** Requests of one user-agent class. */
export interface UaClassCount {
  readonly cls: UserAgentClass;
  n: number;
}

/** Everything the detector keeps about one client. Mutable, owned by one streaming detector. */
export interface ClientState {
  readonly key: string;
  readonly ip: string;
  userAgent: string;
  /** Class of `userAgent`, recomputed only when the user agent changes. */
  uaClass: UserAgentClass;
  /**
   * User agents seen from this client → event time they were last used before another one replaced them
   * (the current one is live at `lastSeen`). Bounded at MAX_RECENT_UAS, least recent dropped: enough to tell one
   * person from a crowd of browsers.
   */
  readonly recentUas: Map<string, number>;
  /** Requests per user-agent class, in the order the classes were first seen (the dominant class's ties go to the first). */
  readonly uaClasses: UaClassCount[];
  /** The entry of `uaClasses` counting the current class. */
  uaCount: UaClassCount | null;
  firstSeen: number;
  lastSeen: number;
  /** Kafka partition of the client's latest request (-1 for files): which member owns the client. */
  partition: number;
  requests: number;
  tiles: number;
  pages: number;
  descriptors: number;
  assets: number;
  notModified: number;
  errors: number;
  refererNone: number;
  refererProtocol: number;
  readonly images: Map<string, ImageState>;
  /** The most recently used entry of `images` (the last in its order), or null. */
  lastImage: ImageState | null;
  /** Tiles per event-time minute; index = minute % MINUTES; `minuteHead` is the newest minute written. */
  readonly minuteCounts: Int32Array;
  minuteHead: number;
  firstTileMinute: number;
  /** Gaps between successive tiles in ms (ring). */
  readonly gaps: Float64Array;
  gapCount: number;
  lastTileTs: number;
  /** Tiles in the current event-time hour and which hour that is. */
  hourTiles: number;
  hour: number;
  /** The detector's baseline period in which this client last revealed a tile (streamingDetector.ts). */
  baselineMark: number;
  lastEvalTiles: number;
  lastEvalTs: number;
  source: string;
  firstLine: number;
  lastLine: number;
}

export function newClientState(key: string, ev: DetectorEvent): ClientState {
  return {
    key: ownString(key),
    ip: ownString(ev.ip),
    userAgent: ownString(ev.userAgent),
    uaClass: classifyUserAgent(ev.userAgent),
    recentUas: new Map(),
    uaClasses: [],
    uaCount: null,
    firstSeen: ev.ts,
    lastSeen: ev.ts,
    partition: ev.lineage.partition,
    requests: 0,
    tiles: 0,
    pages: 0,
    descriptors: 0,
    assets: 0,
    notModified: 0,
    errors: 0,
    refererNone: 0,
    refererProtocol: 0,
    images: new Map(),
    lastImage: null,
    minuteCounts: new Int32Array(MINUTES),
    minuteHead: -1,
    firstTileMinute: -1,
    gaps: new Float64Array(GAPS),
    gapCount: 0,
    lastTileTs: -1,
    hourTiles: 0,
    hour: Math.floor(ev.ts / 3600_000),
    baselineMark: -1,
    lastEvalTiles: 0,
    lastEvalTs: ev.ts,
    source: ownString(ev.lineage.source),
    firstLine: ev.lineage.line,
    lastLine: ev.lineage.line,
  };
}

function newImageState(protocol: Protocol, imageId: string, ts: number): ImageState {
  return {
    protocol,
    imageId: ownString(imageId),
    requests: 0,
    tiles: 0,
    firstTs: ts,
    lastTs: ts,
    visits: 1,
    visitStart: ts,
    descriptorFirst: false,
    descriptorSeen: false,
    cells: new Map(),
    whole: new Set(),
    tilesPerRes: new Map(),
    fullRequests: 0,
    lastRes: Number.NaN,
    frontier: -1,
    transitions: 0,
    forward: 0,
    memo: null,
  };
}

export function imageKey(protocol: Protocol, imageId: string): string {
  return `${protocol}|${imageId}`;
}

/**
 * Folds one event into a client's state. Pure apart from mutating `state`; `geom` is the image's
 * geometry as known now (catalogue or learned), used only to linearise tile order.
 * Returns true when the event revealed image content (a successful tile/region/full request).
 */
export function observe(state: ClientState, ev: DetectorEvent, geom: ImageGeometry | undefined, cfg: DetectorConfig): boolean {
  const req = ev.request;
  state.requests++;
  if (ev.userAgent !== state.userAgent) {
    noteUserAgentChange(state, state.lastSeen);
    state.userAgent = ownString(ev.userAgent);
    state.uaClass = classifyUserAgent(ev.userAgent);
  }
  state.lastSeen = Math.max(state.lastSeen, ev.ts);
  let uc = state.uaCount;
  if (uc === null || uc.cls !== state.uaClass) {
    uc = state.uaClasses.find((c) => c.cls === state.uaClass) ?? null;
    if (uc === null) {
      uc = { cls: state.uaClass, n: 0 };
      state.uaClasses.push(uc);
    }
    state.uaCount = uc;
  }
  uc.n++;
  if (ev.lineage.source === state.source) state.lastLine = Math.max(state.lastLine, ev.lineage.line);
  if (ev.status === 304) state.notModified++;
  if (ev.status >= 400) state.errors++;
  switch (req.kind) {
    case 'page':
      state.pages++;
      return false;
    case 'asset':
      state.assets++;
      return false;
    case 'other':
      return false;
    default:
      break;
  }
  if (req.imageId === '') return false;
  let img = state.lastImage;
  // The image of the client's previous request is already the most recent in `images`: no key, no re-insert.
  if (img === null || img.imageId !== req.imageId || img.protocol !== req.protocol) {
    const ikey = imageKey(req.protocol, req.imageId);
    const known = state.images.get(ikey);
    if (!known) {
      if (state.images.size >= cfg.maxImagesPerClient) evictOldestImage(state);
      img = newImageState(req.protocol, req.imageId, ev.ts);
      state.images.set(ownString(ikey), img);
    } else {
      // Map order = recency order: re-insert so the least recently used image is first.
      img = known;
      state.images.delete(ikey);
      state.images.set(ikey, img);
    }
    state.lastImage = img;
  }
  img.requests++;
  if (ev.ts - img.lastTs > VISIT_GAP_MS) {
    img.visits++;
    img.visitStart = ev.ts;
  }
  img.lastTs = Math.max(img.lastTs, ev.ts);
  if (req.kind === 'info') {
    state.descriptors++;
    if (img.tiles === 0) img.descriptorFirst = true;
    img.descriptorSeen = true;
    return false;
  }
  // Only 2xx responses reveal pixels; a 304 means the client already had them.
  if (ev.status < 200 || ev.status >= 300) return false;
  const mark = cellsOf(req, geom);
  if (!mark) return false;

  img.tiles++;
  state.tiles++;
  if (ev.refererKind === 'none') state.refererNone++;
  else if (ev.refererKind === 'protocol') state.refererProtocol++;
  if (req.kind === 'full') img.fullRequests++;
  img.tilesPerRes.set(mark.res, (img.tilesPerRes.get(mark.res) ?? 0) + 1);
  if (mark.cells === 'whole') {
    img.whole.add(mark.res);
  } else {
    let set = img.cells.get(mark.res);
    if (!set) {
      set = new Set();
      img.cells.set(mark.res, set);
    }
    for (const c of mark.cells) set.add(c);
  }
  trackOrder(img, mark.res, mark.order, cfg.rasterWindow);
  trackTiming(state, ev.ts);
  return true;
}

/** Records the outgoing user agent as last used at `ts`; the current one is live until the next change. */
function noteUserAgentChange(state: ClientState, ts: number): void {
  const ua = state.userAgent;
  state.recentUas.delete(ua);
  state.recentUas.set(ua, ts);
  if (state.recentUas.size > MAX_RECENT_UAS) {
    const oldest = state.recentUas.keys().next();
    if (!oldest.done) state.recentUas.delete(oldest.value);
  }
}

/** Raster order: does each tile extend the frontier (largest linear index so far) by a small forward step? */
function trackOrder(img: ImageState, res: number, order: number, window: number): void {
  if (res !== img.lastRes) {
    img.lastRes = res;
    img.frontier = order;
    return;
  }
  img.transitions++;
  const step = order - img.frontier;
  if (step > 0 && step <= window) img.forward++;
  if (order > img.frontier) img.frontier = order;
}

function trackTiming(state: ClientState, ts: number): void {
  if (state.lastTileTs >= 0) {
    state.gaps[state.gapCount % GAPS] = Math.max(0, ts - state.lastTileTs);
    state.gapCount++;
  }
  state.lastTileTs = Math.max(state.lastTileTs, ts);
  const minute = Math.floor(ts / 60_000);
  if (state.firstTileMinute < 0) state.firstTileMinute = minute;
  if (minute > state.minuteHead) {
    // Zero the minutes skipped since the last write (bounded by the ring size).
    const from = state.minuteHead < 0 ? minute : state.minuteHead + 1;
    for (let m = Math.max(from, minute - MINUTES + 1); m <= minute; m++) state.minuteCounts[m % MINUTES] = 0;
    state.minuteHead = minute;
  }
  if (minute > state.minuteHead - MINUTES) state.minuteCounts[minute % MINUTES]! += 1;
  const hour = Math.floor(ts / 3600_000);
  if (hour !== state.hour) {
    state.hour = hour;
    state.hourTiles = 0;
  }
  state.hourTiles++;
}

function evictOldestImage(state: ClientState): void {
  const first = state.images.keys().next();
  if (!first.done) state.images.delete(first.value);
}

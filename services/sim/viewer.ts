/**
 * An OpenSeadragon-like viewer: which tiles a browser requests for a view, and the people driving it.
 *
 * - home view: the whole image fitted to the viewport;
 * - per view, levels from the coarsest useful one (long edge ≥ 128 px) to the one that satisfies the
 *   display density (zoom × devicePixelRatio), coarse first, nearest-centre first within a level;
 * - the browser cache: a tile fetched once in a session is not requested again;
 * - zoom ×2 per click, ×1.2 per scroll notch, about the pointer; pans of a fraction of the viewport;
 * - interest is centre-biased and drawn to the image's shared salient points.
 */
import {
  type CatalogImage,
  SITE_ORIGIN,
  cols,
  descriptorBytes,
  descriptorUrl,
  pagePath,
  pageUrl,
  rows,
  span,
  tileBytes,
  tileUrl,
} from './catalog.ts';
import { type Client, type Clock, type SimEvent, req } from './events.ts';
import type { Rng } from './rng.ts';

export interface Viewport {
  readonly w: number;
  readonly h: number;
  readonly dpr: number;
}

export interface View {
  cx: number;
  cy: number;
  /** CSS pixels per full-resolution pixel. */
  zoom: number;
}

export interface TileRef {
  readonly k: number;
  readonly c: number;
  readonly r: number;
}

const DESKTOP_VIEWPORTS: readonly Viewport[] = [
  { w: 1920, h: 1080, dpr: 1 },
  { w: 1536, h: 864, dpr: 1.25 },
  { w: 1366, h: 768, dpr: 1 },
  { w: 1440, h: 900, dpr: 2 },
  { w: 2560, h: 1440, dpr: 1 },
  { w: 1280, h: 720, dpr: 1.5 },
];
const MOBILE_VIEWPORTS: readonly Viewport[] = [
  { w: 390, h: 844, dpr: 3 },
  { w: 412, h: 915, dpr: 2.6 },
  { w: 820, h: 1180, dpr: 2 },
];

export function pickViewport(rng: Rng, ua: string): Viewport {
  const mobile = /iPhone|iPad|Android|Mobile/.test(ua);
  const vp = rng.pick(mobile ? MOBILE_VIEWPORTS : DESKTOP_VIEWPORTS);
  // Viewer element is a bit smaller than the window; density is capped at 2 as OSD effectively does.
  return { w: Math.round(vp.w * 0.95), h: Math.round(vp.h * 0.8), dpr: Math.min(2, vp.dpr) };
}

/** Viewport of a managed desktop (lab, office, classroom): a plain 1080p or 768p monitor, density 1. */
export function pickManagedViewport(rng: Rng): Viewport {
  const vp = rng.pick(DESKTOP_VIEWPORTS.filter((v) => v.dpr === 1));
  return { w: Math.round(vp.w * 0.95), h: Math.round(vp.h * 0.8), dpr: 1 };
}

const MIN_COARSE_EDGE = 128;

export class ViewerState {
  readonly fetched = new Set<number>();
  readonly homeZoom: number;
  readonly maxZoom: number;
  /** Coarsest level the viewer draws (long edge ≥ 128 px). */
  readonly kTop: number;

  constructor(
    readonly img: CatalogImage,
    readonly vp: Viewport,
  ) {
    this.homeZoom = Math.min(vp.w / img.width, vp.h / img.height);
    // OSD maxZoomPixelRatio 1.1: never more than 1.1 device pixels per image pixel.
    this.maxZoom = Math.max(this.homeZoom, 1.1 / vp.dpr);
    const longEdge = Math.max(img.width, img.height);
    this.kTop = Math.max(0, Math.min(img.maxK, Math.floor(Math.log2(longEdge / MIN_COARSE_EDGE))));
  }

  home(): View {
    return { cx: this.img.width / 2, cy: this.img.height / 2, zoom: this.homeZoom };
  }

  /** Finest level needed: the coarsest k with 2^−k ≥ zoom × dpr. */
  kFine(view: View): number {
    const need = Math.min(1, view.zoom * this.vp.dpr);
    return Math.max(0, Math.min(this.kTop, Math.floor(Math.log2(1 / need) + 1e-9)));
  }

  clamp(view: View): View {
    const zoom = Math.min(this.maxZoom, Math.max(this.homeZoom, view.zoom));
    return {
      zoom,
      cx: Math.min(this.img.width, Math.max(0, view.cx)),
      cy: Math.min(this.img.height, Math.max(0, view.cy)),
    };
  }

  /** Tiles to request for a view, in request order; marks them fetched. */
  load(view: View): TileRef[] {
    const img = this.img;
    const hw = this.vp.w / (2 * view.zoom);
    const hh = this.vp.h / (2 * view.zoom);
    const x0 = Math.max(0, view.cx - hw);
    const x1 = Math.min(img.width, view.cx + hw);
    const y0 = Math.max(0, view.cy - hh);
    const y1 = Math.min(img.height, view.cy + hh);
    if (x1 <= x0 || y1 <= y0) return [];
    const kf = this.kFine(view);
    // Leaflet (XYZ) draws one zoom level only; OSD blends coarse levels first.
    const kc = img.protocol === 'xyz' ? kf : this.kTop;
    const out: TileRef[] = [];
    for (let k = kc; k >= kf; k--) {
      const s = span(img, k);
      const c0 = Math.floor(x0 / s);
      const c1 = Math.min(cols(img, k) - 1, Math.floor((x1 - 1e-6) / s));
      const r0 = Math.floor(y0 / s);
      const r1 = Math.min(rows(img, k) - 1, Math.floor((y1 - 1e-6) / s));
      const level: { ref: TileRef; d: number }[] = [];
      for (let r = r0; r <= r1; r++) {
        for (let c = c0; c <= c1; c++) {
          const key = k * 16777216 + r * 4096 + c;
          if (this.fetched.has(key)) continue;
          this.fetched.add(key);
          const dx = (c + 0.5) * s - view.cx;
          const dy = (r + 0.5) * s - view.cy;
          level.push({ ref: { k, c, r }, d: dx * dx + dy * dy });
        }
      }
      level.sort((a, b) => a.d - b.d || a.ref.r - b.ref.r || a.ref.c - b.ref.c);
      for (const l of level) out.push(l.ref);
    }
    return out;
  }
}

/** A point a person is interested in: a shared salient point or a centre-biased one. */
export function interestPoint(rng: Rng, img: CatalogImage, near?: View): { x: number; y: number } {
  const u = rng.float();
  if (u < 0.55 && img.salient.length > 0) {
    const p = rng.pick(img.salient);
    const sd = Math.max(img.width, img.height) * 0.03;
    return { x: p.x + rng.normal(0, sd), y: p.y + rng.normal(0, sd) };
  }
  if (u < 0.8 && near) {
    return { x: near.cx + rng.normal(0, 120 / near.zoom), y: near.cy + rng.normal(0, 120 / near.zoom) };
  }
  return { x: img.width * (0.5 + rng.normal(0, 0.18)), y: img.height * (0.5 + rng.normal(0, 0.18)) };
}

/** Zoom by `f` about point p (p stays fixed on screen). */
export function zoomAbout(v: View, f: number, p: { x: number; y: number }): View {
  return { zoom: v.zoom * f, cx: p.x + (v.cx - p.x) / f, cy: p.y + (v.cy - p.y) / f };
}

/** The next view a casual viewer chooses. */
export function nextHumanView(rng: Rng, st: ViewerState, v: View): View {
  const depth = Math.log2(v.zoom / st.homeZoom); // 0 at home
  const deep = depth >= 2;
  const action = rng.weighted(
    ['click', 'scrollIn', 'scrollOut', 'pan', 'zoomOut', 'home'],
    deep ? [0.2, 0.2, 0.12, 0.38, 0.07, 0.03] : [0.45, 0.35, 0.03, 0.15, 0.01, 0.01],
  );
  switch (action) {
    case 'click':
      return st.clamp(zoomAbout(v, 2, interestPoint(rng, st.img, v)));
    case 'scrollIn':
      return st.clamp(zoomAbout(v, 1.2 ** rng.int(1, 5), interestPoint(rng, st.img, v)));
    case 'scrollOut':
      return st.clamp(zoomAbout(v, 1.2 ** -rng.int(1, 4), { x: v.cx, y: v.cy }));
    case 'zoomOut':
      return st.clamp({ ...v, zoom: v.zoom / 2 });
    case 'home':
      return st.home();
    default: {
      // Pan: a fraction of the viewport, drawn towards something interesting.
      const target = interestPoint(rng, st.img, v);
      const frac = rng.range(0.2, 0.8);
      const dx = target.x - v.cx;
      const dy = target.y - v.cy;
      const len = Math.hypot(dx, dy) || 1;
      const step = (frac * Math.min(st.vp.w, st.vp.h)) / v.zoom;
      const m = Math.min(1, step / len);
      return st.clamp({ zoom: v.zoom, cx: v.cx + dx * m + rng.normal(0, step * 0.2), cy: v.cy + dy * m + rng.normal(0, step * 0.2) });
    }
  }
}

/** Requests for a list of tiles fired as one viewport burst (6–30 tiles within ~300 ms). */
export function* tileBurst(
  rng: Rng,
  cl: Client,
  clock: Clock,
  img: CatalogImage,
  tiles: readonly TileRef[],
  referer: string,
  revalidate = 0,
): Generator<SimEvent, void, undefined> {
  for (const tr of tiles) {
    clock.t += rng.range(6, 40);
    const status = revalidate > 0 && rng.chance(revalidate) ? 304 : 200;
    yield req(cl, Math.round(clock.t), tileUrl(img, tr.k, tr.c, tr.r, true), status, tileBytes(img, tr.k, tr.c, tr.r, rng), referer, img.id);
  }
}

const ASSETS: readonly { path: string; bytes: number }[] = [
  { path: '/static/css/site.css', bytes: 41873 },
  { path: '/static/js/app.js', bytes: 93211 },
  { path: '/static/viewer/openseadragon.min.js', bytes: 258446 },
  { path: '/static/img/logo.svg', bytes: 6120 },
  { path: '/static/viewer/images/zoomin_rest.png', bytes: 1112 },
  { path: '/static/viewer/images/zoomout_rest.png', bytes: 1054 },
  { path: '/static/viewer/images/home_rest.png', bytes: 1207 },
  { path: '/static/viewer/images/fullpage_rest.png', bytes: 1160 },
];
const LEAFLET_ASSETS: readonly { path: string; bytes: number }[] = [
  { path: '/static/css/site.css', bytes: 41873 },
  { path: '/static/maps/leaflet.js', bytes: 147552 },
  { path: '/static/maps/leaflet.css', bytes: 14806 },
];

const SEARCH_TERMS = ['portrait', 'map', 'rembrandt', 'landscape', 'manuscript', 'harbour', 'flowers', 'drawing', 'city', 'ship'];

export function searchPath(rng: Rng): string {
  return `/collection/search?q=${rng.pick(SEARCH_TERMS)}`;
}

export interface SessionProfile {
  /** Returning visitor: cached assets (absent or 304) and some 304 revalidations of tiles. */
  readonly returning: boolean;
  /** Views after the home view, per image. */
  readonly steps: (rng: Rng) => number;
  /** Think time between views, ms. */
  readonly think: (rng: Rng) => number;
  /** Optional custom view policy (researchers). */
  readonly next?: (rng: Rng, st: ViewerState, v: View, step: number) => View;
  /** Arrived from a search engine / the site search / nowhere / a link on `linkFrom`. */
  readonly entry?: 'google' | 'search' | 'direct' | 'link';
  /** Referer of the first page when `entry` is 'link' (a course page, another site). */
  readonly linkFrom?: string;
  /** Fixed viewport (identical managed machines); default drawn from the user agent. */
  readonly viewport?: Viewport;
  /** Time spent after each image before the next one (reading, other work), ms; default 4–60 s. */
  readonly pause?: (rng: Rng) => number;
  /** Open no further image once the session clock has passed this epoch ms (the first always opens). */
  readonly stopAfter?: number;
}

/** Think time of casual viewers: log-normal, median 6 s, 1.5 s–3 min. */
export const casualThink = (rng: Rng): number => Math.min(180_000, Math.max(1500, rng.logNormal(6000, 0.9)));

/**
 * Open an item the way a browser does: (rarely a stale link first) the item page, on the session's
 * first image the viewer assets and favicon (cached or revalidated for returning visitors), then the
 * descriptor. Returns the page URL, the Referer of the tiles that follow.
 */
export function* openItem(
  rng: Rng,
  cl: Client,
  clock: Clock,
  img: CatalogImage,
  referer: string,
  first: boolean,
  returning: boolean,
): Generator<SimEvent, string, undefined> {
  if (rng.chance(0.01)) {
    // A stale link: 404, then the right page.
    yield req(cl, Math.round(clock.t), `/collection/item/${rng.int(90000, 99999)}`, 404, 3120, referer, null);
    clock.t += rng.range(2000, 8000);
  }
  const page = pageUrl(img);
  yield req(cl, Math.round(clock.t), pagePath(img), 200, rng.int(24000, 61000), referer, img.id);
  if (first) {
    const assets = img.protocol === 'xyz' ? LEAFLET_ASSETS : ASSETS;
    for (const a of assets) {
      clock.t += rng.range(5, 60);
      if (!returning) yield req(cl, Math.round(clock.t), a.path, 200, a.bytes, page, null);
      else if (rng.chance(0.5)) yield req(cl, Math.round(clock.t), a.path, 304, 0, page, null);
    }
    clock.t += rng.range(5, 60);
    if (!returning) yield req(cl, Math.round(clock.t), '/favicon.ico', 200, 5430, page, null);
    if (/iPhone|iPad/.test(cl.ua) && !returning) {
      yield req(cl, Math.round(clock.t + 3), '/apple-touch-icon.png', 404, 3120, '', null);
    }
  }
  clock.t += rng.range(150, 900);
  const desc = descriptorUrl(img);
  if (desc) {
    const st = returning && first && rng.chance(0.5) ? 304 : 200;
    yield req(cl, Math.round(clock.t), desc, st, descriptorBytes(img), page, img.id);
    clock.t += rng.range(40, 300);
  }
  return page;
}

/**
 * One browsing session of a person: item pages, viewer assets, descriptor, home view, zoom/pan steps,
 * over several images.
 */
export function* viewerSession(
  rng: Rng,
  cl: Client,
  start: number,
  images: readonly CatalogImage[],
  prof: SessionProfile,
): Generator<SimEvent, void, undefined> {
  const clock: Clock = { t: start };
  const vp = prof.viewport ?? pickViewport(rng, cl.ua);
  const entry = prof.entry ?? rng.weighted(['google', 'search', 'direct'] as const, [0.4, 0.3, 0.3]);
  let referer = entry === 'google' ? 'https://www.google.com/' : entry === 'link' ? (prof.linkFrom ?? '') : '';
  if (entry === 'search') {
    const sp = searchPath(rng);
    yield req(cl, Math.round(clock.t), sp, 200, rng.int(18000, 32000), '', null);
    clock.t += rng.range(3000, 25000);
    referer = SITE_ORIGIN + sp;
  }
  let first = true;
  for (const img of images) {
    if (!first && prof.stopAfter !== undefined && clock.t >= prof.stopAfter) return;
    const page = yield* openItem(rng, cl, clock, img, referer, first, prof.returning);
    const reval = prof.returning && first ? 0.6 : 0;
    const viewer = new ViewerState(img, vp);
    let view = viewer.home();
    yield* tileBurst(rng, cl, clock, img, viewer.load(view), page, reval);
    const steps = prof.steps(rng);
    for (let s = 0; s < steps; s++) {
      clock.t += prof.think(rng);
      view = prof.next ? prof.next(rng, viewer, view, s) : nextHumanView(rng, viewer, view);
      yield* tileBurst(rng, cl, clock, img, viewer.load(view), page);
    }
    clock.t += prof.pause ? prof.pause(rng) : rng.range(4000, 60000);
    referer = page;
    first = false;
  }
}

/**
 * A researcher's policy: a few regions of one image, deep zoom, small overlapping pans around each,
 * occasionally zooming out to re-orient.
 */
export function researcherPolicy(rng: Rng, img: CatalogImage): SessionProfile['next'] {
  const nRegions = rng.int(2, 4);
  const regions = Array.from({ length: nRegions }, () => interestPoint(rng, img));
  let region = 0;
  let stepsInRegion = 0;
  return (r, st, v, step) => {
    if (step === 0 || stepsInRegion > r.int(12, 30)) {
      region = (region + (step === 0 ? 0 : 1)) % regions.length;
      stepsInRegion = 0;
      const p = regions[region] ?? { x: img.width / 2, y: img.height / 2 };
      return st.clamp({ cx: p.x, cy: p.y, zoom: st.maxZoom * r.range(0.35, 1) });
    }
    stepsInRegion++;
    const u = r.float();
    if (u < 0.12) return st.clamp({ ...v, zoom: v.zoom / 2 });
    if (u < 0.3) return st.clamp(zoomAbout(v, 1.2 ** r.int(1, 3), { x: v.cx + r.normal(0, 80 / v.zoom), y: v.cy + r.normal(0, 80 / v.zoom) }));
    const p = regions[region] ?? { x: v.cx, y: v.cy };
    const reach = (Math.min(st.vp.w, st.vp.h) * r.range(0.2, 0.6)) / v.zoom;
    // Wander around the region, pulled back towards it.
    return st.clamp({
      zoom: Math.max(v.zoom, st.maxZoom * 0.3),
      cx: v.cx + r.normal(0, reach) + (p.x - v.cx) * 0.3,
      cy: v.cy + r.normal(0, reach) + (p.y - v.cy) * 0.3,
    });
  };
}

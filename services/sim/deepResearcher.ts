/**
 * A researcher who studies whole images at full resolution for hours (a manuscript read line by line,
 * a map searched street by street): the hardest benign case, because over a session the tiles they
 * fetch cover nearly every deepest-level tile of an image, often in near-raster order.
 *
 * Still a person in a browser: each view is a viewport burst through the viewer model (coarse levels
 * first, Referer = the item page, browser UA), with think time between views, overlapping pans that
 * wobble, zoom changes, glances back at earlier parts, breaks, and page reloads after a break that
 * revalidate what is shown again.
 */
import { type CatalogImage, SITE_ORIGIN } from './catalog.ts';
import { type Client, type Clock, type SimEvent, req } from './events.ts';
import type { Rng } from './rng.ts';
import { type View, ViewerState, openItem, pickViewport, searchPath, tileBurst } from './viewer.ts';

const MIN = 60_000;

export type SweepPattern = 'reading' | 'serpentine' | 'columns';

export interface DeepResearchParams {
  /** No new image is opened after this long (ms). */
  readonly durationMs: number;
  /** Median think time per view (ms); log-normal, 2 s–3 min, plus occasional note-taking pauses. */
  readonly thinkMedianMs: number;
  /** Overlap between neighbouring views, as a fraction of the viewport. */
  readonly overlap: number;
  readonly pattern: SweepPattern;
  /** Sweep zoom as a fraction of the viewer's maximum (≥ 0.6 keeps the deepest level in view). */
  readonly zoomFrac: number;
  /** Reading list, in order; the first is swept completely, later ones may be left part-way. */
  readonly images: readonly CatalogImage[];
}

/**
 * Draw a researcher: 1.5–5 h, a reading list of up to 12 large images (drawn by area; they get as far
 * as the time allows), one sweep pattern, their own pace, overlap and zoom.
 */
export function drawDeepResearchParams(r: Rng, catalog: readonly CatalogImage[]): DeepResearchParams {
  const still = catalog.filter((i) => i.protocol !== 'xyz');
  const big = still.filter((i) => Math.max(i.width, i.height) >= 8000);
  const pool = big.length >= 5 ? big : [...still].sort((a, b) => b.width * b.height - a.width * a.height).slice(0, 8);
  const n = Math.min(pool.length, 12);
  const images: CatalogImage[] = [];
  const left = pool.slice();
  for (let i = 0; i < n; i++) {
    const img = r.weighted(
      left,
      left.map((x) => x.width * x.height),
    );
    images.push(img);
    left.splice(left.indexOf(img), 1);
  }
  return {
    durationMs: r.range(1.5, 5) * 60 * MIN,
    thinkMedianMs: r.range(9000, 22_000),
    overlap: r.range(0.1, 0.35),
    pattern: r.weighted(['reading', 'serpentine', 'columns'] as const, [0.45, 0.35, 0.2]),
    zoomFrac: r.range(0.6, 1),
    images,
  };
}

interface Pos {
  readonly cx: number;
  readonly cy: number;
  /** Last view of a line (row or column): a natural moment to zoom out for context. */
  readonly lineEnd: boolean;
}

/** View centres along one axis so that views of length v cover [0, L] with the given overlap. */
function centres(L: number, v: number, overlap: number): number[] {
  if (v >= L) return [L / 2];
  const step = v * (1 - overlap);
  const n = Math.ceil((L - v) / step) + 1;
  return Array.from({ length: n }, (_, i) => Math.min(L - v / 2, v / 2 + i * step));
}

/** The view centres of a full sweep of a W×H image with views of vw×vh image pixels. */
export function sweepPositions(W: number, H: number, vw: number, vh: number, overlap: number, pattern: SweepPattern): Pos[] {
  const xs = centres(W, vw, overlap);
  const ys = centres(H, vh, overlap);
  const out: Pos[] = [];
  if (pattern === 'columns') {
    for (const x of xs) ys.forEach((y, j) => out.push({ cx: x, cy: y, lineEnd: j === ys.length - 1 }));
    return out;
  }
  ys.forEach((y, i) => {
    const row = pattern === 'serpentine' && i % 2 === 1 ? [...xs].reverse() : xs;
    row.forEach((x, j) => out.push({ cx: x, cy: y, lineEnd: j === row.length - 1 }));
  });
  return out;
}

export function* deepResearcherActor(rng: Rng, cl: Client, start: number, p: DeepResearchParams): Generator<SimEvent, void, undefined> {
  const vp = pickViewport(rng, cl.ua);
  const clock: Clock = { t: start };
  const end = start + p.durationMs;
  const think = (): number =>
    Math.min(3 * MIN, Math.max(2000, rng.logNormal(p.thinkMedianMs, 0.6))) + (rng.chance(0.04) ? rng.range(1, 6) * MIN : 0);
  const entry = rng.weighted(['google', 'search', 'direct'] as const, [0.2, 0.4, 0.4]);
  let referer = entry === 'google' ? 'https://www.google.com/' : '';
  if (entry === 'search') {
    const sp = searchPath(rng);
    yield req(cl, Math.round(clock.t), sp, 200, rng.int(18000, 32000), '', null);
    clock.t += rng.range(3000, 25000);
    referer = SITE_ORIGIN + sp;
  }
  let nextBreak = start + rng.range(40, 100) * MIN;
  let firstImage = true;
  for (const [n, img] of p.images.entries()) {
    if (n > 0 && clock.t >= end) return;
    const from = referer;
    let page = yield* openItem(rng, cl, clock, img, from, firstImage, false);
    let st = new ViewerState(img, vp);
    let view: View = st.home();
    yield* tileBurst(rng, cl, clock, img, st.load(view), page);
    clock.t += think();
    const z = st.clamp({ ...view, zoom: st.maxZoom * p.zoomFrac }).zoom;
    const vw = vp.w / z;
    const vh = vp.h / z;
    const positions = sweepPositions(img.width, img.height, vw, vh, p.overlap, p.pattern);
    const stopAt = n === 0 || rng.chance(0.6) ? positions.length : Math.max(1, Math.floor(positions.length * rng.range(0.3, 0.9)));
    // Dive towards the first view in a couple of zoom steps (coarser levels on the way).
    const p0 = positions[0] ?? { cx: img.width / 2, cy: img.height / 2 };
    for (const f of [0.35, 0.7]) {
      view = st.clamp({ cx: view.cx + (p0.cx - view.cx) * f, cy: view.cy + (p0.cy - view.cy) * f, zoom: st.homeZoom * (z / st.homeZoom) ** f });
      yield* tileBurst(rng, cl, clock, img, st.load(view), page);
      clock.t += rng.range(800, 3000);
    }
    for (let i = 0; i < stopAt; i++) {
      const pos = positions[i] as Pos;
      if (clock.t >= nextBreak) {
        clock.t += rng.range(5, 25) * MIN;
        nextBreak = clock.t + rng.range(40, 100) * MIN;
        if (rng.chance(0.5)) {
          // Back from the break the page is reloaded: the browser revalidates what it shows again.
          page = yield* openItem(rng, cl, clock, img, from, true, true);
          st = new ViewerState(img, vp);
          yield* tileBurst(rng, cl, clock, img, st.load(st.home()), page, 0.7);
          clock.t += rng.range(1500, 5000);
          view = st.clamp({ cx: pos.cx, cy: pos.cy, zoom: z });
          yield* tileBurst(rng, cl, clock, img, st.load(view), page, 0.7);
          clock.t += think();
        }
      }
      const zf = rng.chance(0.12) ? 1.2 ** (rng.chance(0.5) ? 1 : -1) : 1;
      view = st.clamp({ cx: pos.cx + rng.normal(0, 0.04 * vw), cy: pos.cy + rng.normal(0, 0.04 * vh), zoom: z * zf });
      yield* tileBurst(rng, cl, clock, img, st.load(view), page);
      clock.t += think();
      if (i > 5 && rng.chance(0.04)) {
        // A glance back at something seen earlier (mostly cached: few requests), then on.
        const back = positions[rng.int(0, i - 1)] as Pos;
        view = st.clamp({ cx: back.cx, cy: back.cy, zoom: z });
        yield* tileBurst(rng, cl, clock, img, st.load(view), page);
        clock.t += think();
      }
      if (pos.lineEnd && rng.chance(0.35)) {
        // End of a line: zoom out for context before the next one.
        view = st.clamp({ ...view, zoom: z / 2 ** rng.int(2, 3) });
        yield* tileBurst(rng, cl, clock, img, st.load(view), page);
        clock.t += think();
      }
    }
    view = st.home();
    yield* tileBurst(rng, cl, clock, img, st.load(view), page);
    clock.t += rng.range(1, 5) * MIN;
    referer = page;
    firstImage = false;
  }
}

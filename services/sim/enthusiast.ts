/**
 * An enthusiast: one long sitting through hundreds of images (the collection's "next" button, search
 * after search), mostly the home view and a zoom step or two, now and then a deep look at one. Wide
 * rather than deep: over a session they touch most of the collection at coarse and middle levels.
 */
import { type CatalogImage, pageUrl } from './catalog.ts';
import type { Client, SimEvent } from './events.ts';
import type { Rng } from './rng.ts';
import { casualThink, pickViewport, viewerSession } from './viewer.ts';
import { pickPopular } from './benign.ts';

export interface EnthusiastParams {
  /** The images in viewing order (100–250, or the whole collection if smaller). */
  readonly images: readonly CatalogImage[];
  /** Median time on an image after its views (ms). */
  readonly dwellMedianMs: number;
  /** Share of images they zoom deep into. */
  readonly deepShare: number;
}

/** Draw a viewing order: runs of consecutive items ("next") mixed with search picks, no repeats. */
export function drawEnthusiastParams(r: Rng, catalog: readonly CatalogImage[]): EnthusiastParams {
  const still = catalog.filter((i) => i.protocol !== 'xyz');
  const n = Math.min(still.length, r.int(100, 250));
  const seen = new Set<CatalogImage>();
  const order: CatalogImage[] = [];
  for (let guard = 0; order.length < n && guard < 10 * n; guard++) {
    const run = r.chance(0.5)
      ? (() => {
          const from = r.int(0, still.length - 1);
          return Array.from({ length: r.int(5, 30) }, (_, i) => still[(from + i) % still.length] as CatalogImage);
        })()
      : [...pickPopular(r, still, r.int(5, 20)), ...r.sample(still, r.int(0, 5))];
    for (const img of run) {
      if (order.length >= n) break;
      if (seen.has(img)) continue;
      seen.add(img);
      order.push(img);
    }
  }
  return { images: order, dwellMedianMs: r.range(5000, 20_000), deepShare: r.range(0.03, 0.08) };
}

/** The sitting as batches of viewer sessions: each batch opens from a search page or the previous item. */
export function* enthusiastActor(rng: Rng, cl: Client, start: number, p: EnthusiastParams): Generator<SimEvent, void, undefined> {
  const viewport = pickViewport(rng, cl.ua);
  let t = start;
  let last: CatalogImage | null = null;
  for (let i = 0; i < p.images.length; ) {
    const batch = p.images.slice(i, i + rng.int(8, 30));
    i += batch.length;
    const entry = last === null ? rng.weighted(['google', 'search', 'direct'] as const, [0.3, 0.4, 0.3]) : rng.chance(0.6) ? 'search' : 'link';
    const session = viewerSession(rng, cl, Math.round(t), batch, {
      viewport,
      returning: last !== null || rng.chance(0.3),
      entry,
      ...(entry === 'link' && last ? { linkFrom: pageUrl(last) } : {}),
      steps: (r) => (r.chance(p.deepShare) ? Math.min(20, r.count(4, 10)) : Math.min(3, r.count(0, 0.8))),
      think: (r) => Math.min(60_000, Math.max(1000, r.logNormal(3500, 0.7))),
      pause: (r) => Math.min(180_000, Math.max(2000, r.logNormal(p.dwellMedianMs, 0.8))),
    });
    for (const ev of { [Symbol.iterator]: () => session }) {
      t = ev.t;
      yield ev;
    }
    t += casualThink(rng);
    last = batch[batch.length - 1] ?? last;
  }
}

/**
 * Benign actors: viewers, researchers, NAT'd offices, search-engine crawlers, uptime monitors,
 * CDN warmers and internal staff. Each function returns an actor's request stream, time-ordered.
 */
import {
  type CatalogImage,
  cols,
  descriptorBytes,
  descriptorUrl,
  iiifFullUrl,
  imageBytes,
  isIiif,
  pagePath,
  rows,
  tileBytes,
  tileUrl,
} from './catalog.ts';
import { type Client, type SimEvent, req } from './events.ts';
import { mergeSources, type Source } from './merge.ts';
import { Rng } from './rng.ts';
import { ViewerState, casualThink, researcherPolicy, viewerSession } from './viewer.ts';

const MIN = 60_000;

/** Images people look at: popularity is skewed (a few highlights get most views). */
export function pickPopular(rng: Rng, images: readonly CatalogImage[], n: number): CatalogImage[] {
  const out: CatalogImage[] = [];
  for (let i = 0; i < n; i++) {
    // Zipf-like: index ~ floor(N * u^2.2).
    const idx = Math.min(images.length - 1, Math.floor(images.length * rng.float() ** 2.2));
    const img = images[idx];
    if (img && !out.includes(img)) out.push(img);
  }
  return out;
}

/** An ordinary visitor: 1–6 images, a handful of zoom/pan steps each. */
export function humanActor(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  const n = Math.min(8, rng.count(1, 2.6));
  return viewerSession(rng, cl, start, pickPopular(rng, images, n), {
    returning: rng.chance(0.3),
    steps: (r) => Math.min(30, r.count(1, 6)),
    think: casualThink,
  });
}

/** A researcher: one image, about an hour of deep zooming into a few regions. */
export function researcherActor(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  const still = images.filter((i) => i.protocol !== 'xyz');
  const img = rng.pick(still);
  const minutes = rng.range(40, 80);
  const think = (r: Rng): number => Math.min(90_000, Math.max(2000, r.logNormal(11_000, 0.7)));
  return viewerSession(rng, cl, start, [img], {
    returning: rng.chance(0.5),
    steps: () => Math.round((minutes * MIN) / 13_500),
    think,
    next: researcherPolicy(rng, img),
    entry: rng.chance(0.5) ? 'search' : 'direct',
  });
}

/** Several people behind one NAT / corporate proxy: concurrent sessions, different UAs, one IP. */
export function natActor(
  rng: Rng,
  ip: string,
  uas: readonly string[],
  start: number,
  hours: number,
  images: readonly CatalogImage[],
): Generator<SimEvent> {
  const sources: Source[] = [];
  const n = rng.int(4, 10);
  for (let i = 0; i < n; i++) {
    const ua = uas[i % uas.length] ?? '';
    const cl: Client = { ip, ua, proto: 'HTTP/2.0' };
    const s = i === 0 ? start : start + rng.range(0, hours * 60 * MIN);
    const seed = rng.next();
    const researcher = rng.chance(0.1);
    sources.push({
      start: s,
      make: () => {
        const r = new Rng(seed);
        return researcher ? researcherActor(r, cl, s, images) : humanActor(r, cl, s, images);
      },
    });
  }
  return mergeSources(sources);
}

/** Search-engine crawler: robots.txt, then item pages, info.json/descriptor and small thumbnails, regular pacing. */
export function* crawlerActor(
  rng: Rng,
  ips: readonly string[],
  ua: string,
  imageUa: string | null,
  start: number,
  images: readonly CatalogImage[],
): Generator<SimEvent> {
  const pace = rng.range(4000, 12000);
  let t = start;
  const tick = (): number => {
    t += pace * rng.range(0.85, 1.15);
    return Math.round(t);
  };
  const cl = (): Client => ({ ip: rng.pick(ips), ua, proto: 'HTTP/1.1' });
  yield req(cl(), Math.round(t), '/robots.txt', 200, 412, '', null);
  yield req(cl(), tick(), '/sitemap.xml', 200, 48211, '', null);
  const items = rng.sample(images.filter((i) => i.protocol !== 'xyz'), rng.int(60, Math.min(images.length, 260)));
  for (const img of items) {
    yield req(cl(), tick(), pagePath(img), 200, rng.int(24000, 61000), '', img.id);
    const d = descriptorUrl(img);
    if (d && rng.chance(0.7)) yield req(cl(), tick(), d, 200, descriptorBytes(img), '', img.id);
    if (isIiif(img)) {
      const v = img.protocol === 'iiif2' ? 2 : 3;
      const size = rng.chance(0.5) ? '!200,200' : '200,';
      const w = Math.min(200, Math.round((200 * img.width) / Math.max(img.width, img.height)));
      const h = Math.min(200, Math.round((200 * img.height) / Math.max(img.width, img.height)));
      const icl = imageUa ? { ...cl(), ua: imageUa } : cl();
      yield req(icl, tick(), `/iiif/${v}/${img.id}/full/${size}/0/default.jpg`, 200, imageBytes(img, w, h, rng), '', img.id);
    }
  }
}

/** Uptime monitor: one URL every 60 s exactly. */
export function* monitorActor(
  cl: Client,
  start: number,
  path: string,
  bytes: number,
  image: string | null,
  method: 'GET' | 'HEAD',
): Generator<SimEvent> {
  for (let t = start; ; t += MIN) yield req(cl, t, path, 200, bytes, '', image, method);
}

/** CDN warmer / prefetcher: coarse tiles (s ≤ ¼, the levels viewers draw first) of many images, a few IPs. */
export function* cdnWarmerActor(
  rng: Rng,
  ips: readonly string[],
  ua: string,
  start: number,
  images: readonly CatalogImage[],
): Generator<SimEvent> {
  let t = start;
  let n = 0;
  const todo = rng.sample(images.filter((i) => i.protocol !== 'xyz'), Math.round(images.length * rng.range(0.6, 1)));
  for (const img of todo) {
    const viewer = new ViewerState(img, { w: 1920, h: 1080, dpr: 1 });
    const desc = descriptorUrl(img);
    const ip = ips[n++ % ips.length] ?? '';
    const cl: Client = { ip, ua, proto: 'HTTP/1.1' };
    if (desc) {
      t += rng.range(50, 250);
      yield req(cl, Math.round(t), desc, 200, descriptorBytes(img), '', img.id);
    }
    for (let k = viewer.kTop; k >= Math.min(2, viewer.kTop); k--) {
      for (let r = 0; r < rows(img, k); r++) {
        for (let c = 0; c < cols(img, k); c++) {
          t += rng.range(50, 250);
          yield req({ ...cl, ip: ips[n++ % ips.length] ?? ip }, Math.round(t), tileUrl(img, k, c, r, true), 200, tileBytes(img, k, c, r, rng), '', img.id);
        }
      }
    }
  }
}

/** Internal staff: viewer sessions, then legitimate full-size downloads of IIIF images. */
export function staffViewerActor(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  const iiif = images.filter(isIiif);
  const downloads = rng.sample(iiif, rng.int(5, 25));
  const view = humanActor(rng, cl, start, images);
  return (function* () {
    let t = start;
    for (const ev of { [Symbol.iterator]: () => view }) {
      t = ev.t;
      yield ev;
    }
    for (const img of downloads) {
      t += rng.range(10_000, 90_000);
      yield req(cl, Math.round(t), iiifFullUrl(img), 200, imageBytes(img, img.width, img.height, rng), '', img.id);
    }
  })();
}

/** Internal staff export job: deepest tiles of a few images, row-major, fast (allow-listed). */
export function* staffExportActor(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  let t = start;
  const todo = rng.sample(images.filter((i) => i.protocol !== 'xyz'), rng.int(1, 3));
  for (const img of todo) {
    for (let r = 0; r < rows(img, 0); r++) {
      for (let c = 0; c < cols(img, 0); c++) {
        t += rng.range(120, 300);
        yield req(cl, Math.round(t), tileUrl(img, 0, c, r), 200, tileBytes(img, 0, c, r, rng), '', img.id);
      }
    }
    t += rng.range(5000, 60_000);
  }
}

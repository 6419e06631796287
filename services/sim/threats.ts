/**
 * Threat actors: the ways images get harvested tile by tile (the threat families of services/sim/README.md).
 * Each returns a time-ordered request stream; they run until their image list is exhausted or the
 * simulated period ends (the caller stops pulling).
 */
import {
  type CatalogImage,
  SITE_ORIGIN,
  cols,
  descriptorBytes,
  descriptorUrl,
  iiifFullUrl,
  imageBytes,
  pagePath,
  pageUrl,
  rows,
  tileBytes,
  tileUrl,
} from './catalog.ts';
import { type Client, type Clock, type SimEvent, req } from './events.ts';
import { mergeSources, type Source } from './merge.ts';
import { Rng } from './rng.ts';
import { ViewerState, tileBurst } from './viewer.ts';

export interface Cell {
  readonly c: number;
  readonly r: number;
}

/** Row-major order over the grid at k: (0,0), (1,0), … then the next row. */
export function* rowMajor(img: CatalogImage, k: number): Generator<Cell> {
  const nc = cols(img, k);
  const nr = rows(img, k);
  for (let r = 0; r < nr; r++) for (let c = 0; c < nc; c++) yield { c, r };
}

/** A slice of the deepest grid for member i of n: contiguous row bands or every n-th tile. */
export function* slice(img: CatalogImage, k: number, i: number, n: number, mode: 'bands' | 'interleave'): Generator<Cell> {
  const nr = rows(img, k);
  const nc = cols(img, k);
  if (mode === 'bands') {
    const r0 = Math.floor((i * nr) / n);
    const r1 = Math.floor(((i + 1) * nr) / n);
    for (let r = r0; r < r1; r++) for (let c = 0; c < nc; c++) yield { c, r };
    return;
  }
  let j = 0;
  for (let r = 0; r < nr; r++) {
    for (let c = 0; c < nc; c++) {
      if (j++ % n === i) yield { c, r };
    }
  }
}

function* sweep(
  rng: Rng,
  cl: Client,
  clock: Clock,
  img: CatalogImage,
  k: number,
  cells: Iterable<Cell>,
  gap: () => number,
  referer: string,
): Generator<SimEvent> {
  for (const { c, r } of cells) {
    yield req(cl, Math.round(clock.t), tileUrl(img, k, c, r), 200, tileBytes(img, k, c, r, rng), referer, img.id);
    clock.t += gap();
  }
}

/**
 * The museum case: deepest level only, row-major, ~1 request/s, no Referer, no descriptor, image after
 * image. UA python-requests (native tile grid) or iiif-dl (tries full/full → 403, then 1024-px regions).
 */
export function* raster1s(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[], iiifDl: boolean): Generator<SimEvent> {
  const clock: Clock = { t: start };
  const gap = (): number => 1000 * rng.range(0.97, 1.08);
  for (const img of images) {
    if (iiifDl && (img.protocol === 'iiif2' || img.protocol === 'iiif3')) {
      yield req(cl, Math.round(clock.t), iiifFullUrl(img), 403, 153, '', img.id);
      clock.t += gap();
      const v = img.protocol === 'iiif2' ? 2 : 3;
      for (let y = 0; y < img.height; y += 1024) {
        for (let x = 0; x < img.width; x += 1024) {
          const w = Math.min(1024, img.width - x);
          const h = Math.min(1024, img.height - y);
          const size = v === 2 ? `${w},` : `${w},${h}`;
          yield req(cl, Math.round(clock.t), `/iiif/${v}/${img.id}/${x},${y},${w},${h}/${size}/0/default.jpg`, 200, imageBytes(img, w, h, rng), '', img.id);
          clock.t += gap();
        }
      }
    } else {
      yield* sweep(rng, cl, clock, img, 0, rowMajor(img, 0), gap, '');
    }
    clock.t += rng.range(1000, 5000);
  }
}

/** dezoomify-rs: descriptor, then the deepest level row-major, 16 in parallel, ≥ 50 ms apart; Referer = the URL it was given. */
export function* parallelFast(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  const clock: Clock = { t: start };
  for (const img of images) {
    const d = descriptorUrl(img);
    const given = d ? SITE_ORIGIN + d : pageUrl(img);
    if (d) {
      yield req(cl, Math.round(clock.t), d, 200, descriptorBytes(img), given, img.id);
      clock.t += rng.range(80, 400);
    }
    yield* sweep(rng, cl, clock, img, 0, rowMajor(img, 0), () => rng.range(50, 64), given);
    clock.t += rng.range(30_000, 600_000);
  }
}

/** Raster sweep with random 0.5–5 s delays. */
export function* jittered(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[], withDescriptor: boolean): Generator<SimEvent> {
  const clock: Clock = { t: start };
  for (const img of images) {
    const d = descriptorUrl(img);
    if (d && withDescriptor) {
      yield req(cl, Math.round(clock.t), d, 200, descriptorBytes(img), '', img.id);
      clock.t += rng.range(500, 5000);
    }
    yield* sweep(rng, cl, clock, img, 0, rowMajor(img, 0), () => rng.range(500, 5000), '');
    clock.t += rng.range(2000, 20_000);
  }
}

/** Deepest tiles in random order, browser UA, faked Referer of the viewer page. */
export function* shuffledBrowser(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  const clock: Clock = { t: start };
  for (const img of images) {
    const page = pageUrl(img);
    const d = descriptorUrl(img);
    if (d && rng.chance(0.5)) {
      yield req(cl, Math.round(clock.t), d, 200, descriptorBytes(img), page, img.id);
      clock.t += rng.range(200, 1500);
    }
    const cells = rng.shuffle([...rowMajor(img, 0)]);
    yield* sweep(rng, cl, clock, img, 0, cells, () => rng.range(200, 2000), page);
    clock.t += rng.range(5000, 60_000);
  }
}

export type CampaignSplit = 'bands' | 'interleave' | 'images';

/**
 * A campaign over many IPs with one UA. 'bands' / 'interleave': every image's deepest tiles are split
 * between the members (each covers a slice); 'images': each member sweeps whole images.
 */
export function campaign(
  rng: Rng,
  ips: readonly string[],
  ua: string,
  start: number,
  images: readonly CatalogImage[],
  split: CampaignSplit,
): Iterator<SimEvent> {
  const n = ips.length;
  const sources: Source[] = ips.map((ip, i) => {
    const s = start + Math.round(rng.range(0, 30_000));
    const seed = rng.next();
    return {
      start: s,
      make: function* () {
        const r = new Rng(seed);
        const cl: Client = { ip, ua, proto: 'HTTP/1.1' };
        const clock: Clock = { t: s };
        const gap = (): number => r.range(1500, 4000);
        if (split === 'images') {
          for (let j = i; j < images.length; j += n) {
            const img = images[j] as CatalogImage;
            yield* sweep(r, cl, clock, img, 0, rowMajor(img, 0), gap, '');
            clock.t += r.range(2000, 10_000);
          }
        } else {
          for (const img of images) {
            yield* sweep(r, cl, clock, img, 0, slice(img, 0, i, n, split), gap, '');
            clock.t += r.range(2000, 10_000);
          }
        }
      },
    };
  });
  return mergeSources(sources);
}

/**
 * One deepest tile every `gapMs` (default about a minute), row-major, for the whole period (run the
 * simulator over several days for the slow variant: one tile every 3–8 minutes is ~250 tiles a day).
 */
export function* lowAndSlow(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[], gapMs: readonly [number, number] = [55_000, 65_000]): Generator<SimEvent> {
  const clock: Clock = { t: start };
  for (const img of images) {
    yield* sweep(rng, cl, clock, img, 0, rowMajor(img, 0), () => rng.range(gapMs[0], gapMs[1]), '');
  }
}

/** Sweep one level below full resolution (s = ½: still above the open-data resolution). */
export function* halfResolution(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  const clock: Clock = { t: start };
  for (const img of images) {
    yield* sweep(rng, cl, clock, img, 1, rowMajor(img, 1), () => rng.range(800, 2000), '');
    clock.t += rng.range(2000, 20_000);
  }
}

/**
 * A mimic: page + descriptor + home view like a viewer, then viewport-sized bursts with human think
 * times, systematically covering every full-resolution tile (block by block, serpentine).
 */
export function* humanMimic(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  const clock: Clock = { t: start };
  for (const img of images) {
    const page = pageUrl(img);
    yield req(cl, Math.round(clock.t), pagePath(img), 200, rng.int(24000, 61000), rng.chance(0.5) ? 'https://www.google.com/' : '', img.id);
    clock.t += rng.range(300, 1500);
    const d = descriptorUrl(img);
    if (d) {
      yield req(cl, Math.round(clock.t), d, 200, descriptorBytes(img), page, img.id);
      clock.t += rng.range(50, 300);
    }
    const viewer = new ViewerState(img, { w: 1824, h: 864, dpr: 1 });
    yield* tileBurst(rng, cl, clock, img, viewer.load(viewer.home()), page);
    // Viewport-sized blocks of deepest tiles (≤ 30 tiles), serpentine block order, centre-out inside.
    const nc = cols(img, 0);
    const nr = rows(img, 0);
    const bw = Math.max(2, Math.min(6, Math.floor(1824 / img.tileSize)));
    const bh = Math.max(2, Math.min(5, Math.floor(864 / img.tileSize)));
    const blockRows = Math.ceil(nr / bh);
    const blockCols = Math.ceil(nc / bw);
    for (let br = 0; br < blockRows; br++) {
      for (let j = 0; j < blockCols; j++) {
        const bc = br % 2 === 0 ? j : blockCols - 1 - j;
        clock.t += Math.min(60_000, Math.max(2000, rng.logNormal(7000, 0.6)));
        const cells: { k: number; c: number; r: number; d: number }[] = [];
        const mx = bc * bw + bw / 2;
        const my = br * bh + bh / 2;
        for (let r = br * bh; r < Math.min(nr, (br + 1) * bh); r++) {
          for (let c = bc * bw; c < Math.min(nc, (bc + 1) * bw); c++) {
            cells.push({ k: 0, c, r, d: (c + 0.5 - mx) ** 2 + (r + 0.5 - my) ** 2 });
          }
        }
        cells.sort((a, b) => a.d - b.d);
        yield* tileBurst(rng, cl, clock, img, cells, page);
      }
    }
    clock.t += rng.range(10_000, 120_000);
  }
}

/** One request per image for the whole image at full size (IIIF full/full or full/max). */
export function* fullDownload(rng: Rng, cl: Client, start: number, images: readonly CatalogImage[]): Generator<SimEvent> {
  let t = start;
  for (const img of images) {
    const d = descriptorUrl(img);
    if (d && rng.chance(0.3)) {
      yield req(cl, Math.round(t), d, 200, descriptorBytes(img), '', img.id);
      t += rng.range(200, 1500);
    }
    yield req(cl, Math.round(t), iiifFullUrl(img), 200, imageBytes(img, img.width, img.height, rng), '', img.id);
    t += rng.range(2000, 20_000);
  }
}

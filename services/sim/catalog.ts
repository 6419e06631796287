/**
 * The simulated collection and its tile geometry (exactly as in docs/tile-protocols.md).
 *
 * Inside the simulator every pyramid is addressed by k = number of halvings from full resolution
 * (k = 0 is full resolution, s = 2^−k) and a (col, row) grid index; the grid at k has
 * ⌈W / (T·2^k)⌉ × ⌈H / (T·2^k)⌉ tiles for every protocol (IIIF region tiles, DZI level ⌈W/2^k⌉ split
 * into T-tiles, Zoomify tiers, XYZ zooms over an aligned bounding box). URLs convert k to the
 * protocol's own numbering.
 */
import { derive, type Rng } from './rng.ts';

export type SimProtocol = 'iiif2' | 'iiif3' | 'dzi' | 'zoomify' | 'xyz';

export interface CatalogImage {
  /** IIIF identifier, DZI/Zoomify name, or XYZ layer name. */
  readonly id: string;
  readonly protocol: SimProtocol;
  /** Full-resolution size in pixels (XYZ: the layer's bounding box at Zmax, in pixels). */
  readonly width: number;
  readonly height: number;
  readonly tileSize: number;
  readonly overlap: number;
  /** Long edge the institution publishes openly; anything above is the protected asset. */
  readonly openDataLongEdge: number;
  /** Viewer page: `/collection/item/{item}` (XYZ: `/maps/{id}`). */
  readonly item: number;
  /** Largest k (coarsest level) the protocol serves. */
  readonly maxK: number;
  /** XYZ only: deepest zoom, shallowest served zoom, and bounding-box origin (tile col/row at zmax). */
  readonly zmax?: number;
  readonly zmin?: number;
  readonly originX?: number;
  readonly originY?: number;
  /** Typical JPEG/PNG bytes per output pixel for this image (for plausible body sizes). */
  readonly bytesPerPixel: number;
  /** Points of interest (full-res px) shared by every human: people look at the same things. */
  readonly salient: readonly { readonly x: number; readonly y: number }[];
}

export const SITE_ORIGIN = 'https://collections.example-museum.org';

const log2ceil = (v: number): number => (v <= 1 ? 0 : Math.ceil(Math.log2(v) - 1e-12));

/** DZI Lmax = ⌈log2 max(W,H)⌉. */
export function dziMaxLevel(w: number, h: number): number {
  return log2ceil(Math.max(w, h));
}

/** Zoomify / IIIF number of halvings until the level fits one tile: ⌈log2(max(W,H)/T)⌉. */
export function fitHalvings(w: number, h: number, t: number): number {
  return log2ceil(Math.max(w, h) / t);
}

export function computeMaxK(protocol: SimProtocol, w: number, h: number, t: number, zmax = 18, zmin = 0): number {
  switch (protocol) {
    case 'dzi':
      return dziMaxLevel(w, h);
    case 'xyz':
      return zmax - zmin;
    default:
      return fitHalvings(w, h, t);
  }
}

/** Full-res pixel span of one tile at k. */
export const span = (img: CatalogImage, k: number): number => img.tileSize * 2 ** k;

export function cols(img: CatalogImage, k: number): number {
  return Math.ceil(img.width / span(img, k));
}

export function rows(img: CatalogImage, k: number): number {
  return Math.ceil(img.height / span(img, k));
}

/** Tile rectangle in full-resolution pixels, clipped (DZI overlap ignored). */
export function tileRect(img: CatalogImage, k: number, c: number, r: number): [number, number, number, number] {
  const s = span(img, k);
  return [c * s, r * s, Math.min(img.width, (c + 1) * s), Math.min(img.height, (r + 1) * s)];
}

/** Output pixel size of a tile (what the server sends). */
export function tileOutputSize(img: CatalogImage, k: number, c: number, r: number): [number, number] {
  const [x0, y0, x1, y1] = tileRect(img, k, c, r);
  const sf = 2 ** k;
  return [Math.ceil((x1 - x0) / sf), Math.ceil((y1 - y0) / sf)];
}

const zoomifyOffsets = new WeakMap<CatalogImage, number[]>();

/** Tiles in all tiers coarser than k (Zoomify TileGroup numbering counts from tier 0 = smallest). */
function zoomifyTilesBefore(img: CatalogImage, k: number): number {
  let offs = zoomifyOffsets.get(img);
  if (!offs) {
    offs = [];
    let acc = 0;
    for (let kk = img.maxK; kk >= 0; kk--) {
      offs[kk] = acc;
      acc += cols(img, kk) * rows(img, kk);
    }
    zoomifyOffsets.set(img, offs);
  }
  return offs[k] ?? 0;
}

export function zoomifyTileGroup(img: CatalogImage, k: number, c: number, r: number): number {
  return Math.floor((zoomifyTilesBefore(img, k) + r * cols(img, k) + c) / 256);
}

/**
 * Tile URL path. `viewer` = the form a viewer (OpenSeadragon) sends: for IIIF levels that fit one
 * tile it asks for `full/{w},` (2.x) or `full/{w},{h}` (3.0) instead of an x,y,w,h region.
 */
export function tileUrl(img: CatalogImage, k: number, c: number, r: number, viewer = false): string {
  switch (img.protocol) {
    case 'iiif2':
    case 'iiif3': {
      const sf = 2 ** k;
      const t = img.tileSize * sf;
      const x = c * t;
      const y = r * t;
      const w = Math.min(t, img.width - x);
      const h = Math.min(t, img.height - y);
      const ws = Math.ceil(w / sf);
      const hs = Math.ceil(h / sf);
      const v = img.protocol === 'iiif2' ? 2 : 3;
      if (viewer && w === img.width && h === img.height && k > 0) {
        return `/iiif/${v}/${img.id}/full/${v === 2 ? `${ws},` : `${ws},${hs}`}/0/default.jpg`;
      }
      return `/iiif/${v}/${img.id}/${x},${y},${w},${h}/${v === 2 ? `${ws},` : `${ws},${hs}`}/0/default.jpg`;
    }
    case 'dzi':
      return `/dz/${img.id}_files/${img.maxK - k}/${c}_${r}.jpg`;
    case 'zoomify':
      return `/zoomify/${img.id}/TileGroup${zoomifyTileGroup(img, k, c, r)}/${img.maxK - k}-${c}-${r}.jpg`;
    case 'xyz': {
      const zmax = img.zmax ?? 18;
      const div = 2 ** k;
      return `/tiles/${img.id}/${zmax - k}/${(img.originX ?? 0) / div + c}/${(img.originY ?? 0) / div + r}.png`;
    }
  }
}

/** Descriptor URL (info.json, .dzi, ImageProperties.xml); null for XYZ layers. */
export function descriptorUrl(img: CatalogImage): string | null {
  switch (img.protocol) {
    case 'iiif2':
      return `/iiif/2/${img.id}/info.json`;
    case 'iiif3':
      return `/iiif/3/${img.id}/info.json`;
    case 'dzi':
      return `/dz/${img.id}.dzi`;
    case 'zoomify':
      return `/zoomify/${img.id}/ImageProperties.xml`;
    case 'xyz':
      return null;
  }
}

export function descriptorBytes(img: CatalogImage): number {
  switch (img.protocol) {
    case 'iiif2':
    case 'iiif3':
      return 600 + 40 * (img.maxK + 1);
    case 'dzi':
      return 228;
    case 'zoomify':
      return 118;
    case 'xyz':
      return 0;
  }
}

export function pagePath(img: CatalogImage): string {
  return img.protocol === 'xyz' ? `/maps/${img.id}` : `/collection/item/${img.item}`;
}

export function pageUrl(img: CatalogImage): string {
  return SITE_ORIGIN + pagePath(img);
}

/** Plausible body size of a tile: output pixels × bytes/px × noise. */
export function tileBytes(img: CatalogImage, k: number, c: number, r: number, rng: Rng): number {
  const [w, h] = tileOutputSize(img, k, c, r);
  return Math.max(300, Math.round(w * h * img.bytesPerPixel * rng.range(0.7, 1.3)));
}

/** Body size of a whole-image request at output size w×h. */
export function imageBytes(img: CatalogImage, w: number, h: number, rng: Rng): number {
  return Math.max(500, Math.round(w * h * img.bytesPerPixel * rng.range(0.8, 1.2)));
}

/** `full/full` (2.1) or `full/max` (3.0) URL of an IIIF image. */
export function iiifFullUrl(img: CatalogImage): string {
  return img.protocol === 'iiif3' ? `/iiif/3/${img.id}/full/max/0/default.jpg` : `/iiif/2/${img.id}/full/full/0/default.jpg`;
}

export const isIiif = (img: CatalogImage): boolean => img.protocol === 'iiif2' || img.protocol === 'iiif3';

export interface CatalogOptions {
  readonly seed: string | number;
  /** Number of still images (the XYZ layer comes on top). Default 300. */
  readonly images?: number;
  /** Include one XYZ map layer. Default true. */
  readonly xyz?: boolean;
}

const PREFIXES = ['obj', 'ms', 'ptg', 'prt', 'drw', 'pho'];

/** Build the collection: mostly IIIF 2.1 (tiles 512 or 256), some 3.0, some Deep Zoom, some Zoomify, one XYZ layer. */
export function buildCatalog(opts: CatalogOptions): CatalogImage[] {
  const n = opts.images ?? 300;
  const rng = derive(opts.seed, 'catalog');
  const out: CatalogImage[] = [];
  const usedIds = new Set<string>();
  for (let i = 0; i < n; i++) {
    const protocol = rng.weighted<SimProtocol>(['iiif2', 'iiif3', 'dzi', 'zoomify'], [0.62, 0.16, 0.13, 0.09]);
    // Long edge ≈ 3,000–20,000 px, log-uniform; aspect 0.6–1.6.
    const longEdge = Math.round(Math.exp(rng.range(Math.log(3000), Math.log(20000))));
    const aspect = rng.range(0.6, 1.0);
    const landscape = rng.chance(0.55);
    const short = Math.max(1000, Math.round(longEdge * aspect));
    const width = landscape ? longEdge : short;
    const height = landscape ? short : longEdge;
    const tileSize =
      protocol === 'dzi' ? 254 : protocol === 'zoomify' ? 256 : protocol === 'iiif3' ? 512 : rng.chance(0.7) ? 512 : 256;
    const overlap = protocol === 'dzi' ? 1 : 0;
    let id: string;
    do {
      const year = rng.int(1900, 2024);
      const num = String(rng.int(1, 9999)).padStart(4, '0');
      const pre = rng.pick(PREFIXES);
      id = protocol === 'dzi' || protocol === 'zoomify' ? `${pre}_${year}_${num}` : `${pre}-${year}-${num}`;
    } while (usedIds.has(id));
    usedIds.add(id);
    out.push(makeImage(rng, { id, protocol, width, height, tileSize, overlap, item: 1000 + i * 7 + rng.int(0, 6) }));
  }
  if (opts.xyz ?? true) {
    // A historic city map: 96×64 tiles at z18 (24,576 × 16,384 px), served from z10.
    const zmax = 18;
    const zmin = 10;
    const align = 2 ** (zmax - zmin);
    out.push(
      makeImage(rng, {
        id: 'citymap-1850',
        protocol: 'xyz',
        width: 96 * 256,
        height: 64 * 256,
        tileSize: 256,
        overlap: 0,
        item: 0,
        zmax,
        zmin,
        originX: 547 * align,
        originY: 340 * align,
      }),
    );
  }
  return out;
}

function makeImage(
  rng: Rng,
  b: Omit<CatalogImage, 'openDataLongEdge' | 'maxK' | 'bytesPerPixel' | 'salient'>,
): CatalogImage {
  const maxK = computeMaxK(b.protocol, b.width, b.height, b.tileSize, b.zmax, b.zmin);
  const salient: { x: number; y: number }[] = [];
  const nSal = rng.int(2, 5);
  for (let i = 0; i < nSal; i++) {
    // Centre-biased points of interest.
    const x = Math.min(b.width - 1, Math.max(0, Math.round(b.width * (0.5 + rng.normal(0, 0.17)))));
    const y = Math.min(b.height - 1, Math.max(0, Math.round(b.height * (0.5 + rng.normal(0, 0.17)))));
    salient.push({ x, y });
  }
  return {
    ...b,
    maxK,
    // Everything at s ≤ ¼ is published openly.
    openDataLongEdge: Math.ceil(Math.max(b.width, b.height) / 4),
    bytesPerPixel: b.protocol === 'xyz' ? rng.range(0.35, 0.6) : rng.range(0.12, 0.3),
    salient,
  };
}

/** The JSON written to catalog.json (geometry only; no simulator internals). */
export function catalogJson(images: readonly CatalogImage[]): unknown[] {
  return images.map((img) => ({
    id: img.id,
    protocol: img.protocol,
    width: img.width,
    height: img.height,
    tileSize: img.tileSize,
    overlap: img.overlap,
    openDataLongEdge: img.openDataLongEdge,
    levels: img.maxK + 1,
    page: pagePath(img),
    descriptor: descriptorUrl(img),
    ...(img.protocol === 'xyz'
      ? { zmax: img.zmax, zmin: img.zmin, originX: img.originX, originY: img.originY, tmpl: `/tiles/${img.id}/{z}/{x}/{y}.png` }
      : {}),
  }));
}

import { ownString } from '../ownString.ts';

/**
 * Learned image extents: geometry inferred from the requests themselves, for images that are not
 * in the catalogue. A bounded, deterministic data structure: no timers, no clock, no I/O.
 */
import type { ImageGeometry, Protocol, TileAddress } from '../types.ts';

/** Protocol families that share numbering and geometry for the same image id. */
export type ProtocolFamily = 'iiif' | 'dzi' | 'zoomify' | 'xyz' | 'iip';

/** Family of a protocol (iiif2/iiif3 → iiif; xyz/tms/wmts → xyz); undefined for 'none'. */
export function protocolFamily(p: Protocol): ProtocolFamily | undefined {
  switch (p) {
    case 'iiif2':
    case 'iiif3':
      return 'iiif';
    case 'xyz':
    case 'tms':
    case 'wmts':
      return 'xyz';
    case 'dzi':
    case 'zoomify':
    case 'iip':
      return p;
    case 'none':
      return undefined;
  }
}

/** Options of a LearnedExtents store. */
export interface LearnedExtentsOptions {
  /** Most images tracked; the least recently observed image is evicted beyond this. Must be ≥ 1. */
  readonly maxImages: number;
  /** Tile size assumed per family when the URL does not show it (default 256 everywhere). */
  readonly tileSize?: Partial<Record<ProtocolFamily, number>>;
}

interface PyramidState {
  readonly type: 'pyramid';
  /** Key in the recency map (own string) and the family index's key. */
  key: string;
  family: ProtocolFamily;
  imageId: string;
  maxLevel: number;
  maxCol: number;
  maxRow: number;
  /** Geometry computed from the fields above; undefined once they change. */
  cached: ImageGeometry | undefined;
}

interface IiifState {
  readonly type: 'iiif';
  key: string;
  family: ProtocolFamily;
  imageId: string;
  maxX1: number;
  maxY1: number;
  /** Output tile width → count (bounded to MAX_WIDTHS distinct values). */
  readonly widths: Map<number, number>;
  cached: ImageGeometry | undefined;
}

type State = PyramidState | IiifState;

const MAX_WIDTHS = 16;
const DEFAULT_TILE = 256;

/**
 * Learns, per (protocol family, image id), the extent clients have shown an image to have.
 *
 * Pyramids (DZI, Zoomify, XYZ/TMS/WMTS): maxLevel = deepest level seen; maxCol/maxRow are kept at
 * that level, converting coarser observations by doubling (col·2^d, the certain lower bound) and
 * re-basing when a deeper level appears. Geometry: W = (maxCol+1)·T, H = (maxRow+1)·T at the deepest
 * level seen, tile size T from the options (default 256), overlap 0, maxLevel as learned.
 * IIIF: W, H = the largest x+w, y+h of px regions (servers clip edge tiles, so viewers request
 * x+w = W at the right edge); tile size = the most common output width of 'tile' requests
 * (ties → larger), else the default; maxLevel −1.
 *
 * Accuracy limits: an image nobody has zoomed fully into has its max level (hence its full size)
 * underestimated — the deepest level seen is treated as full resolution, so scales are relative to
 * it; W,H are rounded up to whole tiles (≤ T−1 px over), and the layer extent of XYZ/WMTS is measured
 * from the grid origin. DZI overlap and non-256 tile sizes are unknown (≤ 1 % position error for
 * T = 254). IIIF width/height are lower bounds until someone views the right/bottom edge.
 * IIP JTL tiles (row-major index, column count unknown) and IIP/IIIF pct/full requests teach nothing;
 * `geometry` returns undefined for 'iip'. Feed only requests that succeeded (2xx).
 */
export class LearnedExtents {
  readonly #maxImages: number;
  readonly #tileSize: Readonly<Record<ProtocolFamily, number>>;
  /** Every image by `family NUL imageId`, least recently observed first. */
  readonly #images = new Map<string, State>();
  /** The same states by image id, one map per family: lookups without building the combined key. */
  readonly #byFamily: Readonly<Record<ProtocolFamily, Map<string, State>>> = { iiif: new Map(), dzi: new Map(), zoomify: new Map(), xyz: new Map(), iip: new Map() };
  /** The most recently observed image (last in #images): observing it again needs no re-insert. */
  #last: State | null = null;
  #version = 0;

  /** @throws Error when maxImages is not a positive integer. */
  constructor(options: LearnedExtentsOptions) {
    if (!Number.isInteger(options.maxImages) || options.maxImages < 1) throw new Error(`maxImages must be a positive integer, got ${String(options.maxImages)}`);
    this.#maxImages = options.maxImages;
    const t = options.tileSize ?? {};
    this.#tileSize = { iiif: t.iiif ?? DEFAULT_TILE, dzi: t.dzi ?? DEFAULT_TILE, zoomify: t.zoomify ?? DEFAULT_TILE, xyz: t.xyz ?? DEFAULT_TILE, iip: t.iip ?? DEFAULT_TILE };
  }

  /**
   * Changes whenever a geometry this store answers may have changed (an image learned, evicted, or its
   * extent grown): while it stays the same, `geometry()` answers every image as before.
   */
  get version(): number {
    return this.#version;
  }

  /** Number of images currently tracked (≤ maxImages). */
  get size(): number {
    return this.#images.size;
  }

  /**
   * Record one request. Ignores non-image kinds, protocol 'none' and requests that carry no extent
   * information. Marks the image most recently used and evicts the least recently used beyond maxImages.
   */
  observe(addr: TileAddress): void {
    const family = protocolFamily(addr.protocol);
    if (family === undefined || family === 'iip' || addr.imageId === '') return;
    if (family === 'iiif') {
      this.#observeIiif(addr);
      return;
    }
    if (addr.kind !== 'tile' || addr.level < 0 || addr.col < 0 || addr.row < 0) return;
    const s = this.#touch(family, addr.imageId, () => ({ type: 'pyramid', key: '', family, imageId: '', maxLevel: addr.level, maxCol: 0, maxRow: 0, cached: undefined }));
    if (s.type !== 'pyramid') return;
    let col = addr.col;
    let row = addr.row;
    if (addr.level > s.maxLevel) {
      const f = 2 ** (addr.level - s.maxLevel);
      s.maxCol *= f;
      s.maxRow *= f;
      s.maxLevel = addr.level;
      this.#invalidate(s);
    } else if (addr.level < s.maxLevel) {
      const f = 2 ** (s.maxLevel - addr.level);
      col *= f;
      row *= f;
    }
    if (col > s.maxCol) {
      s.maxCol = col;
      this.#invalidate(s);
    }
    if (row > s.maxRow) {
      s.maxRow = row;
      this.#invalidate(s);
    }
  }

  #observeIiif(addr: TileAddress): void {
    const region = addr.iiif?.region;
    if (addr.iiif === undefined || region === undefined || region.type !== 'px') return;
    const s = this.#touch('iiif', addr.imageId, () => ({ type: 'iiif', key: '', family: 'iiif', imageId: '', maxX1: 0, maxY1: 0, widths: new Map(), cached: undefined }));
    if (s.type !== 'iiif') return;
    if (region.x + region.w > s.maxX1) {
      s.maxX1 = region.x + region.w;
      this.#invalidate(s);
    }
    if (region.y + region.h > s.maxY1) {
      s.maxY1 = region.y + region.h;
      this.#invalidate(s);
    }
    if (addr.kind !== 'tile') return;
    const size = addr.iiif.size;
    const w = size.type === 'w' || size.type === 'wh' || size.type === 'confined' ? size.w : size.type === 'full' || size.type === 'max' ? region.w : 0;
    if (w <= 0) return;
    // Counting the tile size already chosen cannot change the choice; any other width may.
    if (s.cached !== undefined && w !== s.cached.tileSize) this.#invalidate(s);
    const c = s.widths.get(w);
    if (c !== undefined) s.widths.set(w, c + 1);
    else if (s.widths.size < MAX_WIDTHS) s.widths.set(w, 1);
  }

  /** The image's extent changed: its geometry is computed afresh on the next `geometry()`. */
  #invalidate(s: State): void {
    s.cached = undefined;
    this.#version++;
  }

  #touch(family: ProtocolFamily, imageId: string, create: () => State): State {
    const index = this.#byFamily[family];
    let s = index.get(imageId);
    if (s !== undefined) {
      if (s !== this.#last) {
        this.#images.delete(s.key);
        this.#images.set(s.key, s);
        this.#last = s;
      }
      return s;
    }
    s = create();
    s.imageId = ownString(imageId);
    s.key = ownString(`${family}\u0000${imageId}`);
    if (this.#images.size >= this.#maxImages) {
      const oldest = this.#images.values().next();
      if (oldest.done !== true) {
        this.#images.delete(oldest.value.key);
        this.#byFamily[oldest.value.family].delete(oldest.value.imageId);
      }
    }
    this.#images.set(s.key, s);
    index.set(s.imageId, s);
    this.#last = s;
    this.#version++;
    return s;
  }

  /**
   * Learned geometry of an image (source 'learned'), or undefined when nothing useful has been seen
   * (or the protocol is 'iip'/'none'). Read-only: does not change recency.
   */
  geometry(protocol: Protocol, imageId: string): ImageGeometry | undefined {
    const family = protocolFamily(protocol);
    if (family === undefined || family === 'iip') return undefined;
    const s = this.#byFamily[family].get(imageId);
    if (s === undefined) return undefined;
    if (s.cached !== undefined) return s.cached;
    const t = this.#tileSize[family];
    if (s.type === 'pyramid') {
      s.cached = { width: (s.maxCol + 1) * t, height: (s.maxRow + 1) * t, tileSize: t, overlap: 0, maxLevel: s.maxLevel, source: 'learned' };
      return s.cached;
    }
    if (s.maxX1 <= 0 || s.maxY1 <= 0) return undefined;
    let best = 0;
    let bestCount = 0;
    for (const [w, c] of s.widths) {
      if (c > bestCount || (c === bestCount && w > best)) {
        best = w;
        bestCount = c;
      }
    }
    s.cached = { width: s.maxX1, height: s.maxY1, tileSize: best > 0 ? best : t, overlap: 0, maxLevel: -1, source: 'learned' };
    return s.cached;
  }
}

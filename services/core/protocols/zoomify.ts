/**
 * Zoomify: URL grammar, tier arithmetic and geometry. See docs/tile-protocols.md, "Zoomify".
 */
import type { ImageGeometry, Rect, TileAddress } from '../types.ts';
import { MAX_PYRAMID_LEVEL, infoAddress, plainAddress, tileAddress } from './address.ts';
import { NO_PLACEMENT, type Placement, clipRect, hasSize } from './rect.ts';

const TILE_NAME = /^(\d{1,3})-(\d{1,9})-(\d{1,9})\.(?:jpg|jpeg|png|webp)$/i;
const TILE_GROUP = /^TileGroup\d{1,9}$/i;

/**
 * Recognise Zoomify from path segments: `{folder}/TileGroup{g}/{z}-{x}-{y}.jpg` or
 * `{folder}/ImageProperties.xml` (case-insensitive names). Image id = the folder path as written
 * (not decoded; '/' when the folder is the root). The TileGroup number is ignored (z-x-y identify the tile).
 */
export function recogniseZoomifySegments(segs: readonly string[]): TileAddress | undefined {
  const n = segs.length;
  const last = segs[n - 1];
  if (last === undefined || n < 2) return undefined;
  if (last.length === 19 && last.toLowerCase() === 'imageproperties.xml') return infoAddress('zoomify', folderOf(segs, n - 1));
  const group = segs[n - 2];
  if (group === undefined || group.length < 10 || !TILE_GROUP.test(group)) return undefined;
  const m = TILE_NAME.exec(last);
  if (m === null) return undefined;
  const imageId = folderOf(segs, n - 2);
  const z = Number(m[1]);
  if (z > MAX_PYRAMID_LEVEL) return plainAddress('zoomify', imageId, 'other');
  return tileAddress('zoomify', imageId, z, Number(m[2]), Number(m[3]));
}

function folderOf(segs: readonly string[], end: number): string {
  const f = segs.slice(0, end).join('/');
  return f === '' ? '/' : f;
}

/** How tier sizes are rounded when halving: 'ceil' (matches N = 1 + ⌈log2(max/T)⌉) or 'floor' (OpenSeadragon, many converters). */
export type ZoomifyRounding = 'ceil' | 'floor';

/** One Zoomify tier: size in tier pixels and tile grid. */
export interface ZoomifyTier {
  readonly width: number;
  readonly height: number;
  readonly cols: number;
  readonly rows: number;
}

/**
 * Tiers from smallest (tier 0) to full resolution (tier N−1): halve W×H until both ≤ T.
 * With 'ceil' rounding N = 1 + ⌈log2(max(W,H)/T)⌉ (0 ⇒ one tier).
 */
export function zoomifyTiers(width: number, height: number, tileSize: number, rounding: ZoomifyRounding = 'ceil'): readonly ZoomifyTier[] {
  if (!(width > 0 && height > 0 && tileSize > 0)) return [];
  const tiers: ZoomifyTier[] = [];
  let w = width;
  let h = height;
  const half = rounding === 'ceil' ? Math.ceil : Math.floor;
  for (;;) {
    tiers.push({ width: w, height: h, cols: Math.ceil(w / tileSize), rows: Math.ceil(h / tileSize) });
    if (w <= tileSize && h <= tileSize) break;
    w = Math.max(1, half(w / 2));
    h = Math.max(1, half(h / 2));
  }
  return tiers.reverse();
}

/** Number of tiers N for W×H with tile size T (see `zoomifyTiers`). */
export function zoomifyTierCount(width: number, height: number, tileSize: number, rounding: ZoomifyRounding = 'ceil'): number {
  return zoomifyTiers(width, height, tileSize, rounding).length;
}

/**
 * The tier list whose total tile count equals ImageProperties NUMTILES (tries 'ceil' then 'floor');
 * undefined when neither matches. Use its length − 1 as ImageGeometry.maxLevel.
 */
export function zoomifyTiersFromNumTiles(width: number, height: number, tileSize: number, numTiles: number): readonly ZoomifyTier[] | undefined {
  for (const r of ['ceil', 'floor'] as const) {
    const tiers = zoomifyTiers(width, height, tileSize, r);
    if (tiers.reduce((a, t) => a + t.cols * t.rows, 0) === numTiles) return tiers;
  }
  return undefined;
}

/** TileGroup number g = ⌊(tiles in lower tiers + y·cols_z + x) / 256⌋; undefined when z is not a tier. */
export function zoomifyTileGroup(tiers: readonly ZoomifyTier[], z: number, x: number, y: number): number | undefined {
  const tier = tiers[z];
  if (tier === undefined) return undefined;
  let before = 0;
  for (let i = 0; i < z; i++) {
    const t = tiers[i];
    if (t !== undefined) before += t.cols * t.rows;
  }
  return Math.floor((before + y * tier.cols + x) / 256);
}

function tierCountOf(g: ImageGeometry): number {
  return g.maxLevel >= 0 ? g.maxLevel + 1 : zoomifyTierCount(g.width, g.height, g.tileSize);
}

/**
 * Placement of Zoomify tile z-x-y: k = N−1−z, R = [x·T·2^k, y·T·2^k, +T·2^k) clipped, s = 2^−k.
 * N = maxLevel + 1 when given, else the 'ceil' tier count. Nothing for z ≥ N or tiles outside the image.
 */
export function zoomifyTilePlacement(g: ImageGeometry, z: number, x: number, y: number): Placement {
  if (!hasSize(g) || !(g.tileSize > 0) || z < 0 || x < 0 || y < 0) return NO_PLACEMENT;
  const k = tierCountOf(g) - 1 - z;
  if (k < 0) return NO_PLACEMENT;
  const span = g.tileSize * 2 ** k;
  const rect = clipRect(x * span, y * span, (x + 1) * span, (y + 1) * span, g.width, g.height);
  return rect === null ? NO_PLACEMENT : { rect, scale: 2 ** -k };
}

/** Inverse of `zoomifyTilePlacement`: tier and x, y of a placement. Undefined for a non power-of-two scale. */
export function zoomifyTileAt(g: ImageGeometry, rect: Rect, scale: number): { readonly level: number; readonly col: number; readonly row: number } | undefined {
  const k = Math.round(-Math.log2(scale));
  if (!(scale > 0) || k < 0 || 2 ** -k !== scale) return undefined;
  const span = g.tileSize * 2 ** k;
  return { level: tierCountOf(g) - 1 - k, col: Math.floor(rect.x0 / span), row: Math.floor(rect.y0 / span) };
}

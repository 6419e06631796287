/**
 * Deep Zoom (DZI): URL grammar and geometry. See docs/tile-protocols.md, "Deep Zoom".
 */
import type { ImageGeometry, Rect, TileAddress } from '../types.ts';
import { MAX_PYRAMID_LEVEL, infoAddress, plainAddress, tileAddress } from './address.ts';
import { NO_PLACEMENT, type Placement, clipRect, hasSize } from './rect.ts';
import { isDigits } from './target.ts';

const TILE_NAME = /^(\d{1,9})_(\d{1,9})\.[A-Za-z0-9]{1,5}$/;

/**
 * Recognise DZI from path segments: `{name}_files/{L}/{col}_{row}.{fmt}` (anywhere in the path)
 * or the descriptor `{name}.dzi`. The image id is the descriptor path without `.dzi`, exactly as
 * it appears in the target (not decoded, leading slash kept), so `/tiles/img.dzi` and
 * `/tiles/img_files/14/10_5.jpg` both give `/tiles/img`. Returns undefined when not DZI-shaped.
 */
export function recogniseDziSegments(segs: readonly string[]): TileAddress | undefined {
  const n = segs.length;
  const last = segs[n - 1];
  if (last === undefined) return undefined;
  if (last.length > 4 && last.endsWith('.dzi')) {
    return infoAddress('dzi', segs.slice(0, n - 1).concat(last.slice(0, -4)).join('/'));
  }
  const folder = segs[n - 3];
  if (n < 3 || folder === undefined || folder.length <= 6 || !folder.endsWith('_files')) return undefined;
  const levelS = segs[n - 2];
  const m = TILE_NAME.exec(last);
  if (m === null || !isDigits(levelS, 3)) return undefined;
  const imageId = segs.slice(0, n - 3).concat(folder.slice(0, -6)).join('/');
  const level = Number(levelS);
  if (level > MAX_PYRAMID_LEVEL) return plainAddress('dzi', imageId, 'other');
  return tileAddress('dzi', imageId, level, Number(m[1]), Number(m[2]));
}

/** DZI deepest level Lmax = ⌈log2 max(W,H)⌉ (level 0 is 1×1). Exact integer arithmetic. */
export function dziMaxLevel(width: number, height: number): number {
  const m = Math.max(width, height);
  let level = 0;
  let p = 1;
  while (p < m) {
    p *= 2;
    level++;
  }
  return level;
}

/** Lmax to use for a geometry: its maxLevel when given (≥ 0), else ⌈log2 max(W,H)⌉. */
function lmaxOf(g: ImageGeometry): number {
  return g.maxLevel >= 0 ? g.maxLevel : dziMaxLevel(g.width, g.height);
}

/** Size and tile grid of one DZI level. */
export interface LevelGrid {
  /** Level width/height in that level's pixels. */
  readonly width: number;
  readonly height: number;
  readonly cols: number;
  readonly rows: number;
  /** k = Lmax − L: one level pixel is 2^k full-resolution pixels. */
  readonly k: number;
}

/** Grid of DZI level L: size ⌈W/2^k⌉ × ⌈H/2^k⌉, ⌈LW/T⌉ × ⌈LH/T⌉ tiles. Undefined for levels outside 0..Lmax or no size. */
export function dziLevelGrid(g: ImageGeometry, level: number): LevelGrid | undefined {
  if (!hasSize(g) || !(g.tileSize > 0)) return undefined;
  const k = lmaxOf(g) - level;
  if (level < 0 || k < 0) return undefined;
  const f = 2 ** k;
  const width = Math.ceil(g.width / f);
  const height = Math.ceil(g.height / f);
  return { width, height, cols: Math.ceil(width / g.tileSize), rows: Math.ceil(height / g.tileSize), k };
}

/**
 * Placement of DZI tile (L, col, row): level rect x = c·T − (c>0 ? O : 0),
 * w = min(T + (c==0 ? 1 : 2)·O, LW − x) (same for y), scaled by 2^k and clipped; s = 2^−k.
 * `withOverlap` false gives the no-overlap core cell [c·T, min((c+1)·T, LW)) used for coverage.
 * Nothing (null/0) for levels above Lmax or tiles outside the grid.
 */
export function dziTilePlacement(g: ImageGeometry, level: number, col: number, row: number, withOverlap = true): Placement {
  const grid = dziLevelGrid(g, level);
  if (grid === undefined || col < 0 || row < 0 || col >= grid.cols || row >= grid.rows) return NO_PLACEMENT;
  const t = g.tileSize;
  const o = withOverlap ? Math.max(0, g.overlap) : 0;
  const x = col * t - (col > 0 ? o : 0);
  const y = row * t - (row > 0 ? o : 0);
  const w = Math.min(t + (col === 0 ? 1 : 2) * o, grid.width - x);
  const h = Math.min(t + (row === 0 ? 1 : 2) * o, grid.height - y);
  const f = 2 ** grid.k;
  const rect = clipRect(x * f, y * f, (x + w) * f, (y + h) * f, g.width, g.height);
  return rect === null ? NO_PLACEMENT : { rect, scale: 1 / f };
}

/**
 * Inverse of `dziTilePlacement` (with overlap): the (level, col, row) whose placement is `rect` at `scale`.
 * Undefined when the scale is not a power of two ≤ 1.
 */
export function dziTileAt(g: ImageGeometry, rect: Rect, scale: number): { readonly level: number; readonly col: number; readonly row: number } | undefined {
  const k = Math.round(-Math.log2(scale));
  if (!(scale > 0) || k < 0 || 2 ** -k !== scale) return undefined;
  const f = 2 ** k;
  const o = Math.max(0, g.overlap);
  const col = rect.x0 === 0 ? 0 : Math.floor((rect.x0 / f + o) / g.tileSize);
  const row = rect.y0 === 0 ? 0 : Math.floor((rect.y0 / f + o) / g.tileSize);
  return { level: lmaxOf(g) - k, col, row };
}

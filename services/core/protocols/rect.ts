/**
 * Rectangle helpers for the tile-protocol core. Pure; rectangles are half-open
 * [x0, x1) × [y0, y1) in full-resolution pixels.
 */
import type { Rect } from '../types.ts';

/** Where a request lands in the full-resolution image: the revealed rect and the scale. */
export interface Placement {
  /** Clipped full-resolution rect; null when nothing is revealed or the image size is unknown. */
  readonly rect: Rect | null;
  /** Output px per full-resolution px, capped at 1; 0 when unknown or nothing is revealed. */
  readonly scale: number;
}

/** The placement of a request that reveals nothing (or whose position is unknown). */
export const NO_PLACEMENT: Placement = Object.freeze({ rect: null, scale: 0 });

/**
 * Intersect [x0,x1)×[y0,y1) with the image [0,W)×[0,H).
 * Returns null when the intersection is empty (the request lies outside the image).
 */
export function clipRect(x0: number, y0: number, x1: number, y1: number, width: number, height: number): Rect | null {
  const cx0 = x0 < 0 ? 0 : x0;
  const cy0 = y0 < 0 ? 0 : y0;
  const cx1 = x1 > width ? width : x1;
  const cy1 = y1 > height ? height : y1;
  if (!(cx1 > cx0) || !(cy1 > cy0)) return null;
  return { x0: cx0, y0: cy0, x1: cx1, y1: cy1 };
}

/** Area of a rect in full-resolution pixels². */
export function rectArea(r: Rect): number {
  return (r.x1 - r.x0) * (r.y1 - r.y0);
}

/** True when two half-open rects share a region of positive area. */
export function rectsIntersect(a: Rect, b: Rect): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/** Scale capped at 1 (upscaling reveals nothing); non-finite or non-positive inputs give 0. */
export function capScale(s: number): number {
  if (!(s > 0) || !Number.isFinite(s)) return 0;
  return s > 1 ? 1 : s;
}

/** True when a geometry has a usable image size. */
export function hasSize(g: { readonly width: number; readonly height: number } | undefined): boolean {
  return g !== undefined && g.width > 0 && g.height > 0 && Number.isFinite(g.width) && Number.isFinite(g.height);
}

/** Shared test helpers for the tile-protocol core (no side effects). */
import assert from 'node:assert/strict';
import type { ImageGeometry, Rect, TileRequest } from '../../../services/core/types.ts';

/** A catalogue geometry. */
export function geom(width: number, height: number, tileSize: number, overlap = 0, maxLevel = -1): ImageGeometry {
  return { width, height, tileSize, overlap, maxLevel, source: 'catalog' };
}

/** Rect literal from [x0, y0, x1, y1]. */
export function r(x0: number, y0: number, x1: number, y1: number): Rect {
  return { x0, y0, x1, y1 };
}

/** Assert a request reveals exactly `rect` at `scale` (scale compared to 1e-12). */
export function assertPlacement(req: TileRequest, rect: Rect | null, scale: number): void {
  assert.deepEqual(req.rect, rect);
  assert.ok(Math.abs(req.scale - scale) < 1e-12, `scale ${req.scale} ≠ ${scale}`);
}

/**
 * Assert that `rects` partition [0,W)×[0,H): every rect inside the image, non-empty, the areas sum
 * to W·H and no two rects overlap. The overlap check rasterises onto the compressed grid of all
 * rect edges, so it is exact and linear in the covered cells for grid-like tilings.
 */
export function assertPartition(rects: readonly Rect[], width: number, height: number): void {
  let area = 0;
  const xs = new Set<number>([0, width]);
  const ys = new Set<number>([0, height]);
  for (const q of rects) {
    assert.ok(q.x0 >= 0 && q.y0 >= 0 && q.x1 <= width && q.y1 <= height, `rect ${JSON.stringify(q)} outside ${width}×${height}`);
    assert.ok(q.x1 > q.x0 && q.y1 > q.y0, `empty rect ${JSON.stringify(q)}`);
    area += (q.x1 - q.x0) * (q.y1 - q.y0);
    xs.add(q.x0).add(q.x1);
    ys.add(q.y0).add(q.y1);
  }
  assert.equal(area, width * height, 'areas must sum to W×H');
  const xa = [...xs].sort((a, b) => a - b);
  const ya = [...ys].sort((a, b) => a - b);
  const xi = new Map(xa.map((v, i) => [v, i]));
  const yi = new Map(ya.map((v, i) => [v, i]));
  const cols = xa.length - 1;
  const seen = new Uint8Array(cols * (ya.length - 1));
  for (const q of rects) {
    const cx0 = xi.get(q.x0) ?? 0;
    const cx1 = xi.get(q.x1) ?? 0;
    const cy0 = yi.get(q.y0) ?? 0;
    const cy1 = yi.get(q.y1) ?? 0;
    for (let y = cy0; y < cy1; y++) {
      for (let x = cx0; x < cx1; x++) {
        const idx = y * cols + x;
        assert.equal(seen[idx], 0, `overlap at cell ${x},${y} by ${JSON.stringify(q)}`);
        seen[idx] = 1;
      }
    }
  }
}

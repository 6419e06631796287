/**
 * Resolution bands and full-resolution cells (pure). A request at scale s (output px per full-res px)
 * belongs to band b = round(log2(1/s)), clamped to 0..MAX_BAND; at band b the image is a grid of
 * cells of CELL_PX·2^b full-resolution pixels (CELL_PX output pixels each), and a request reveals
 * the cells whose centre lies in its full-resolution rectangle. This is the detector's IIIF grid
 * (services/core/detect/cells.ts), applied to every protocol through the stored rect and scale.
 */
import { CELL_PX } from '../core/detect/cells.ts';

export { CELL_PX };
export const MAX_BAND = 12;
/** Requests revealing more cells than this (a huge region in one go) are not expanded. */
export const MAX_CELLS_PER_REQUEST = 4096;

export interface BandGrid {
  readonly band: number;
  /** Output px per full-resolution px. */
  readonly scale: number;
  /** Cell edge in full-resolution pixels. */
  readonly cellPx: number;
  readonly cols: number;
  readonly rows: number;
  readonly cells: number;
  /** Long edge (px) of the image reconstructed at this band. */
  readonly longEdge: number;
}

export function bandGrid(width: number, height: number, band: number): BandGrid {
  const cellPx = CELL_PX * 2 ** band;
  const cols = Math.max(1, Math.ceil(width / cellPx - 0.5));
  const rows = Math.max(1, Math.ceil(height / cellPx - 0.5));
  return { band, scale: 2 ** -band, cellPx, cols, rows, cells: cols * rows, longEdge: Math.round(Math.max(width, height) * 2 ** -band) };
}

/** Cells needed for a coverage fraction (at least one). */
export function cellsNeeded(grid: BandGrid, coverage: number): number {
  return Math.max(1, Math.ceil(coverage * grid.cells - 1e-9));
}

/**
 * SQL (no values in it: `where` is a constant fragment with {placeholders}) yielding one row per
 * (request, revealed cell): client, image_id, ts, band, cx, cy, source, partition, line.
 */
export function cellRowsSql(where: string): string {
  return `SELECT client, image_id, ts, band, arrayJoin(range(c0, c1)) AS cx, arrayJoin(range(r0, r1)) AS cy
  FROM (
    SELECT client, image_id, ts,
      toUInt8(least(${MAX_BAND}, greatest(0, round(-log2(scale))))) AS band,
      ${CELL_PX} * pow(2, band) AS cs,
      toUInt32(greatest(0, ceil(rect_x / cs - 0.5))) AS c0, toUInt32(greatest(0, ceil((rect_x + rect_w) / cs - 0.5))) AS c1,
      toUInt32(greatest(0, ceil(rect_y / cs - 0.5))) AS r0, toUInt32(greatest(0, ceil((rect_y + rect_h) / cs - 0.5))) AS r1
    FROM tile_requests
    WHERE (${where}) AND kind IN ('tile', 'region', 'full', 'thumbnail') AND status < 400 AND scale > 0 AND rect_w > 0 AND rect_h > 0
  )
  WHERE c1 > c0 AND r1 > r0 AND (c1 - c0) * (r1 - r0) <= ${MAX_CELLS_PER_REQUEST}`;
}

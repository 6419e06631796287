/**
 * Resolution bands and full-resolution cells (pure). A request at scale s (output px per full-res px)
 * belongs to band b = round(log2(1/s)), clamped to 0..MAX_BAND; at band b the image is a grid of
 * cells of CELL_PX·2^b full-resolution pixels (CELL_PX output pixels each), and a request reveals
 * the cells whose centre lies in its full-resolution rectangle. This is the detector's IIIF grid
 * (services/core/detect/cells.ts), applied to every protocol through the stored rect and scale.
 * Band 0 is full resolution, larger is coarser: the meaning the hunts use too (core/hunts/findings.ts
 * `bandOfScale`, services/hunts/huntQueries.ts). No table stores a band; it comes from `scale`.
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

/** Band of a scale: round(log2(1/scale)) clamped to 0..MAX_BAND (the SQL below computes the same). */
export function bandOfScale(scale: number): number {
  return Math.min(MAX_BAND, Math.max(0, Math.round(-Math.log2(scale))));
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

/** Columns a revealed-cells query can be grouped by besides (band, cx, cy). */
export type CellKey = 'client' | 'image_id';

/**
 * Where requests are read from: `tile_requests` (ordered by client, ts: client-first questions) or
 * `image_requests` (its image rows ordered by image_id, ts: image-first questions).
 */
export type RequestTable = 'tile_requests' | 'image_requests';

/**
 * One row per request that reveals cells (constant SQL: `where` holds only {placeholders}): the
 * `keys` columns, ts, band and the revealed cell rectangle [c0, c1) × [r0, r1).
 */
function revealingRequestsSql(where: string, keys: readonly CellKey[], from: RequestTable): string {
  const k = keys.map((c) => `${c}, `).join('');
  return `SELECT ${k}ts, band, c0, c1, r0, r1 FROM (
        SELECT ${k}ts,
          toUInt8(least(${MAX_BAND}, greatest(0, round(-log2(scale))))) AS band,
          ${CELL_PX} * pow(2, band) AS cs,
          toUInt32(greatest(0, ceil(rect_x / cs - 0.5))) AS c0, toUInt32(greatest(0, ceil((rect_x + rect_w) / cs - 0.5))) AS c1,
          toUInt32(greatest(0, ceil(rect_y / cs - 0.5))) AS r0, toUInt32(greatest(0, ceil((rect_y + rect_h) / cs - 0.5))) AS r1
        FROM ${from}
        WHERE (${where}) AND kind IN ('tile', 'region', 'full', 'thumbnail') AND status < 400 AND scale > 0 AND rect_w > 0 AND rect_h > 0
      )
      WHERE c1 > c0 AND r1 > r0 AND (c1 - c0) * (r1 - r0) <= ${MAX_CELLS_PER_REQUEST}`;
}

/**
 * SQL yielding one row per revealed cell: the `keys` columns, band, cx, cy and first_ts (when the
 * cell was first revealed).
 *
 * Requests are first reduced to distinct (keys, band, cell rectangle) with min(ts) and only then
 * expanded into cells, so repeated tiles are expanded once.
 */
export function revealedCellsSql(where: string, keys: readonly CellKey[], from: RequestTable): string {
  const k = keys.map((c) => `${c}, `).join('');
  return `SELECT ${k}band, cx, cy, min(rect_ts) AS first_ts FROM (
    SELECT ${k}band, arrayJoin(range(c0, c1)) AS cx, arrayJoin(range(r0, r1)) AS cy, rect_ts FROM (
      SELECT ${k}band, c0, c1, r0, r1, min(ts) AS rect_ts FROM (${revealingRequestsSql(where, keys, from)})
      GROUP BY ${k}band, c0, c1, r0, r1
    )
  )
  GROUP BY ${k}band, cx, cy`;
}

/**
 * SQL yielding, for images selected by `where`, one row per (image_id, band, client) and one per
 * (image_id, band) for all clients together (`union_row` = 1, client left at its default):
 * `cell_map` = (cell ids, first-reveal time of each), so the number of cells is length(cell_map.1).
 *
 * One aggregation over image_requests, no ARRAY JOIN: each request contributes its cell ids and its
 * time to a minMap, and GROUPING SETS computes the union in the same pass.
 */
export function imageCellMapsSql(where: string): string {
  return `SELECT image_id, client, band, grouping(client) AS union_row,
      minMap(cell_ids, arrayWithConstant(length(cell_ids), ts)) AS cell_map
    FROM (
      SELECT image_id, client, band, ts,
        arrayFlatten(arrayMap(y -> arrayMap(x -> toUInt64(y) * 4294967296 + x, range(c0, c1)), range(r0, r1))) AS cell_ids
      FROM (${revealingRequestsSql(where, ['image_id', 'client'], 'image_requests')})
    )
    GROUP BY GROUPING SETS ((image_id, band, client), (image_id, band))`;
}

import type { ImageGeometry, Protocol, TileRequest } from '../types.ts';

/**
 * Coverage cells. Each request marks cells of one resolution key ("res") of its image:
 * - pyramid protocols (DZI, Zoomify, XYZ/TMS/WMTS, IIP): res = the protocol level, cell = the tile.
 *   Levels are absolute in these protocols, so cells never move when the learned size of an image grows.
 * - IIIF: res = IIIF_RES_BASE − band, band = round(log2(1/scale)); cells are a fixed grid of
 *   CELL_PX·2^band full-resolution pixels, marked when their centre lies in the revealed rectangle.
 */
export const IIIF_RES_BASE = 64;
export const CELL_PX = 256;
/** A request revealing more cells than this marks its band as wholly covered instead of listing cells. */
export const MAX_CELLS_PER_REQUEST = 4096;
/** Cell key = row · 2^20 + col (columns up to 2^20 cover XYZ zoom 20). */
const ROW_STRIDE = 1_048_576;

export interface CellMark {
  readonly res: number;
  /** Cell keys, or 'whole' when the request revealed the whole band. */
  readonly cells: readonly number[] | 'whole';
  /** Linear tile index of the request's first cell in its band (row-major), for raster-order tracking. */
  readonly order: number;
}

export function isPyramid(protocol: Protocol): boolean {
  return protocol === 'dzi' || protocol === 'zoomify' || protocol === 'xyz' || protocol === 'tms' || protocol === 'wmts' || protocol === 'iip';
}

export function cellKey(col: number, row: number): number {
  return row * ROW_STRIDE + col;
}

/** Grid, scale and long edge of one res of an image, given its geometry. */
export interface ResGrid {
  readonly cols: number;
  readonly rows: number;
  /** Output px per full-resolution px, relative to the deepest known level (≤ 1). */
  readonly scale: number;
  /** Long edge in output pixels a client reconstructs at this res. */
  readonly longEdge: number;
  /** Output pixels of the whole image at this res (width × height at the band). */
  readonly pixels: number;
}

export function resGrid(protocol: Protocol, res: number, geom: ImageGeometry): ResGrid | null {
  if (geom.width <= 0 || geom.height <= 0) return null;
  if (isPyramid(protocol)) {
    const k = Math.max(0, geom.maxLevel - res);
    const div = 2 ** k;
    const lw = Math.ceil(geom.width / div);
    const lh = Math.ceil(geom.height / div);
    const t = geom.tileSize > 0 ? geom.tileSize : 256;
    return { cols: Math.max(1, Math.ceil(lw / t)), rows: Math.max(1, Math.ceil(lh / t)), scale: 1 / div, longEdge: Math.max(lw, lh), pixels: lw * lh };
  }
  const band = IIIF_RES_BASE - res;
  const cs = CELL_PX * 2 ** band;
  const scale = 2 ** -band;
  // Cells are marked by their centre, so the grid holds the cells whose centre lies inside the image.
  return {
    cols: Math.max(1, Math.ceil(geom.width / cs - 0.5)),
    rows: Math.max(1, Math.ceil(geom.height / cs - 0.5)),
    scale,
    longEdge: Math.round(Math.max(geom.width, geom.height) * scale),
    pixels: Math.round(geom.width * scale) * Math.round(geom.height * scale),
  };
}

/** Cells revealed by one successful request; null when it reveals nothing measurable. */
export function cellsOf(req: TileRequest, geom: ImageGeometry | undefined): CellMark | null {
  if (req.kind !== 'tile' && req.kind !== 'region' && req.kind !== 'full' && req.kind !== 'thumbnail') return null;
  if (isPyramid(req.protocol) && req.level >= 0 && req.col >= 0 && req.row >= 0) {
    let cols = ROW_STRIDE;
    if (geom) {
      const g = resGrid(req.protocol, req.level, geom);
      if (g) cols = g.cols;
    }
    return { res: req.level, cells: [cellKey(req.col, req.row)], order: req.row * cols + req.col };
  }
  if (req.scale <= 0) return null;
  const band = Math.max(0, Math.round(-Math.log2(req.scale)));
  const res = IIIF_RES_BASE - band;
  if (req.rect === null) {
    // Whole image at a known scale but unknown size (e.g. IIIF full/max before any size is learned).
    return req.kind === 'full' || req.kind === 'thumbnail' ? { res, cells: 'whole', order: 0 } : null;
  }
  const cs = CELL_PX * 2 ** band;
  const { x0, y0, x1, y1 } = req.rect;
  const c0 = Math.max(0, Math.ceil(x0 / cs - 0.5));
  const c1 = Math.ceil(x1 / cs - 0.5);
  const r0 = Math.max(0, Math.ceil(y0 / cs - 0.5));
  const r1 = Math.ceil(y1 / cs - 0.5);
  const cols = geom ? Math.max(1, Math.ceil(geom.width / cs)) : ROW_STRIDE;
  if (c1 <= c0 || r1 <= r0) return { res, cells: [], order: r0 * cols + c0 };
  const n = (c1 - c0) * (r1 - r0);
  if (n > MAX_CELLS_PER_REQUEST) return { res, cells: 'whole', order: 0 };
  const cells: number[] = [];
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) cells.push(cellKey(c, r));
  return { res, cells, order: r0 * cols + c0 };
}

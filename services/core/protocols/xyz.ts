/**
 * Web-map tiles: XYZ, TMS, WMTS (KVP and RESTful) and ArcGIS `tile/{level}/{row}/{col}`.
 * Rows are always stored in XYZ numbering (row 0 at the top). See docs/tile-protocols.md, "XYZ, TMS and WMTS".
 */
import type { ImageGeometry, Rect, TileAddress } from '../types.ts';
import { infoAddress, plainAddress, tileAddress } from './address.ts';
import { NO_PLACEMENT, type Placement, clipRect, hasSize } from './rect.ts';
import { isDigits } from './target.ts';

/** Deepest zoom accepted for XYZ/TMS paths (global grids; deeper numbers are not map tiles). */
export const MAX_XYZ_ZOOM = 30;

const XYZ_LAST = /^(\d{1,10})(?:@\d(?:\.\d+)?x)?\.(?:png|jpg|jpeg|webp|pbf|mvt)$/i;
const REST_LAST = /^(\d{1,10})(?:\.[A-Za-z0-9]{1,5})?$/;
const MATRIX_LEVEL = /(\d{1,3})$/;

/** TMS row (counted from the bottom) → XYZ row: y_xyz = 2^z − 1 − y_tms. */
export function tmsToXyzRow(z: number, yTms: number): number {
  return 2 ** z - 1 - yTms;
}

/**
 * Recognise `/{layer…}/{z}/{x}/{y}.{png|jpg|jpeg|webp|pbf|mvt}` (optional `@2x` retina suffix).
 * Image id = the layer path before z as written ('/' when empty). TMS when a prefix segment is
 * `tms` (case-insensitive): y is converted to XYZ numbering. Out-of-range numbers (z > 30,
 * x or y ≥ 2^z) are not map tiles: undefined (the caller classifies the path as a plain file).
 */
export function recogniseXyzSegments(segs: readonly string[]): TileAddress | undefined {
  const n = segs.length;
  const last = segs[n - 1];
  if (last === undefined || n < 4) return undefined;
  const m = XYZ_LAST.exec(last);
  const zs = segs[n - 3];
  const xs = segs[n - 2];
  if (m === null || !isDigits(zs, 2) || !isDigits(xs, 10)) return undefined;
  const z = Number(zs);
  const x = Number(xs);
  const y = Number(m[1]);
  const span = 2 ** z;
  if (z > MAX_XYZ_ZOOM || x >= span || y >= span) return undefined;
  let tms = false;
  for (let i = 0; i < n - 3; i++) {
    const s = segs[i];
    if (s !== undefined && s.length === 3 && s.toLowerCase() === 'tms') {
      tms = true;
      break;
    }
  }
  const layer = segs.slice(0, n - 3).join('/') || '/';
  return tms ? tileAddress('tms', layer, z, x, tmsToXyzRow(z, y)) : tileAddress('xyz', layer, z, x, y);
}

/**
 * Recognise ArcGIS cached tiles `…/{MapServer|ImageServer}/tile/{level}/{row}/{col}[.ext]` as
 * protocol 'wmts' (rows from the top). Image id = the service path up to and including MapServer/ImageServer.
 */
export function recogniseArcgisSegments(segs: readonly string[]): TileAddress | undefined {
  const n = segs.length;
  if (n < 6) return undefined;
  const tile = segs[n - 4];
  const service = segs[n - 5];
  if (tile !== 'tile' || service === undefined) return undefined;
  const sl = service.toLowerCase();
  if (sl !== 'mapserver' && sl !== 'imageserver') return undefined;
  const m = REST_LAST.exec(segs[n - 1] ?? '');
  const ls = segs[n - 3];
  const rs = segs[n - 2];
  if (m === null || !isDigits(ls, 2) || !isDigits(rs, 10)) return undefined;
  return tileAddress('wmts', segs.slice(0, n - 4).join('/'), Number(ls), Number(m[1]), Number(rs));
}

/**
 * Recognise WMTS RESTful tiles when the path has a `wmts` segment (case-insensitive):
 * `…/wmts/…/{TileMatrix}/{TileRow}/{TileCol}[.ext]`, TileMatrix numeric or ending in `:n`
 * (`EPSG:3857:14` → 14). Image id = the path before TileMatrix (layer/style/TileMatrixSet as
 * written). Also `…/WMTSCapabilities.xml` → info with id ''. Other RESTful templates need a custom pattern.
 */
export function recogniseWmtsRestSegments(segs: readonly string[]): TileAddress | undefined {
  const n = segs.length;
  const last = segs[n - 1];
  if (last === undefined) return undefined;
  let wmtsAt = -1;
  for (let i = 0; i < n - 1; i++) {
    const s = segs[i];
    if (s !== undefined && s.length === 4 && s.toLowerCase() === 'wmts') {
      wmtsAt = i;
      break;
    }
  }
  if (wmtsAt < 0) return undefined;
  if (last.toLowerCase() === 'wmtscapabilities.xml') return infoAddress('wmts', '');
  if (n - 3 <= wmtsAt) return undefined;
  const m = REST_LAST.exec(last);
  const rs = segs[n - 2];
  const ms = MATRIX_LEVEL.exec(segs[n - 3] ?? '');
  if (m === null || !isDigits(rs, 10) || ms === null) return undefined;
  return tileAddress('wmts', segs.slice(0, n - 3).join('/'), Number(ms[1]), Number(m[1]), Number(rs));
}

/**
 * Recognise WMTS KVP from parsed query parameters (names lower-cased): `REQUEST=GetTile` with
 * `TILEMATRIX`, `TILEROW`, `TILECOL` (SERVICE, when present, must be WMTS) → tile with image id =
 * LAYER; `SERVICE=WMTS&REQUEST=GetCapabilities` → info (id = LAYER or ''). Missing or
 * non-numeric matrix/row/col → kind 'other'. Undefined when the query is not WMTS.
 */
export function recogniseWmtsKvp(params: ReadonlyMap<string, string>): TileAddress | undefined {
  const service = params.get('service');
  const request = (params.get('request') ?? '').toLowerCase();
  if (service !== undefined && service.toLowerCase() !== 'wmts') return undefined;
  const layer = params.get('layer') ?? '';
  if (request === 'getcapabilities') return service === undefined ? undefined : infoAddress('wmts', layer);
  if (request !== 'gettile') return service === undefined ? undefined : plainAddress('wmts', layer, 'other');
  const ms = MATRIX_LEVEL.exec(params.get('tilematrix') ?? '');
  const rs = params.get('tilerow');
  const cs = params.get('tilecol');
  if (ms === null || !isDigits(rs, 10) || !isDigits(cs, 10)) return plainAddress('wmts', layer, 'other');
  return tileAddress('wmts', layer, Number(ms[1]), Number(cs), Number(rs));
}

/** Deepest-zoom column and row ranges, half-open: cols [col0, col1), rows [row0, row1). */
export interface DeepestCells {
  readonly col0: number;
  readonly col1: number;
  readonly row0: number;
  readonly row1: number;
  /** k = Zmax − z; s = 2^−k. */
  readonly k: number;
}

/**
 * Deepest-zoom cells covered by XYZ tile (z, x, y) when the deepest zoom is zmax:
 * columns [x·2^k, (x+1)·2^k) and rows likewise, k = zmax − z. For z > zmax (overzoom) the range
 * is fractional.
 */
export function xyzDeepestCells(z: number, x: number, y: number, zmax: number): DeepestCells {
  const k = zmax - z;
  const f = 2 ** k;
  return { col0: x * f, col1: (x + 1) * f, row0: y * f, row1: (y + 1) * f, k };
}

/**
 * Placement of an XYZ-numbered tile (also TMS/WMTS after row conversion) in deepest-zoom pixels:
 * the deepest cells × tileSize, clipped to the layer extent W×H; s = 2^−k capped at 1.
 * Needs geometry with maxLevel (Zmax) ≥ 0; nothing otherwise or when outside the extent.
 */
export function xyzTilePlacement(g: ImageGeometry, z: number, x: number, y: number): Placement {
  if (!hasSize(g) || !(g.tileSize > 0) || g.maxLevel < 0 || z < 0 || x < 0 || y < 0) return NO_PLACEMENT;
  const c = xyzDeepestCells(z, x, y, g.maxLevel);
  const t = g.tileSize;
  const rect = clipRect(c.col0 * t, c.row0 * t, c.col1 * t, c.row1 * t, g.width, g.height);
  return rect === null ? NO_PLACEMENT : { rect, scale: c.k >= 0 ? 2 ** -c.k : 1 };
}

/** Inverse of `xyzTilePlacement` for z ≤ Zmax: zoom, x and (XYZ) y of a placement. */
export function xyzTileAt(g: ImageGeometry, rect: Rect, scale: number): { readonly level: number; readonly col: number; readonly row: number } | undefined {
  const k = Math.round(-Math.log2(scale));
  if (!(scale > 0) || k < 0 || 2 ** -k !== scale) return undefined;
  const span = g.tileSize * 2 ** k;
  return { level: g.maxLevel - k, col: Math.floor(rect.x0 / span), row: Math.floor(rect.y0 / span) };
}

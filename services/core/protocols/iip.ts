/**
 * IIPImage (iipsrv): native FIF protocol (JTL/PTL/WTL/ATL tiles, RGN/WID/HEI/CVT exports, OBJ
 * descriptors) and the server's IIIF, DeepZoom and Zoomify modes. See docs/tile-protocols.md, "IIPImage".
 */
import type { ImageGeometry, TileAddress } from '../types.ts';
import { MAX_PYRAMID_LEVEL, infoAddress, plainAddress, tileAddress } from './address.ts';
import { recogniseDziSegments } from './dzi.ts';
import { recogniseIiifSegments } from './iiif.ts';
import type { RecogniseOptions } from './options.ts';
import { NO_PLACEMENT, type Placement, capScale, clipRect, hasSize } from './rect.ts';
import { isDigits } from './target.ts';
import { recogniseZoomifySegments } from './zoomify.ts';

const TILE_COMMANDS = ['jtl', 'ptl', 'wtl', 'atl'] as const;
const TILE_ARG = /^(\d{1,3}),(\d{1,9})$/;
const FRACTION = /^(?:\d{1,9}(?:\.\d*)?|\.\d+)$/;

/** IIP region export as stored on TileAddress.iipRegion. */
export type IipRegion = NonNullable<TileAddress['iipRegion']>;

/**
 * Recognise an iipsrv request from parsed query parameters (names lower-cased, values decoded once).
 * Commands are case-insensitive and order-free. Precedence: `IIIF=`, `DeepZoom=`, `Zoomify=`, then `FIF=`.
 *
 * - `IIIF=/img.tif/{region}/{size}/{rot}/{q}.{fmt}` → protocol iiif2/iiif3 (IIIF semantics), image id =
 *   everything before the region (`/img.tif`); `IIIF=/img.tif/info.json` → info.
 * - `DeepZoom=/img.tif_files/L/x_y.jpg` → protocol 'dzi', id `/img.tif` (geometry: overlap 0);
 *   `DeepZoom=/img.tif.dzi` → info.
 * - `Zoomify=/img.tif/TileGroupN/z-x-y.jpg` → protocol 'zoomify', id `/img.tif`.
 * - `FIF=/img.tif` with `JTL=r,i` (or PTL/WTL/ATL) → protocol 'iip', kind 'tile', level r,
 *   col = the row-major tile index i, row = −1 (the column count needs the image width; `resolve`
 *   converts i to col,row when geometry is known).
 * - `FIF` + `CVT` (with optional `RGN=x,y,w,h` fractions, `WID`, `HEI`) → iipRegion with outW/outH
 *   (0 when absent); kind 'region' for a partial RGN, else 'thumbnail' when max(WID,HEI) is given and
 *   ≤ thumbnailMaxEdge, else 'full'.
 * - `FIF` + `OBJ=` → info. Anything else with FIF (or malformed values) → protocol 'iip', kind 'other'.
 * Returns undefined when none of FIF/IIIF/DeepZoom/Zoomify is present.
 */
export function recogniseIipQuery(params: ReadonlyMap<string, string>, options: RecogniseOptions): TileAddress | undefined {
  const iiif = params.get('iiif');
  if (iiif !== undefined) return recogniseIiifSegments(iiif.split('/'), true, options) ?? plainAddress('iip', '', 'other');
  const dz = params.get('deepzoom');
  if (dz !== undefined) return recogniseDziSegments(dz.split('/')) ?? plainAddress('iip', '', 'other');
  const zf = params.get('zoomify');
  if (zf !== undefined) return recogniseZoomifySegments(zf.split('/')) ?? plainAddress('iip', '', 'other');
  const fif = params.get('fif');
  if (fif === undefined) return undefined;
  for (const cmd of TILE_COMMANDS) {
    const v = params.get(cmd);
    if (v === undefined) continue;
    const m = TILE_ARG.exec(v);
    if (m === null || Number(m[1]) > MAX_PYRAMID_LEVEL) return plainAddress('iip', fif, 'other');
    return tileAddress('iip', fif, Number(m[1]), Number(m[2]), -1);
  }
  if (params.has('cvt')) return exportAddress(fif, params, options);
  if (params.has('obj')) return infoAddress('iip', fif);
  return plainAddress('iip', fif, 'other');
}

function exportAddress(fif: string, params: ReadonlyMap<string, string>, options: RecogniseOptions): TileAddress {
  const wid = params.get('wid');
  const hei = params.get('hei');
  if ((wid !== undefined && !isDigits(wid)) || (hei !== undefined && !isDigits(hei))) return plainAddress('iip', fif, 'other');
  const outW = wid === undefined ? 0 : Number(wid);
  const outH = hei === undefined ? 0 : Number(hei);
  let x = 0;
  let y = 0;
  let w = 1;
  let h = 1;
  const rgn = params.get('rgn');
  if (rgn !== undefined) {
    const parts = rgn.split(',');
    if (parts.length !== 4 || !parts.every((p) => FRACTION.test(p))) return plainAddress('iip', fif, 'other');
    [x, y, w, h] = parts.map(Number) as [number, number, number, number];
    if (!(w > 0 && h > 0) || x >= 1 || y >= 1) return plainAddress('iip', fif, 'other');
  }
  const whole = x <= 0 && y <= 0 && x + w >= 1 && y + h >= 1;
  const edge = Math.max(outW, outH);
  const kind = !whole ? 'region' : edge > 0 && edge <= options.thumbnailMaxEdge ? 'thumbnail' : 'full';
  return { protocol: 'iip', imageId: fif, kind, level: -1, col: -1, row: -1, iipRegion: { x, y, w, h, outW, outH } };
}

/** Resolution count N of an iipsrv pyramid when not given: halve (ceil) until both sides ≤ T; N = 1 + ⌈log2(max(W,H)/T)⌉. */
export function iipResolutionCount(width: number, height: number, tileSize: number): number {
  if (!(width > 0 && height > 0 && tileSize > 0)) return 0;
  let n = 1;
  let m = Math.max(width, height);
  while (m > tileSize) {
    m = Math.ceil(m / 2);
    n++;
  }
  return n;
}

/** Grid of resolution r: Wr = ⌈W/2^k⌉, cols = ⌈Wr/T⌉ (k = N−1−r). Undefined outside 0..N−1. */
export function iipResolutionGrid(g: ImageGeometry, r: number): { readonly cols: number; readonly rows: number; readonly k: number } | undefined {
  if (!hasSize(g) || !(g.tileSize > 0)) return undefined;
  const n = g.maxLevel >= 0 ? g.maxLevel + 1 : iipResolutionCount(g.width, g.height, g.tileSize);
  const k = n - 1 - r;
  if (r < 0 || k < 0) return undefined;
  const f = 2 ** k;
  return { cols: Math.ceil(Math.ceil(g.width / f) / g.tileSize), rows: Math.ceil(Math.ceil(g.height / f) / g.tileSize), k };
}

/** Placement of JTL tile (r, i) plus its column and row (row-major i = row·cols + col); col/row −1 when unknown. */
export function iipTilePlacement(g: ImageGeometry, r: number, i: number): Placement & { readonly col: number; readonly row: number } {
  const grid = iipResolutionGrid(g, r);
  if (grid === undefined || i < 0 || i >= grid.cols * grid.rows) return { ...NO_PLACEMENT, col: -1, row: -1 };
  const col = i % grid.cols;
  const row = Math.floor(i / grid.cols);
  const span = g.tileSize * 2 ** grid.k;
  const rect = clipRect(col * span, row * span, (col + 1) * span, (row + 1) * span, g.width, g.height);
  return rect === null ? { ...NO_PLACEMENT, col, row } : { rect, scale: 2 ** -grid.k, col, row };
}

/**
 * Placement of an RGN/WID/HEI export: R = round(fractions × W, H) clipped; s = min(WID/rw, HEI/rh)
 * over the sizes given, capped at 1. With neither WID nor HEI, s = 1 (iipsrv exports the region at
 * full resolution, subject to its MAX_CVT limit which the log does not show). Without image size:
 * rect null, s = 1 when no output size is given, else 0 (unknown).
 */
export function iipRegionPlacement(g: ImageGeometry | undefined, region: IipRegion): Placement {
  if (g === undefined || !hasSize(g)) return region.outW > 0 || region.outH > 0 ? NO_PLACEMENT : { rect: null, scale: 1 };
  const rect = clipRect(
    Math.round(region.x * g.width),
    Math.round(region.y * g.height),
    Math.round((region.x + region.w) * g.width),
    Math.round((region.y + region.h) * g.height),
    g.width,
    g.height,
  );
  if (rect === null) return NO_PLACEMENT;
  const sw = region.outW > 0 ? region.outW / (rect.x1 - rect.x0) : Number.POSITIVE_INFINITY;
  const sh = region.outH > 0 ? region.outH / (rect.y1 - rect.y0) : Number.POSITIVE_INFINITY;
  const s = Math.min(sw, sh);
  return { rect, scale: s === Number.POSITIVE_INFINITY ? 1 : capScale(s) };
}

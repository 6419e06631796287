/**
 * URL builders per protocol: the inverse of recognition, for round-trip tests and the traffic
 * simulator. Pure string functions; every URL built here is recognised back to the same address.
 */
import type { IiifRegion, IiifSize, Rect } from '../types.ts';
import { type IiifTile, formatIiifRegion, formatIiifSize } from './iiif.ts';
import { tmsToXyzRow } from './xyz.ts';
import { type ZoomifyTier, zoomifyTileGroup } from './zoomify.ts';

/** Rotation, quality and format of an IIIF image request (defaults 0, default, jpg). */
export interface IiifUrlOptions {
  readonly rotation?: string;
  readonly quality?: string;
  readonly format?: string;
}

/** Encode a query value but keep `/ , :` readable, as iipsrv and WMTS clients do. */
function queryValue(v: string): string {
  return encodeURIComponent(v).replace(/%2F/gi, '/').replace(/%2C/gi, ',').replace(/%3A/gi, ':');
}

function joinPrefix(prefix: string): string {
  return prefix === '/' ? '' : prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}

/** `{prefix}/{identifier}/{region}/{size}/{rotation}/{quality}.{format}`; the identifier is percent-encoded (`/` → `%2F`). */
export function iiifImageUrl(prefix: string, identifier: string, region: IiifRegion, size: IiifSize, opts: IiifUrlOptions = {}): string {
  return `${joinPrefix(prefix)}/${encodeURIComponent(identifier)}/${formatIiifRegion(region)}/${formatIiifSize(size)}/${opts.rotation ?? '0'}/${opts.quality ?? 'default'}.${opts.format ?? 'jpg'}`;
}

/** `{prefix}/{identifier}/info.json`. */
export function iiifInfoUrl(prefix: string, identifier: string): string {
  return `${joinPrefix(prefix)}/${encodeURIComponent(identifier)}/info.json`;
}

/**
 * A grid tile as viewers request it: 2.x `x,y,w,h/⌈w/sf⌉,` (Leaflet-IIIF, OSD 2.x) or
 * 3.0 `x,y,w,h/⌈w/sf⌉,⌈h/sf⌉` (OSD 3.0).
 */
export function iiifTileUrl(prefix: string, identifier: string, tile: IiifTile, version: 'iiif2' | 'iiif3', opts: IiifUrlOptions = {}): string {
  const size: IiifSize = version === 'iiif2' ? { type: 'w', w: tile.outW, upscale: false } : { type: 'wh', w: tile.outW, h: tile.outH, upscale: false };
  return iiifImageUrl(prefix, identifier, tile.region, size, opts);
}

/** The IIIF request revealing `rect` at `scale` (region `x,y,w,h`, size `round(w·s),`), e.g. from a resolved TileRequest. */
export function iiifRectUrl(prefix: string, identifier: string, rect: Rect, scale: number, opts: IiifUrlOptions = {}): string {
  const w = rect.x1 - rect.x0;
  const region: IiifRegion = { type: 'px', x: rect.x0, y: rect.y0, w, h: rect.y1 - rect.y0 };
  return iiifImageUrl(prefix, identifier, region, { type: 'w', w: Math.max(1, Math.round(w * scale)), upscale: false }, opts);
}

/** `{imageId}_files/{level}/{col}_{row}.{format}` (imageId = descriptor path without `.dzi`). */
export function dziTileUrl(imageId: string, level: number, col: number, row: number, format = 'jpg'): string {
  return `${imageId}_files/${level}/${col}_${row}.${format}`;
}

/** `{imageId}.dzi`. */
export function dziDescriptorUrl(imageId: string): string {
  return `${imageId}.dzi`;
}

/**
 * `{folder}/TileGroup{g}/{z}-{x}-{y}.jpg` with the TileGroup computed from the tier list
 * (`zoomifyTiers`); undefined when z is not a tier.
 */
export function zoomifyTileUrl(folder: string, tiers: readonly ZoomifyTier[], z: number, x: number, y: number): string | undefined {
  const g = zoomifyTileGroup(tiers, z, x, y);
  return g === undefined ? undefined : `${joinPrefix(folder)}/TileGroup${g}/${z}-${x}-${y}.jpg`;
}

/** `{folder}/ImageProperties.xml`. */
export function zoomifyPropertiesUrl(folder: string): string {
  return `${joinPrefix(folder)}/ImageProperties.xml`;
}

/** `{layer}/{z}/{x}/{y}.{ext}` (y from the top). */
export function xyzTileUrl(layer: string, z: number, x: number, y: number, ext = 'png'): string {
  return `${joinPrefix(layer)}/${z}/${x}/${y}.${ext}`;
}

/**
 * TMS URL `{layer}/{z}/{x}/{yTms}.{ext}` for the XYZ row `yXyz` (converted to count from the bottom).
 * Recognition needs a `tms` segment in `layer` (e.g. `/tms/1.0.0/osm`) or a custom pattern.
 */
export function tmsTileUrl(layer: string, z: number, x: number, yXyz: number, ext = 'png'): string {
  return `${joinPrefix(layer)}/${z}/${x}/${tmsToXyzRow(z, yXyz)}.${ext}`;
}

/** WMTS KVP GetTile: `{base}?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=…&STYLE=…&TILEMATRIXSET=…&TILEMATRIX=…&TILEROW=…&TILECOL=…&FORMAT=…`. */
export function wmtsKvpTileUrl(base: string, layer: string, matrixSet: string, matrix: string | number, row: number, col: number, format = 'image/png', style = 'default'): string {
  return (
    `${base}?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${queryValue(layer)}&STYLE=${queryValue(style)}` +
    `&TILEMATRIXSET=${queryValue(matrixSet)}&TILEMATRIX=${queryValue(String(matrix))}&TILEROW=${row}&TILECOL=${col}&FORMAT=${queryValue(format)}`
  );
}

/** WMTS RESTful `{prefix}/{TileMatrix}/{TileRow}/{TileCol}.{ext}`; `prefix` must contain a `wmts` segment to be recognised. */
export function wmtsRestTileUrl(prefix: string, matrix: string | number, row: number, col: number, ext = 'png'): string {
  return `${joinPrefix(prefix)}/${matrix}/${row}/${col}.${ext}`;
}

/** ArcGIS cached tile `{service}/tile/{level}/{row}/{col}`; `service` ends in MapServer or ImageServer. */
export function arcgisTileUrl(service: string, level: number, row: number, col: number): string {
  return `${joinPrefix(service)}/tile/${level}/${row}/${col}`;
}

/** iipsrv tile `{base}?FIF={fif}&JTL={r},{i}` (command JTL, PTL, WTL or ATL). */
export function iipTileUrl(base: string, fif: string, r: number, i: number, command: 'JTL' | 'PTL' | 'WTL' | 'ATL' = 'JTL'): string {
  return `${base}?FIF=${queryValue(fif)}&${command}=${r},${i}`;
}

/** iipsrv export `{base}?FIF=…&WID=…&HEI=…&RGN=x,y,w,h&CVT=jpeg` (WID/HEI/RGN omitted when undefined). */
export function iipRegionUrl(base: string, fif: string, region?: { readonly x: number; readonly y: number; readonly w: number; readonly h: number }, outW?: number, outH?: number): string {
  let q = `${base}?FIF=${queryValue(fif)}`;
  if (outW !== undefined) q += `&WID=${outW}`;
  if (outH !== undefined) q += `&HEI=${outH}`;
  if (region !== undefined) q += `&RGN=${region.x},${region.y},${region.w},${region.h}`;
  return `${q}&CVT=jpeg`;
}

/** iipsrv descriptor `{base}?FIF=…&OBJ=IIP,1.0&OBJ=Max-size&OBJ=Tile-size&OBJ=Resolution-number`. */
export function iipObjUrl(base: string, fif: string): string {
  return `${base}?FIF=${queryValue(fif)}&OBJ=IIP,1.0&OBJ=Max-size&OBJ=Tile-size&OBJ=Resolution-number`;
}

/** iipsrv IIIF mode `{base}?IIIF={fif}/{region}/{size}/{rot}/{quality}.{format}`. */
export function iipIiifUrl(base: string, fif: string, region: IiifRegion, size: IiifSize, opts: IiifUrlOptions = {}): string {
  return `${base}?IIIF=${queryValue(fif)}/${formatIiifRegion(region)}/${formatIiifSize(size)}/${opts.rotation ?? '0'}/${opts.quality ?? 'default'}.${opts.format ?? 'jpg'}`;
}

/** iipsrv DeepZoom mode `{base}?DeepZoom={fif}_files/{L}/{col}_{row}.jpg`. */
export function iipDeepZoomUrl(base: string, fif: string, level: number, col: number, row: number): string {
  return `${base}?DeepZoom=${queryValue(fif)}_files/${level}/${col}_${row}.jpg`;
}

/** iipsrv Zoomify mode `{base}?Zoomify={fif}/TileGroup{g}/{z}-{x}-{y}.jpg`; undefined when z is not a tier. */
export function iipZoomifyUrl(base: string, fif: string, tiers: readonly ZoomifyTier[], z: number, x: number, y: number): string | undefined {
  const g = zoomifyTileGroup(tiers, z, x, y);
  return g === undefined ? undefined : `${base}?Zoomify=${queryValue(fif)}/TileGroup${g}/${z}-${x}-${y}.jpg`;
}

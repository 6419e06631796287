/**
 * IIIF Image API 2.x / 3.0: URL grammar, request kind, version detection and geometry.
 * See docs/tile-protocols.md, "IIIF".
 */
import type { IiifRegion, IiifSize, ImageGeometry, Rect, RequestKind, TileAddress } from '../types.ts';
import { infoAddress, plainAddress } from './address.ts';
import type { RecogniseOptions } from './options.ts';
import { NO_PLACEMENT, type Placement, capScale, clipRect, hasSize } from './rect.ts';
import { decodeOnce } from './target.ts';

type IiifVersion = 'iiif2' | 'iiif3';
type PxRegion = Extract<IiifRegion, { type: 'px' }>;

const QUALITY_FORMAT = /^(default|color|gray|bitonal|native|grey)\.(jpg|tif|png|gif|jp2|pdf|webp)$/;
const ROTATION = /^!?\d{1,3}(?:\.\d+)?$/;
const INT = /^\d{1,9}$/;
const FLOAT = /^(?:\d{1,9}(?:\.\d*)?|\.\d+)$/;

const FULL_REGION: IiifRegion = Object.freeze({ type: 'full' });
const SQUARE_REGION: IiifRegion = Object.freeze({ type: 'square' });

/**
 * Parse an IIIF region segment (already percent-decoded): `full`, `square`, `x,y,w,h` (integers),
 * `pct:x,y,w,h` (floats). Returns undefined on a syntax error; zero sizes parse (see `isValidIiifRegion`).
 */
export function parseIiifRegion(s: string): IiifRegion | undefined {
  if (s === 'full') return FULL_REGION;
  if (s === 'square') return SQUARE_REGION;
  const pct = s.startsWith('pct:');
  const parts = (pct ? s.slice(4) : s).split(',');
  if (parts.length !== 4) return undefined;
  const re = pct ? FLOAT : INT;
  const [a = '', b = '', c = '', d = ''] = parts;
  if (!re.test(a) || !re.test(b) || !re.test(c) || !re.test(d)) return undefined;
  return { type: pct ? 'pct' : 'px', x: Number(a), y: Number(b), w: Number(c), h: Number(d) };
}

/**
 * Parse an IIIF size segment (already percent-decoded): `full`, `max`, `w,`, `,h`, `pct:n`, `w,h`,
 * `!w,h`, and the 3.0 `^` upscaling forms (`^max`, `^w,` …; `^full` is not a form).
 * Returns undefined on a syntax error; zero sizes parse (see `isValidIiifSize`).
 */
export function parseIiifSize(raw: string): IiifSize | undefined {
  const upscale = raw.charCodeAt(0) === 94; /* ^ */
  const s = upscale ? raw.slice(1) : raw;
  if (s === 'max') return { type: 'max', upscale };
  if (s === 'full') return upscale ? undefined : { type: 'full', upscale };
  if (s.startsWith('pct:')) {
    const v = s.slice(4);
    return FLOAT.test(v) ? { type: 'pct', pct: Number(v), upscale } : undefined;
  }
  const confined = s.charCodeAt(0) === 33; /* ! */
  const body = confined ? s.slice(1) : s;
  const comma = body.indexOf(',');
  if (comma < 0) return undefined;
  const ws = body.slice(0, comma);
  const hs = body.slice(comma + 1);
  if (confined) return INT.test(ws) && INT.test(hs) ? { type: 'confined', w: Number(ws), h: Number(hs), upscale } : undefined;
  if (ws === '') return INT.test(hs) ? { type: 'h', h: Number(hs), upscale } : undefined;
  if (hs === '') return INT.test(ws) ? { type: 'w', w: Number(ws), upscale } : undefined;
  return INT.test(ws) && INT.test(hs) ? { type: 'wh', w: Number(ws), h: Number(hs), upscale } : undefined;
}

/** A region is valid when its width and height are positive (px/pct) or it is full/square. */
export function isValidIiifRegion(r: IiifRegion): boolean {
  return r.type === 'full' || r.type === 'square' || (r.w > 0 && r.h > 0);
}

/** A size is valid when every given dimension / percentage is positive. */
export function isValidIiifSize(s: IiifSize): boolean {
  switch (s.type) {
    case 'full':
    case 'max':
      return true;
    case 'w':
      return s.w > 0;
    case 'h':
      return s.h > 0;
    case 'pct':
      return s.pct > 0;
    case 'wh':
    case 'confined':
      return s.w > 0 && s.h > 0;
  }
}

/** Format a region as it appears in a URL (inverse of `parseIiifRegion`). */
export function formatIiifRegion(r: IiifRegion): string {
  switch (r.type) {
    case 'full':
    case 'square':
      return r.type;
    case 'px':
      return `${r.x},${r.y},${r.w},${r.h}`;
    case 'pct':
      return `pct:${r.x},${r.y},${r.w},${r.h}`;
  }
}

/** Format a size as it appears in a URL (inverse of `parseIiifSize`). */
export function formatIiifSize(s: IiifSize): string {
  const up = s.upscale ? '^' : '';
  switch (s.type) {
    case 'full':
    case 'max':
      return up + s.type;
    case 'w':
      return `${up}${s.w},`;
    case 'h':
      return `${up},${s.h}`;
    case 'pct':
      return `${up}pct:${s.pct}`;
    case 'wh':
      return `${up}${s.w},${s.h}`;
    case 'confined':
      return `${up}!${s.w},${s.h}`;
  }
}

/**
 * Decide the IIIF version of a request, strongest evidence first:
 * 1. a `^` size → iiif3; size `full` → iiif2 (3.0 dropped it); quality `native`/`grey` → iiif2 (1.x);
 * 2. a version segment right before the identifier (`…/iiif/2/{id}/…`, `3`, `v2`, `v3`, as Cantaloupe and others do);
 * 3. size `max` → iiif3 (2.1 also allows `max`, so this ranks below the path hint);
 * 4. the configured fallback (default 'iiif2').
 */
export function iiifVersionOf(size: IiifSize | undefined, quality: string, hint: string | undefined, fallback: IiifVersion): IiifVersion {
  if (size !== undefined) {
    if (size.upscale) return 'iiif3';
    if (size.type === 'full') return 'iiif2';
  }
  if (quality === 'native' || quality === 'grey') return 'iiif2';
  if (hint === '3' || hint === 'v3') return 'iiif3';
  if (hint === '2' || hint === 'v2') return 'iiif2';
  if (size !== undefined && size.type === 'max') return 'iiif3';
  return fallback;
}

/** Long edge of the requested size when the size alone states it (NaN when it depends on the image). */
function givenEdge(size: IiifSize): number {
  switch (size.type) {
    case 'w':
      return size.w;
    case 'h':
      return size.h;
    case 'wh':
    case 'confined':
      return Math.max(size.w, size.h);
    default:
      return Number.NaN;
  }
}

/** Output long edge of a px region request (unclipped; NaN never). */
function pxOutputEdge(r: PxRegion, size: IiifSize): number {
  switch (size.type) {
    case 'full':
    case 'max':
      return Math.max(r.w, r.h);
    case 'w':
      return Math.max(size.w, (size.w * r.h) / r.w);
    case 'h':
      return Math.max(size.h, (size.h * r.w) / r.h);
    case 'pct':
      return (Math.max(r.w, r.h) * size.pct) / 100;
    case 'wh':
    case 'confined':
      return Math.max(size.w, size.h);
  }
}

/**
 * Request kind from region and size (the URL alone; geometry never changes it):
 * - region `full`: size full/max → 'full'; a size whose stated long edge (w, h or max(w,h)) is
 *   ≤ thumbnailMaxEdge → 'thumbnail'; otherwise (incl. `pct:n`, which depends on the image) → 'full'.
 * - region `square`: stated long edge ≤ thumbnailMaxEdge → 'thumbnail' (the IIIF square thumbnail), else 'region'.
 * - region px: output long edge (computed from region and size) ≤ tileMaxEdge → 'tile', else 'region'.
 * - region pct: stated long edge ≤ tileMaxEdge → 'tile' (OpenLayers pct tiles), else 'region'.
 */
export function iiifKind(region: IiifRegion, size: IiifSize, options: Pick<RecogniseOptions, 'thumbnailMaxEdge' | 'tileMaxEdge'>): RequestKind {
  switch (region.type) {
    case 'full':
      if (size.type === 'full' || size.type === 'max') return 'full';
      return givenEdge(size) <= options.thumbnailMaxEdge ? 'thumbnail' : 'full';
    case 'square':
      return givenEdge(size) <= options.thumbnailMaxEdge ? 'thumbnail' : 'region';
    case 'px':
      return pxOutputEdge(region, size) <= options.tileMaxEdge ? 'tile' : 'region';
    case 'pct':
      return givenEdge(size) <= options.tileMaxEdge ? 'tile' : 'region';
  }
}

/**
 * Recognise an IIIF request from path segments (`path.split('/')`), parsing from the right:
 * `…/{identifier}/{region}/{size}/{rotation}/{quality}.{format}` or `…/{identifier}/info.json`.
 *
 * `joinIdentifier` false (plain IIIF servers): the identifier is the single segment before the
 * region, percent-decoded once (`a%2Fb` → `a/b`); everything before it is the server prefix.
 * `joinIdentifier` true (iipsrv `?IIIF=` mode): all segments before the region, joined with '/',
 * are the identifier (already decoded), e.g. `/img.tif`.
 *
 * Returns undefined when the segments are not IIIF-shaped. Syntactically IIIF but invalid
 * values (zero width/height, zero size) give kind 'other' with the detected version and identifier.
 */
export function recogniseIiifSegments(segs: readonly string[], joinIdentifier: boolean, options: RecogniseOptions): TileAddress | undefined {
  const n = segs.length;
  const last = segs[n - 1];
  if (last === undefined) return undefined;
  if (last === 'info.json') {
    const id = identifierAt(segs, n - 2, joinIdentifier);
    if (id === '') return undefined;
    return infoAddress(iiifVersionOf(undefined, '', hintAt(segs, n - 2, joinIdentifier), options.iiifVersion), id);
  }
  if (n < 5) return undefined;
  const qf = QUALITY_FORMAT.exec(last);
  if (qf === null) return undefined;
  const rotation = decodeOnce(segs[n - 2] ?? '');
  if (!ROTATION.test(rotation)) return undefined;
  const region = parseIiifRegion(decodeOnce(segs[n - 4] ?? ''));
  if (region === undefined) return undefined;
  const size = parseIiifSize(decodeOnce(segs[n - 3] ?? ''));
  if (size === undefined) return undefined;
  const id = identifierAt(segs, n - 5, joinIdentifier);
  if (id === '') return undefined;
  const version = iiifVersionOf(size, qf[1] ?? '', hintAt(segs, n - 5, joinIdentifier), options.iiifVersion);
  const degrees = Number(rotation.charCodeAt(0) === 33 ? rotation.slice(1) : rotation);
  if (!isValidIiifRegion(region) || !isValidIiifSize(size) || degrees > 360) return plainAddress(version, id, 'other');
  return { protocol: version, imageId: id, kind: iiifKind(region, size, options), level: -1, col: -1, row: -1, iiif: { region, size } };
}

function identifierAt(segs: readonly string[], idx: number, join: boolean): string {
  if (idx < 0) return '';
  if (join) {
    const id = segs.slice(0, idx + 1).join('/');
    return id === '/' ? '' : id;
  }
  return decodeOnce(segs[idx] ?? '');
}

function hintAt(segs: readonly string[], idIdx: number, join: boolean): string | undefined {
  return join ? undefined : segs[idIdx - 1];
}

/**
 * Full-resolution rect of a region on a W×H image, clipped; null when it lies outside or is empty.
 * `square` is the centred min(W,H) square (offset floored); `pct` values are rounded to whole pixels.
 */
export function iiifRegionRect(region: IiifRegion, width: number, height: number): Rect | null {
  switch (region.type) {
    case 'full':
      return clipRect(0, 0, width, height, width, height);
    case 'square': {
      const m = Math.min(width, height);
      const x = Math.floor((width - m) / 2);
      const y = Math.floor((height - m) / 2);
      return clipRect(x, y, x + m, y + m, width, height);
    }
    case 'px':
      if (region.x >= width || region.y >= height) return null;
      return clipRect(region.x, region.y, region.x + region.w, region.y + region.h, width, height);
    case 'pct': {
      const x = Math.round((region.x * width) / 100);
      const y = Math.round((region.y * height) / 100);
      const w = Math.round((region.w * width) / 100);
      const h = Math.round((region.h * height) / 100);
      if (x >= width || y >= height) return null;
      return clipRect(x, y, x + w, y + h, width, height);
    }
  }
}

/**
 * Scale s (output px ÷ full-res px, capped at 1) of a size applied to a region of rw×rh:
 * full/max → 1; `w,` → w/rw; `,h` → h/rh; `pct:n` → n/100; `w,h` and `!w,h` → min(w/rw, h/rh).
 */
export function iiifSizeScale(size: IiifSize, rw: number, rh: number): number {
  switch (size.type) {
    case 'full':
    case 'max':
      return 1;
    case 'w':
      return capScale(size.w / rw);
    case 'h':
      return capScale(size.h / rh);
    case 'pct':
      return capScale(size.pct / 100);
    case 'wh':
    case 'confined':
      return capScale(Math.min(size.w / rw, size.h / rh));
  }
}

/**
 * Placement of an IIIF request. With a known image size: the clipped region and the size scale
 * over the clipped region (null/0 when the region is outside the image). Without: px regions give
 * their unclipped rect and the scale the size implies; full/pct/square regions give rect null and
 * s = 1 for full/max sizes, n/100 for `pct:n`, 0 (unknown) otherwise.
 */
export function resolveIiif(region: IiifRegion, size: IiifSize, geom: ImageGeometry | undefined): Placement {
  if (geom !== undefined && hasSize(geom)) {
    const rect = iiifRegionRect(region, geom.width, geom.height);
    if (rect === null) return NO_PLACEMENT;
    return { rect, scale: iiifSizeScale(size, rect.x1 - rect.x0, rect.y1 - rect.y0) };
  }
  if (region.type === 'px') {
    return { rect: { x0: region.x, y0: region.y, x1: region.x + region.w, y1: region.y + region.h }, scale: iiifSizeScale(size, region.w, region.h) };
  }
  if (size.type === 'full' || size.type === 'max') return { rect: null, scale: 1 };
  if (size.type === 'pct') return { rect: null, scale: capScale(size.pct / 100) };
  return NO_PLACEMENT;
}

/** Number of tile columns and rows at scale factor sf for tiles tw×th (IIIF tile formula). */
export function iiifTileGrid(width: number, height: number, tw: number, th: number, sf: number): { readonly cols: number; readonly rows: number } {
  return { cols: Math.ceil(width / (tw * sf)), rows: Math.ceil(height / (th * sf)) };
}

/** One IIIF grid tile: the px region to request and the output size ⌈w/sf⌉ × ⌈h/sf⌉. */
export interface IiifTile {
  readonly region: PxRegion;
  readonly outW: number;
  readonly outH: number;
}

/**
 * The IIIF tile (column n, row m) at scale factor sf, per the Image API formula:
 * x = n·tw·sf, y = m·th·sf, w = min(tw·sf, W−x), h = min(th·sf, H−y), output ⌈w/sf⌉×⌈h/sf⌉.
 * Undefined when the tile lies outside the image.
 */
export function iiifTileRegion(width: number, height: number, tw: number, th: number, sf: number, n: number, m: number): IiifTile | undefined {
  const x = n * tw * sf;
  const y = m * th * sf;
  if (n < 0 || m < 0 || x >= width || y >= height) return undefined;
  const w = Math.min(tw * sf, width - x);
  const h = Math.min(th * sf, height - y);
  return { region: { type: 'px', x, y, w, h }, outW: Math.ceil(w / sf), outH: Math.ceil(h / sf) };
}

/**
 * Plain data shared by the pure core. Nothing here does I/O or reads the clock.
 *
 * Pipeline: raw log line --parse--> AccessRecord --recognise--> TileAddress
 *           --resolve geometry--> TileRequest --> store + detector.
 */

/** One parsed access-log line. Times are event time from the log, never the wall clock. */
export interface AccessRecord {
  /** Event time, epoch milliseconds UTC (one-second resolution in most nginx logs). */
  readonly ts: number;
  /** Client address after trusted-proxy X-Forwarded-For handling, canonical text (IPv4 dotted or IPv6 compressed). */
  readonly ip: string;
  /** HTTP method, upper case; '' when the log format does not carry it. */
  readonly method: string;
  /** Request target as logged: path plus query string, not decoded. */
  readonly target: string;
  /** HTTP status code; 0 when unknown. */
  readonly status: number;
  /** Response body bytes; 0 when unknown or '-'. */
  readonly bytes: number;
  /** Referer header; '' when absent or '-'. */
  readonly referer: string;
  /** User-Agent header; '' when absent or '-'. */
  readonly userAgent: string;
  /** Host header / virtual host; '' when unknown. */
  readonly host: string;
}

/** Outcome of parsing one line: a value, never an exception (bad input goes to dead letters). */
export type ParseResult =
  | { readonly ok: true; readonly record: AccessRecord }
  | { readonly ok: false; readonly reason: string };

export type Protocol = 'iiif2' | 'iiif3' | 'dzi' | 'zoomify' | 'xyz' | 'tms' | 'wmts' | 'iip' | 'none';

/**
 * What a request is for.
 * - tile: one pyramid tile (or an IIIF region request aligned to a tile grid at some scale)
 * - region: an arbitrary IIIF/IIP region export that is not a whole-image request
 * - info: descriptor (info.json, .dzi, ImageProperties.xml, IIP obj=, WMTS GetCapabilities)
 * - thumbnail: whole image at a small size
 * - full: whole image at (or near) full resolution in one request
 * - page: an HTML viewer / item page
 * - asset: static viewer assets (js, css, fonts, icons)
 * - other: anything else
 */
export type RequestKind = 'tile' | 'region' | 'info' | 'thumbnail' | 'full' | 'page' | 'asset' | 'other';

/** Axis-aligned rectangle [x0, x1) × [y0, y1) in full-resolution pixels. */
export interface Rect {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** IIIF region parameter as written in the URL. */
export type IiifRegion =
  | { readonly type: 'full' }
  | { readonly type: 'square' }
  | { readonly type: 'px'; readonly x: number; readonly y: number; readonly w: number; readonly h: number }
  | { readonly type: 'pct'; readonly x: number; readonly y: number; readonly w: number; readonly h: number };

/** IIIF size parameter as written in the URL ('full' is 2.x, 'max' is 3.0; upscale '^' forms kept as a flag). */
export type IiifSize =
  | { readonly type: 'full' | 'max'; readonly upscale: boolean }
  | { readonly type: 'w'; readonly w: number; readonly upscale: boolean }
  | { readonly type: 'h'; readonly h: number; readonly upscale: boolean }
  | { readonly type: 'pct'; readonly pct: number; readonly upscale: boolean }
  | { readonly type: 'wh'; readonly w: number; readonly h: number; readonly upscale: boolean }
  | { readonly type: 'confined'; readonly w: number; readonly h: number; readonly upscale: boolean };

/**
 * What the URL alone says, before image size is known. Pure parse result of a request target.
 *
 * Pyramid coordinates (level, col, row) use the protocol's own numbering:
 * DZI level L (0 = 1×1), Zoomify tier z (0 = smallest), XYZ zoom z with y from the top
 * (TMS and WMTS are converted to XYZ row numbering), IIP resolution r (0 = smallest).
 */
export interface TileAddress {
  readonly protocol: Protocol;
  /** Image id: IIIF decoded identifier, DZI descriptor path without `.dzi`, Zoomify image folder, XYZ/TMS/WMTS layer, IIP FIF path. '' when none. */
  readonly imageId: string;
  readonly kind: RequestKind;
  /** Pyramid level in protocol numbering; -1 when not a pyramid tile. */
  readonly level: number;
  readonly col: number;
  readonly row: number;
  /** IIIF region/size when protocol is iiif2/iiif3 (or IIP's IIIF mode) and kind is tile/region/full/thumbnail. */
  readonly iiif?: { readonly region: IiifRegion; readonly size: IiifSize };
  /** IIP region export (RGN fractions + WID/HEI output size) when present. */
  readonly iipRegion?: { readonly x: number; readonly y: number; readonly w: number; readonly h: number; readonly outW: number; readonly outH: number };
}

/**
 * Geometry of one image, from a catalogue or learned from requests.
 * For XYZ/TMS/WMTS, width/height are the layer's extent in deepest-zoom pixels and maxLevel is Zmax.
 */
export interface ImageGeometry {
  readonly width: number;
  readonly height: number;
  /** Tile edge in pixels (DZI TileSize, Zoomify TILESIZE, IIIF tile width, XYZ 256). */
  readonly tileSize: number;
  /** DZI overlap in pixels; 0 elsewhere. */
  readonly overlap: number;
  /** Deepest level in protocol numbering (DZI Lmax, Zoomify N-1, XYZ Zmax, IIP N-1); -1 when not a pyramid. */
  readonly maxLevel: number;
  /** Where the figures come from. */
  readonly source: 'catalog' | 'learned';
}

/** A request after URL recognition and geometry: one row of `tile_requests` (minus lineage). */
export interface TileRequest {
  readonly protocol: Protocol;
  readonly imageId: string;
  readonly kind: RequestKind;
  readonly level: number;
  readonly col: number;
  readonly row: number;
  /** Full-resolution rectangle revealed, clipped to the image; null when nothing is revealed or size is unknown. */
  readonly rect: Rect | null;
  /** Output pixels per full-resolution pixel, capped at 1; 0 when unknown or nothing is revealed. */
  readonly scale: number;
}

/** Where a record came from, so every row and alert can be traced back to raw evidence. */
export interface Lineage {
  /** File path, '-' for stdin, or `kafka:topic`. */
  readonly source: string;
  /** 1-based line number in the (decompressed) file, or Kafka offset. */
  readonly line: number;
  /** Kafka partition; -1 for files. */
  readonly partition: number;
}

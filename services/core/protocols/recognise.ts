/**
 * URL recognition: raw request target → TileAddress. Pure, never throws, cheap enough for the hot
 * path (no `new URL`, no per-call RegExp construction; custom patterns are compiled by `compileOptions`).
 */
import type { TileAddress } from '../types.ts';
import { MAX_PYRAMID_LEVEL, infoAddress, plainAddress, tileAddress } from './address.ts';
import { recogniseDziSegments } from './dzi.ts';
import { recogniseIiifSegments } from './iiif.ts';
import { recogniseIipQuery } from './iip.ts';
import { type CompiledPattern, DEFAULT_RECOGNISE_OPTIONS, type RecogniseOptions } from './options.ts';
import { classifyPlainPath } from './plainPath.ts';
import { isDigits, parseQuery, splitTarget } from './target.ts';
import { MAX_XYZ_ZOOM, recogniseArcgisSegments, recogniseWmtsKvp, recogniseWmtsRestSegments, recogniseXyzSegments, tmsToXyzRow } from './xyz.ts';
import { recogniseZoomifySegments } from './zoomify.ts';

/** Cheap pre-check so ordinary query strings (cache busters, tracking) skip parameter parsing. */
const QUERY_PROTOCOL_KEYS = /(?:^|&)(?:fif|iiif|deepzoom|zoomify|service|request)=/i;
const OGC_OTHER: TileAddress = Object.freeze(plainAddress('none', '', 'other'));

/**
 * Recognise what a request target asks for.
 *
 * `target` is the raw request target (path + optional query, not decoded); a `#fragment` is ignored
 * and absolute-form targets are reduced to their path. Order:
 * 1. query protocols: iipsrv (`FIF=`, `IIIF=`, `DeepZoom=`, `Zoomify=`), WMTS KVP (`REQUEST=GetTile` …);
 * 2. custom patterns from the options, in order, against the path;
 * 3. path protocols (query ignored): DZI, Zoomify, IIIF, WMTS RESTful (`/wmts/` paths), ArcGIS `tile/…`, XYZ/TMS;
 * 4. otherwise page / asset / other with protocol 'none' (see `classifyPlainPath`); other OGC
 *    services (`SERVICE=WMS&REQUEST=GetMap` …) are 'other', never 'page'.
 *
 * Always returns a TileAddress; never throws. See each protocol's recogniser for its image-id and kind rules.
 */
export function recognise(target: string, options: RecogniseOptions = DEFAULT_RECOGNISE_OPTIONS): TileAddress {
  const { path, query } = splitTarget(target);
  let ogc = false;
  if (query !== '' && QUERY_PROTOCOL_KEYS.test(query)) {
    const params = parseQuery(query);
    const a = recogniseIipQuery(params, options) ?? recogniseWmtsKvp(params);
    if (a !== undefined) return a;
    // another OGC service (WMS GetMap, WFS …): an API/image call, not a page (unless the path is a tile)
    ogc = params.has('service') && params.has('request');
  }
  if (options.patterns.length > 0) {
    const a = matchPatterns(path, options.patterns);
    if (a !== undefined) return a;
  }
  const segs = path.split('/');
  return (
    recogniseDziSegments(segs) ??
    recogniseZoomifySegments(segs) ??
    recogniseIiifSegments(segs, false, options) ??
    recogniseWmtsRestSegments(segs) ??
    recogniseArcgisSegments(segs) ??
    recogniseXyzSegments(segs) ??
    (ogc ? OGC_OTHER : classifyPlainPath(path))
  );
}

/**
 * First custom pattern matching `path`, as a TileAddress. A match whose numbers are not plain
 * digits or out of range (level > 40; for TMS, row ≥ 2^level) is skipped, so a later pattern or
 * the built-in grammars can still apply.
 */
function matchPatterns(path: string, patterns: readonly CompiledPattern[]): TileAddress | undefined {
  for (const p of patterns) {
    const m = p.re.exec(path);
    const g = m?.groups;
    if (g === undefined) continue;
    const image = g['image'] ?? '';
    if (p.kind === 'info') return infoAddress(p.protocol, image);
    const ls = g['level'];
    const cs = g['col'];
    const rs = g['row'];
    if (!isDigits(ls, 3) || !isDigits(cs, 10) || !isDigits(rs, 10)) continue;
    const level = Number(ls);
    const col = Number(cs);
    const row = Number(rs);
    if (level > MAX_PYRAMID_LEVEL) continue;
    if (p.protocol === 'tms') {
      if (level > MAX_XYZ_ZOOM || row >= 2 ** level) continue;
      return tileAddress('tms', image, level, col, tmsToXyzRow(level, row));
    }
    return tileAddress(p.protocol, image, level, col, row);
  }
  return undefined;
}

/**
 * Geometry: TileAddress + image geometry → TileRequest (revealed full-resolution rect and scale).
 */
import type { ImageGeometry, TileAddress, TileRequest } from '../types.ts';
import { dziTilePlacement } from './dzi.ts';
import { resolveIiif } from './iiif.ts';
import { iipRegionPlacement, iipTilePlacement } from './iip.ts';
import { NO_PLACEMENT, type Placement } from './rect.ts';
import { xyzTilePlacement } from './xyz.ts';
import { zoomifyTilePlacement } from './zoomify.ts';

/**
 * Resolve what a request reveals, per docs/tile-protocols.md.
 *
 * - info/page/asset/other, protocol 'none' → rect null, scale 0.
 * - IIIF (iiif2/iiif3): region clipped to W×H and the size's scale over the clipped region; without
 *   geometry, px regions give their unclipped rect and implied scale, full/pct regions give rect null
 *   with s = 1 (full/max size), n/100 (pct:n) or 0. level/col/row stay −1.
 * - DZI (with overlap; Lmax = geom.maxLevel when ≥ 0, else ⌈log2 max(W,H)⌉), Zoomify, XYZ/TMS/WMTS
 *   (rect in deepest-zoom pixels, needs maxLevel = Zmax), IIP JTL (index → col,row from the
 *   resolution's column count; the returned col/row are the converted values): rect clipped, s = 2^−k.
 *   Without geometry: rect null, scale 0.
 * - IIP RGN/WID/HEI exports: fractions × W,H, s from WID/HEI (see `iipRegionPlacement`).
 * Requests outside the image (or levels beyond the pyramid) give rect null, scale 0.
 * `geom.maxLevel` must use the request's protocol numbering.
 */
export function resolve(addr: TileAddress, geom: ImageGeometry | undefined): TileRequest {
  const { protocol, imageId, kind, level } = addr;
  let { col, row } = addr;
  let p: Placement = NO_PLACEMENT;
  if (kind === 'tile' || kind === 'region' || kind === 'full' || kind === 'thumbnail') {
    switch (protocol) {
      case 'iiif2':
      case 'iiif3':
        if (addr.iiif !== undefined) p = resolveIiif(addr.iiif.region, addr.iiif.size, geom);
        break;
      case 'dzi':
        if (geom !== undefined) p = dziTilePlacement(geom, level, col, row);
        break;
      case 'zoomify':
        if (geom !== undefined) p = zoomifyTilePlacement(geom, level, col, row);
        break;
      case 'xyz':
      case 'tms':
      case 'wmts':
        if (geom !== undefined) p = xyzTilePlacement(geom, level, col, row);
        break;
      case 'iip':
        if (addr.iipRegion !== undefined) {
          p = iipRegionPlacement(geom, addr.iipRegion);
        } else if (geom !== undefined && kind === 'tile') {
          const t = iipTilePlacement(geom, level, col);
          if (t.col >= 0) {
            col = t.col;
            row = t.row;
          }
          p = t;
        }
        break;
      case 'none':
        break;
    }
  }
  return { protocol, imageId, kind, level, col, row, rect: p.rect, scale: p.scale };
}

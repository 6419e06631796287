/**
 * Public API of the tile-protocol core: recognition, geometry, learned extents, URL builders.
 */
export { recognise } from './recognise.ts';
export { resolve } from './geometry.ts';
export { compileOptions, DEFAULT_RECOGNISE_OPTIONS } from './options.ts';
export type { CompiledPattern, CustomPattern, PatternProtocol, RecogniseConfig, RecogniseOptions } from './options.ts';
export { LearnedExtents, protocolFamily } from './learnedExtents.ts';
export type { LearnedExtentsOptions, ProtocolFamily } from './learnedExtents.ts';
export { splitTarget, parseQuery, decodeOnce } from './target.ts';
export { classifyPlainPath } from './plainPath.ts';
export { clipRect, rectArea, rectsIntersect, NO_PLACEMENT } from './rect.ts';
export type { Placement } from './rect.ts';
export {
  formatIiifRegion,
  formatIiifSize,
  iiifKind,
  iiifRegionRect,
  iiifSizeScale,
  iiifTileGrid,
  iiifTileRegion,
  iiifVersionOf,
  parseIiifRegion,
  parseIiifSize,
  resolveIiif,
} from './iiif.ts';
export type { IiifTile } from './iiif.ts';
export { dziLevelGrid, dziMaxLevel, dziTileAt, dziTilePlacement } from './dzi.ts';
export type { LevelGrid } from './dzi.ts';
export { zoomifyTierCount, zoomifyTiers, zoomifyTiersFromNumTiles, zoomifyTileAt, zoomifyTileGroup, zoomifyTilePlacement } from './zoomify.ts';
export type { ZoomifyRounding, ZoomifyTier } from './zoomify.ts';
export { MAX_XYZ_ZOOM, tmsToXyzRow, xyzDeepestCells, xyzTileAt, xyzTilePlacement } from './xyz.ts';
export type { DeepestCells } from './xyz.ts';
export { iipRegionPlacement, iipResolutionCount, iipResolutionGrid, iipTilePlacement } from './iip.ts';
export type { IipRegion } from './iip.ts';
export * from './urls.ts';

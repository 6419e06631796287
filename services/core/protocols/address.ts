/**
 * Constructors for TileAddress values, so every recogniser fills all fields the same way.
 */
import type { Protocol, RequestKind, TileAddress } from '../types.ts';

/** A pyramid tile (DZI, Zoomify, XYZ/TMS/WMTS, IIP JTL) in the protocol's own numbering. */
export function tileAddress(protocol: Protocol, imageId: string, level: number, col: number, row: number): TileAddress {
  return { protocol, imageId, kind: 'tile', level, col, row };
}

/** A descriptor request (info.json, .dzi, ImageProperties.xml, IIP OBJ=, WMTS GetCapabilities). */
export function infoAddress(protocol: Protocol, imageId: string): TileAddress {
  return { protocol, imageId, kind: 'info', level: -1, col: -1, row: -1 };
}

/** A request of the given kind without pyramid coordinates. */
export function plainAddress(protocol: Protocol, imageId: string, kind: RequestKind): TileAddress {
  return { protocol, imageId, kind, level: -1, col: -1, row: -1 };
}

/** Deepest pyramid level accepted by recognition; deeper numbers are treated as invalid (2^40 px ≫ any image). */
export const MAX_PYRAMID_LEVEL = 40;

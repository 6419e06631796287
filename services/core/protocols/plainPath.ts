/**
 * Classification of paths that are not tile-protocol requests: viewer pages, static assets, other files.
 */
import type { TileAddress } from '../types.ts';
import { plainAddress } from './address.ts';

const ASSET_EXTENSIONS: ReadonlySet<string> = new Set(['js', 'css', 'woff', 'woff2', 'ttf', 'svg', 'ico', 'map']);
const PAGE_EXTENSIONS: ReadonlySet<string> = new Set(['html', 'htm']);

const PAGE: TileAddress = Object.freeze(plainAddress('none', '', 'page'));
const ASSET: TileAddress = Object.freeze(plainAddress('none', '', 'asset'));
const OTHER: TileAddress = Object.freeze(plainAddress('none', '', 'other'));

/**
 * Classify a non-protocol path (query already stripped) by the extension of its last segment
 * (case-insensitive): js css woff woff2 ttf svg ico map → 'asset'; html htm, no extension, or a
 * trailing '/' (incl. `/`) → 'page'; anything else (images, xml, json, …) → 'other'.
 * Always protocol 'none', image id '', level/col/row −1. Returns shared frozen values.
 */
export function classifyPlainPath(path: string): TileAddress {
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (last === '') return PAGE;
  const dot = last.lastIndexOf('.');
  if (dot < 0) return PAGE;
  const ext = last.slice(dot + 1).toLowerCase();
  if (ASSET_EXTENSIONS.has(ext)) return ASSET;
  if (PAGE_EXTENSIONS.has(ext)) return PAGE;
  return OTHER;
}

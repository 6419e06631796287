import { readFile } from 'node:fs/promises';
import { protocolFamily } from '../core/protocols/learnedExtents.ts';
import type { ImageGeometry, Protocol } from '../core/types.ts';
import { dziMaxLevel } from '../core/protocols/dzi.ts';

/** One catalogue entry: what the institution knows about an image. */
export interface CatalogEntry {
  readonly id: string;
  readonly protocol: Protocol;
  readonly geometry: ImageGeometry;
  /** Long edge published openly; 0 = use the detector default. */
  readonly openDataLongEdge: number;
}

export interface Catalog {
  readonly size: number;
  get(protocol: Protocol, imageId: string): CatalogEntry | undefined;
  entries(): Iterable<CatalogEntry>;
}

const PROTOCOLS: readonly Protocol[] = ['iiif2', 'iiif3', 'dzi', 'zoomify', 'xyz', 'tms', 'wmts', 'iip'];

export function emptyCatalog(): Catalog {
  return buildCatalog([]);
}

function buildCatalog(list: readonly CatalogEntry[]): Catalog {
  const map = new Map<string, CatalogEntry>();
  for (const e of list) map.set(`${protocolFamily(e.protocol) ?? e.protocol}\u0000${e.id}`, e);
  return {
    size: map.size,
    get: (protocol, imageId) => map.get(`${protocolFamily(protocol) ?? protocol}\u0000${imageId}`),
    entries: () => map.values(),
  };
}

/**
 * Loads a catalogue file: JSON (an array, or `{ "images": [...] }`) or CSV with a header row.
 * Fields: id, width, height, tileSize (tile_size), overlap, protocol, openDataLongEdge
 * (open_data_long_edge), maxLevel (max_level, optional: derived per protocol when absent).
 * Errors name the file, the entry and the field.
 */
export async function loadCatalog(path: string): Promise<Catalog> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`Cannot read catalogue ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const records = /^\s*[[{]/.test(text) ? fromJson(text, path) : fromCsv(text);
  return buildCatalog(records.map((r, i) => toEntry(r, `${path} entry ${i + 1}`)));
}

function fromJson(text: string, path: string): Record<string, unknown>[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`Catalogue ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const list = Array.isArray(data) ? data : (data as { images?: unknown }).images;
  if (!Array.isArray(list)) throw new Error(`Catalogue ${path}: expected an array of images or { "images": [...] }`);
  return list as Record<string, unknown>[];
}

function fromCsv(text: string): Record<string, unknown>[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  return lines.map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(header.map((h, i) => [h, (cells[i] ?? '').trim()]));
  });
}

function pick(r: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (r[n] !== undefined && r[n] !== '') return r[n];
  return undefined;
}

function toEntry(r: Record<string, unknown>, where: string): CatalogEntry {
  const id = pick(r, 'id', 'image_id', 'imageId');
  if (typeof id !== 'string' || id === '') throw new Error(`${where}: missing id`);
  const protocol = String(pick(r, 'protocol') ?? 'iiif2') as Protocol;
  if (!PROTOCOLS.includes(protocol)) throw new Error(`${where}: unknown protocol "${protocol}" (expected ${PROTOCOLS.join(', ')})`);
  const num = (names: string[], def?: number): number => {
    const v = pick(r, ...names);
    if (v === undefined) {
      if (def !== undefined) return def;
      throw new Error(`${where}: missing ${names[0]}`);
    }
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${where}: ${names[0]} must be a non-negative number, got ${String(v)}`);
    return n;
  };
  const width = num(['width']);
  const height = num(['height']);
  if (width === 0 || height === 0) throw new Error(`${where}: width and height must be positive`);
  const tileSize = num(['tileSize', 'tile_size'], protocol === 'dzi' ? 254 : 256);
  const overlap = num(['overlap'], 0);
  const maxLevel = num(['maxLevel', 'max_level'], defaultMaxLevel(protocol, width, height, tileSize));
  return {
    id,
    protocol,
    geometry: { width, height, tileSize, overlap, maxLevel, source: 'catalog' },
    openDataLongEdge: num(['openDataLongEdge', 'open_data_long_edge'], 0),
  };
}

function defaultMaxLevel(protocol: Protocol, width: number, height: number, tileSize: number): number {
  switch (protocol) {
    case 'dzi':
      return dziMaxLevel(width, height);
    case 'zoomify':
    case 'iip':
      return Math.max(0, Math.ceil(Math.log2(Math.max(width, height) / tileSize)));
    case 'xyz':
    case 'tms':
    case 'wmts':
      return 18;
    default:
      return -1;
  }
}

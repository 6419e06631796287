import { jsonEachRow, type Store } from './openStore.ts';
import type { ImageGeometry, Protocol } from '../core/types.ts';

export interface ImageRow {
  readonly protocol: Protocol;
  readonly imageId: string;
  readonly geometry: ImageGeometry;
  readonly openDataLongEdge: number;
}

/** Upserts catalogue entries and learned extents into `images` (newest `updated_at` wins). */
export async function writeImages(store: Pick<Store, 'insertRaw'>, images: readonly ImageRow[], now = Date.now()): Promise<void> {
  const BATCH = 50_000;
  for (let i = 0; i < images.length; i += BATCH) {
    const values = images.slice(i, i + BATCH).map((im) => ({
      protocol: im.protocol,
      image_id: im.imageId,
      width: Math.round(im.geometry.width),
      height: Math.round(im.geometry.height),
      tile_size: Math.round(im.geometry.tileSize),
      overlap: Math.round(im.geometry.overlap),
      max_level: im.geometry.maxLevel,
      open_data_long_edge: im.openDataLongEdge,
      source: im.geometry.source,
      updated_at: new Date(now).toISOString(),
    }));
    await store.insertRaw({ table: 'images', body: jsonEachRow(values), format: 'JSONEachRow', settings: { date_time_input_format: 'best_effort' } });
  }
}

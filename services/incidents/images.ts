import type { Store } from '../store/openStore.ts';
import { readRows } from '../store/sql.ts';

export interface ImageSize {
  readonly width: number;
  readonly height: number;
  /** catalog | learned | requests (the extent of stored rectangles, when `images` has no row). */
  readonly source: string;
}

/** Full-resolution sizes of several images (catalogue first, else the extent of stored requests); unknown images are absent. */
export async function imageSizes(store: Store, imageIds: readonly string[]): Promise<Map<string, ImageSize>> {
  const out = new Map<string, ImageSize>();
  if (imageIds.length === 0) return out;
  const known = await readRows<{ image_id: string; w: number; h: number; src: string }>(
    store.client,
    `SELECT image_id, argMax(width, updated_at) AS w, argMax(height, updated_at) AS h, argMax(source, updated_at) AS src
     FROM images FINAL WHERE image_id IN {ids:Array(String)} AND width > 0 AND height > 0 GROUP BY image_id`,
    { ids: imageIds },
  );
  for (const k of known) out.set(k.image_id, { width: k.w, height: k.h, source: k.src });
  const rest = imageIds.filter((id) => !out.has(id));
  if (rest.length === 0) return out;
  const seen = await readRows<{ image_id: string; w: number; h: number }>(
    store.client,
    `SELECT image_id, max(rect_x + rect_w) AS w, max(rect_y + rect_h) AS h FROM image_requests
     WHERE image_id IN {ids:Array(String)} AND rect_w > 0 AND scale > 0 GROUP BY image_id`,
    { ids: rest },
  );
  for (const s of seen) if (s.w > 0 && s.h > 0) out.set(s.image_id, { width: s.w, height: s.h, source: 'requests' });
  return out;
}

/** Full-resolution size of an image: the `images` table (newest row), else the extent of stored requests. */
export async function imageSize(store: Store, imageId: string): Promise<ImageSize | null> {
  return (await imageSizes(store, [imageId])).get(imageId) ?? null;
}

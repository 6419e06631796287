import type { Store } from '../store/openStore.ts';
import { readRows } from './sql.ts';

export interface ImageSize {
  readonly width: number;
  readonly height: number;
  /** catalog | learned | requests (the extent of stored rectangles, when `images` has no row). */
  readonly source: string;
}

/** Full-resolution size of an image: the `images` table (newest row), else the extent of stored requests. */
export async function imageSize(store: Store, imageId: string): Promise<ImageSize | null> {
  const known = await readRows<{ width: number; height: number; source: string }>(
    store,
    'SELECT width, height, source FROM images FINAL WHERE image_id = {id:String} AND width > 0 AND height > 0 ORDER BY updated_at DESC LIMIT 1',
    { id: imageId },
  );
  if (known[0]) return { width: known[0].width, height: known[0].height, source: known[0].source };
  const seen = await readRows<{ w: number; h: number; n: number }>(
    store,
    `SELECT max(rect_x + rect_w) AS w, max(rect_y + rect_h) AS h, count() AS n FROM tile_requests
     WHERE image_id = {id:String} AND rect_w > 0 AND scale > 0`,
    { id: imageId },
  );
  const s = seen[0];
  return s && s.n > 0 && s.w > 0 && s.h > 0 ? { width: s.w, height: s.h, source: 'requests' } : null;
}

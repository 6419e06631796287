/**
 * What the incremental hunts (campaignState.ts, exposureState.ts) read of `hunt_cells`
 * (schemas/clickhouse/008_hunt_cells.sql), and the image sizes they share: the catalogue's, else the
 * largest extent requested in the look-back, kept per bucket so that buckets can leave. Pure.
 */
/** The buckets of hunt_cells: ten minutes of event time (the schema's toStartOfInterval). */
export const CELL_BUCKET_MS = 10 * 60_000;

/** One row of `hunt_cells` (hunted requests at high-resolution bands, excluded clients already filtered out). */
export interface HuntCellRow {
  /** Bucket start, epoch ms. */
  readonly bucket: number;
  readonly imageId: string;
  readonly band: number;
  /** The client as alerts name it. */
  readonly client: string;
  /** The client's network group, `net:a.b.c.0/24` or `net:<ipv6 /48>/48`. */
  readonly net: string;
  readonly userAgent: string;
  readonly rectX: number;
  readonly rectY: number;
  readonly rectW: number;
  readonly rectH: number;
  /** First and last request of the row, epoch ms. */
  readonly firstTs: number;
  readonly lastTs: number;
  /** The client's AS when it is a hosting / cloud network (campaign group `asn:<n>`), else 0 or absent. */
  readonly hostingAsn?: number;
}

/** Largest extent requested of an image in one bucket (all bands): the image size when the catalogue has none. */
export interface BucketExtent {
  readonly bucket: number;
  readonly imageId: string;
  readonly width: number;
  readonly height: number;
}

/** Catalogue entry: 0 means unknown (the SQL's `if(c.cw > 0, …)`). */
export interface CatalogueSize {
  readonly width: number;
  readonly height: number;
  readonly openDataLongEdge: number;
}

/** Per image, the largest extent requested in each bucket; the look-back's is the maximum over its buckets. */
export class ImageExtents {
  /** image → bucket → [width, height]. */
  private readonly byImage = new Map<string, Map<number, [number, number]>>();

  add(extents: readonly BucketExtent[]): void {
    for (const e of extents) {
      let byBucket = this.byImage.get(e.imageId);
      if (!byBucket) this.byImage.set(e.imageId, (byBucket = new Map()));
      const cur = byBucket.get(e.bucket);
      byBucket.set(e.bucket, cur ? [Math.max(cur[0], e.width), Math.max(cur[1], e.height)] : [e.width, e.height]);
    }
  }

  /** Forgets the buckets in [fromBucket, toBucket). */
  remove(fromBucket: number, toBucket: number): void {
    for (const [image, byBucket] of this.byImage) {
      for (const b of byBucket.keys()) if (b >= fromBucket && b < toBucket) byBucket.delete(b);
      if (byBucket.size === 0) this.byImage.delete(image);
    }
  }

  clear(): void {
    this.byImage.clear();
  }

  /** The image's size and open-data edge as the hunts' SQL takes them (`img` CTE): the catalogue's when known (> 0), else the extents. */
  size(imageId: string, cat: CatalogueSize | undefined, openDataLongEdge: number): { w: number; h: number; od: number } {
    let lw = 0;
    let lh = 0;
    for (const [w, h] of this.byImage.get(imageId)?.values() ?? []) {
      if (w > lw) lw = w;
      if (h > lh) lh = h;
    }
    return {
      w: cat && cat.width > 0 ? cat.width : lw,
      h: cat && cat.height > 0 ? cat.height : lh,
      od: cat && cat.openDataLongEdge > 0 ? cat.openDataLongEdge : openDataLongEdge,
    };
  }
}

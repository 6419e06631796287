/**
 * The image-exposure hunt, incrementally: the rows of huntQueries.exposedImages computed from a state
 * that a window moves by the buckets entering and leaving its look-back (7 days by default, hourly).
 * Pure; services/hunts/incrementalHunts.ts reads `hunt_cells` and hands the rows in.
 *
 * Per (image, high-resolution band) the SQL counts the distinct rectangles (summed area over the
 * image's area: the union coverage), the distinct clients and the first and last request. The state
 * counts, per rectangle and per client, the bucket rows holding it, and keeps each bucket's first and
 * last request, so all four follow the look-back exactly. Same contract as campaignState.ts: a bucket
 * leaves with exactly the rows it entered with.
 */
import type { ImageExposureRow } from './findings.ts';
import { ImageExtents, type BucketExtent, type CatalogueSize, type HuntCellRow } from './huntCells.ts';

export interface ExposureGates {
  readonly minUnionCoverage: number;
  readonly minEdgeRatio: number;
}

interface BandState {
  readonly band: number;
  /** rectangle → [area, bucket rows]. */
  readonly rects: Map<string, [number, number]>;
  /** client → bucket rows. */
  readonly clients: Map<string, number>;
  /** bucket → [first, last] request. */
  readonly times: Map<number, [number, number]>;
  unionArea: number;
}

export class ExposureState {
  /** image → band → state. */
  private readonly images = new Map<string, Map<number, BandState>>();
  private readonly extents = new ImageExtents();
  private rows = 0;

  constructor(private readonly protectedBand: number) {}

  /** Bucket rows held: a measure of memory. */
  get size(): number {
    return this.rows;
  }

  clear(): void {
    this.images.clear();
    this.extents.clear();
    this.rows = 0;
  }

  add(rows: readonly HuntCellRow[], extents: readonly BucketExtent[]): void {
    this.extents.add(extents);
    for (const r of rows) {
      if (r.band > this.protectedBand) continue;
      let bands = this.images.get(r.imageId);
      if (!bands) this.images.set(r.imageId, (bands = new Map()));
      let b = bands.get(r.band);
      if (!b) bands.set(r.band, (b = { band: r.band, rects: new Map(), clients: new Map(), times: new Map(), unionArea: 0 }));
      const rk = `${r.rectX},${r.rectY},${r.rectW},${r.rectH}`;
      const rect = b.rects.get(rk);
      if (rect) rect[1]++;
      else {
        const area = r.rectW * r.rectH;
        b.rects.set(rk, [area, 1]);
        b.unionArea += area;
      }
      b.clients.set(r.client, (b.clients.get(r.client) ?? 0) + 1);
      const t = b.times.get(r.bucket);
      if (t) {
        if (r.firstTs < t[0]) t[0] = r.firstTs;
        if (r.lastTs > t[1]) t[1] = r.lastTs;
      } else b.times.set(r.bucket, [r.firstTs, r.lastTs]);
      this.rows++;
    }
  }

  /** Removes the buckets in [fromBucket, toBucket): `rows` are the rows they were added with. */
  remove(rows: readonly HuntCellRow[], fromBucket: number, toBucket: number): void {
    for (const r of rows) {
      if (r.band > this.protectedBand) continue;
      const bands = this.images.get(r.imageId);
      const b = bands?.get(r.band);
      const rk = `${r.rectX},${r.rectY},${r.rectW},${r.rectH}`;
      const rect = b?.rects.get(rk);
      const n = b?.clients.get(r.client) ?? 0;
      if (!bands || !b || !rect || n === 0) throw new Error(`exposure state: removing a row never added (${r.imageId} band ${r.band} ${rk} ${r.client})`);
      if (--rect[1] === 0) {
        b.rects.delete(rk);
        b.unionArea -= rect[0];
      }
      if (n === 1) b.clients.delete(r.client);
      else b.clients.set(r.client, n - 1);
      b.times.delete(r.bucket);
      if (b.rects.size === 0) bands.delete(r.band);
      if (bands.size === 0) this.images.delete(r.imageId);
      this.rows--;
    }
    this.extents.remove(fromBucket, toBucket);
  }

  /** The exposure rows of the given images (those active in the window's last step), as the SQL returns them. */
  exposed(images: Iterable<string>, catalogue: ReadonlyMap<string, CatalogueSize>, openDataLongEdge: number, gates: ExposureGates): ImageExposureRow[] {
    const out: ImageExposureRow[] = [];
    for (const imageId of images) {
      const bands = this.images.get(imageId);
      if (!bands) continue;
      const { w, h, od } = this.extents.size(imageId, catalogue.get(imageId), openDataLongEdge);
      if (!(w > 0 && h > 0)) continue;
      for (const b of bands.values()) {
        const edge = Math.max(w, h) * Math.pow(2, -b.band);
        if (!(edge > od) || !(edge >= od * gates.minEdgeRatio)) continue;
        const unionCoverage = Math.min(1, b.unionArea / (w * h));
        if (!(unionCoverage >= gates.minUnionCoverage)) continue;
        let firstTs = Number.POSITIVE_INFINITY;
        let lastTs = Number.NEGATIVE_INFINITY;
        for (const [f, l] of b.times.values()) {
          if (f < firstTs) firstTs = f;
          if (l > lastTs) lastTs = l;
        }
        out.push({ imageId, band: b.band, unionCoverage, imageArea: w * h, longEdge: edge, openDataLongEdge: od, clients: b.clients.size, firstTs, lastTs });
      }
    }
    return out;
  }
}

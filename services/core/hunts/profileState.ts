/**
 * Per (client, image), how it fetched the image over the campaign look-back — the SQL's member
 * profiles (huntQueries.campaignMembers): share of requests at high resolution, the span of bands and
 * levels, requests, first and last request, its user agent — from per-bucket sums that a window adds
 * and removes with the campaign state. The covered area comes from the campaign state, which holds the
 * distinct rectangles. Pure.
 */
import type { CampaignMemberRow } from './findings.ts';

/** One (bucket, image, client) of hunt_cells' hunted rows, all bands, excluded clients left out. */
export interface ProfileRow {
  readonly bucket: number;
  readonly imageId: string;
  readonly client: string;
  /** The smallest user agent (byte order) of the rows. */
  readonly userAgent: string;
  readonly requests: number;
  /** Requests at bands ≤ the protected band. */
  readonly deepRequests: number;
  readonly minBand: number;
  readonly maxBand: number;
  readonly minLevel: number;
  readonly maxLevel: number;
  readonly firstTs: number;
  readonly lastTs: number;
}

/** Byte (UTF-8) order of two strings, as ClickHouse's min() on String compares them. */
function utf8Less(a: string, b: string): boolean {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) < 0;
}

export class ProfileState {
  /** image → client → bucket → row. */
  private readonly byImage = new Map<string, Map<string, Map<number, ProfileRow>>>();

  clear(): void {
    this.byImage.clear();
  }

  add(rows: readonly ProfileRow[]): void {
    for (const r of rows) {
      let byClient = this.byImage.get(r.imageId);
      if (!byClient) this.byImage.set(r.imageId, (byClient = new Map()));
      let byBucket = byClient.get(r.client);
      if (!byBucket) byClient.set(r.client, (byBucket = new Map()));
      byBucket.set(r.bucket, r);
    }
  }

  /** Forgets the buckets in [fromBucket, toBucket). */
  remove(fromBucket: number, toBucket: number): void {
    for (const [image, byClient] of this.byImage) {
      for (const [client, byBucket] of byClient) {
        for (const b of byBucket.keys()) if (b >= fromBucket && b < toBucket) byBucket.delete(b);
        if (byBucket.size === 0) byClient.delete(client);
      }
      if (byClient.size === 0) this.byImage.delete(image);
    }
  }

  /** The profile of every given client (or every client) that requested one of the given images in the look-back. */
  profiles(images: readonly string[], clients: ReadonlySet<string> | null, coveredArea: (imageId: string, client: string) => number): Array<CampaignMemberRow & { bandSpan: number }> {
    const out: Array<CampaignMemberRow & { bandSpan: number }> = [];
    for (const imageId of new Set(images)) {
      const byClient = this.byImage.get(imageId);
      if (!byClient) continue;
      for (const [client, byBucket] of byClient) {
        if (clients && !clients.has(client)) continue;
        let requests = 0;
        let deep = 0;
        let ua: string | null = null;
        let minBand = Infinity;
        let maxBand = -Infinity;
        let minLevel = Infinity;
        let maxLevel = -Infinity;
        let firstTs = Infinity;
        let lastTs = -Infinity;
        for (const r of byBucket.values()) {
          requests += r.requests;
          deep += r.deepRequests;
          if (ua === null || utf8Less(r.userAgent, ua)) ua = r.userAgent;
          if (r.minBand < minBand) minBand = r.minBand;
          if (r.maxBand > maxBand) maxBand = r.maxBand;
          if (r.minLevel < minLevel) minLevel = r.minLevel;
          if (r.maxLevel > maxLevel) maxLevel = r.maxLevel;
          if (r.firstTs < firstTs) firstTs = r.firstTs;
          if (r.lastTs > lastTs) lastTs = r.lastTs;
        }
        out.push({
          client,
          imageId,
          userAgent: ua ?? '',
          deepFraction: deep / requests,
          bandSpan: Math.max(maxBand - minBand, maxLevel - minLevel),
          coveredArea: coveredArea(imageId, client),
          requests,
          firstTs,
          lastTs,
        });
      }
    }
    return out;
  }
}

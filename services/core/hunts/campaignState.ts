/**
 * The campaign hunt, incrementally: the same candidates as the SQL of services/hunts/huntQueries.ts
 * (`campaignCandidates`), computed from a state that a window updates with the buckets entering and
 * leaving its look-back instead of re-aggregating the whole look-back. Pure: the adapter
 * (services/hunts/campaignCells.ts) reads the rows of `hunt_cells` and hands them in.
 *
 * What the SQL computes, per (image, band, group) over the window's high-resolution requests of the
 * images active in its last step: the distinct rectangles (their summed area over the image's area is
 * the union coverage), the distinct clients (members), and Σ over rectangles of area × clients
 * (over the union area: the overlap). Each of these is a function of the set of distinct
 * (rectangle, client) pairs present in the window, so the state counts, per pair, the bucket rows
 * that contain it, and keeps the sums current as pairs appear and disappear. Image sizes are the
 * catalogue's, else the largest extent requested in the window: the state keeps each bucket's extent
 * per image. All arithmetic is on integers until the same divisions as the SQL, so the numbers are
 * the SQL's to the last bit (a test compares both on every window of simulated traffic).
 *
 * Contract: a bucket is removed with exactly the rows it was added with. The caller guarantees it
 * (no row stored into a bucket after the bucket was added; otherwise it rebuilds the state).
 */
import type { CampaignCandidateRow } from './findings.ts';
import { ImageExtents, type BucketExtent, type CatalogueSize, type HuntCellRow } from './huntCells.ts';

export interface CampaignGates {
  readonly minMembers: number;
  readonly minUnionCoverage: number;
}

/**
 * One rectangle of a group and its clients, each with the bucket rows of this group holding
 * (rectangle, client). Most rectangles of a group have one client: it is kept inline, and a Map only
 * when a second one appears (memory: ~1.4 M pairs for a day of a busy simulated server).
 */
interface RectEntry {
  readonly area: number;
  /** The single client (when `more` is null), or null when the entry is empty. */
  client: string | null;
  count: number;
  more: Map<string, number> | null;
}

function countOf(e: RectEntry, client: string): number {
  if (e.more) return e.more.get(client) ?? 0;
  return e.client === client ? e.count : 0;
}

function setCount(e: RectEntry, client: string, n: number): void {
  if (e.more) {
    if (n === 0) e.more.delete(client);
    else e.more.set(client, n);
    return;
  }
  if (e.client === null || e.client === client) {
    e.client = n === 0 ? null : client;
    e.count = n;
    return;
  }
  if (n === 0) return;
  e.more = new Map([
    [e.client, e.count],
    [client, n],
  ]);
  e.client = null;
  e.count = 0;
}

function clientsOf(e: RectEntry): number {
  return e.more ? e.more.size : e.client === null ? 0 : 1;
}

interface Group {
  readonly imageId: string;
  readonly band: number;
  readonly name: string;
  readonly rects: Map<string, RectEntry>;
  /** client → distinct rectangles of this group it requested. */
  readonly members: Map<string, number>;
  /** Σ area of the distinct rectangles. */
  unionArea: number;
  /** Σ over distinct (rectangle, client) of area. */
  pairArea: number;
}

export class CampaignState {
  private readonly groups = new Map<string, Group>();
  private readonly groupsByImage = new Map<string, Set<Group>>();
  private readonly extents = new ImageExtents();
  private rowCount = 0;
  /** image → client → band → area of the distinct rectangles it requested there (from its network group: each client is in exactly one). */
  private readonly covered = new Map<string, Map<string, Map<number, number>>>();
  /** One string per distinct client, rectangle key and group name held (rows arrive as fresh strings). */
  private readonly strings = new Map<string, string>();

  /** `protectedBand`: the coarsest high-resolution band (rows of coarser bands only count for extents). */
  constructor(private readonly protectedBand: number) {}

  /** Distinct (group, rectangle, client) entries held: a measure of memory. */
  get size(): number {
    return this.rowCount;
  }

  clear(): void {
    this.groups.clear();
    this.groupsByImage.clear();
    this.extents.clear();
    this.covered.clear();
    this.strings.clear();
    this.rowCount = 0;
  }

  /** Adds a bucket's rows and extents. */
  add(rows: readonly HuntCellRow[], extents: readonly BucketExtent[]): void {
    this.extents.add(extents);
    for (const r of rows) {
      if (r.band > this.protectedBand) continue;
      this.change(r, r.net, 1);
      this.change(r, `ua:${r.userAgent}`, 1);
      if (r.hostingAsn) this.change(r, `asn:${r.hostingAsn}`, 1);
    }
  }

  /** Removes buckets: the rows they were added with, and every extent of the buckets in [fromBucket, toBucket). */
  remove(rows: readonly HuntCellRow[], fromBucket: number, toBucket: number): void {
    for (const r of rows) {
      if (r.band > this.protectedBand) continue;
      this.change(r, r.net, -1);
      this.change(r, `ua:${r.userAgent}`, -1);
      if (r.hostingAsn) this.change(r, `asn:${r.hostingAsn}`, -1);
    }
    this.extents.remove(fromBucket, toBucket);
    // Interned strings of clients and rectangles that left: rebuild the table from what is held.
    if (this.strings.size > 4 * this.rowCount + 100_000) this.compactStrings();
  }

  private compactStrings(): void {
    this.strings.clear();
    for (const g of this.groups.values()) {
      this.strings.set(g.name, g.name);
      for (const [rk, rect] of g.rects) {
        this.strings.set(rk, rk);
        if (rect.client !== null) this.strings.set(rect.client, rect.client);
        for (const c of rect.more?.keys() ?? []) this.strings.set(c, c);
      }
    }
  }

  private intern(x: string): string {
    const have = this.strings.get(x);
    if (have !== undefined) return have;
    this.strings.set(x, x);
    return x;
  }

  private change(r: HuntCellRow, name: string, delta: 1 | -1): void {
    const key = `${r.imageId}\u0000${r.band}\u0000${name}`;
    let g = this.groups.get(key);
    if (!g) {
      if (delta < 0) throw new Error(`campaign state: removing a row never added (${key})`);
      g = { imageId: r.imageId, band: r.band, name: this.intern(name), rects: new Map(), members: new Map(), unionArea: 0, pairArea: 0 };
      this.groups.set(key, g);
      let set = this.groupsByImage.get(r.imageId);
      if (!set) this.groupsByImage.set(r.imageId, (set = new Set()));
      set.add(g);
    }
    const rk = `${r.rectX},${r.rectY},${r.rectW},${r.rectH}`;
    let rect = g.rects.get(rk);
    if (!rect) {
      if (delta < 0) throw new Error(`campaign state: removing a rectangle never added (${key} ${rk})`);
      rect = { area: r.rectW * r.rectH, client: null, count: 0, more: null };
      g.rects.set(this.intern(rk), rect);
      g.unionArea += rect.area;
    }
    const client = delta > 0 ? this.intern(r.client) : r.client;
    const before = countOf(rect, client);
    const after = before + delta;
    if (after < 0) throw new Error(`campaign state: removing a client never added (${key} ${rk} ${r.client})`);
    setCount(rect, client, after);
    if (before === 0 && after > 0) {
      if (name.startsWith('net:')) this.addCovered(r.imageId, client, r.band, rect.area);
      g.pairArea += rect.area;
      g.members.set(client, (g.members.get(client) ?? 0) + 1);
      this.rowCount++;
    } else if (before > 0 && after === 0) {
      if (name.startsWith('net:')) this.addCovered(r.imageId, client, r.band, -rect.area);
      g.pairArea -= rect.area;
      const m = (g.members.get(client) ?? 0) - 1;
      if (m <= 0) g.members.delete(client);
      else g.members.set(client, m);
      this.rowCount--;
    }
    if (clientsOf(rect) === 0) {
      g.rects.delete(rk);
      g.unionArea -= rect.area;
      if (g.rects.size === 0) {
        this.groups.delete(key);
        const set = this.groupsByImage.get(g.imageId);
        set?.delete(g);
        if (set?.size === 0) this.groupsByImage.delete(g.imageId);
      }
    }
  }

  private addCovered(imageId: string, client: string, band: number, area: number): void {
    let byClient = this.covered.get(imageId);
    if (!byClient) this.covered.set(imageId, (byClient = new Map()));
    let byBand = byClient.get(client);
    if (!byBand) byClient.set(client, (byBand = new Map()));
    const n = (byBand.get(band) ?? 0) + area;
    if (n === 0) {
      byBand.delete(band);
      if (byBand.size === 0) byClient.delete(client);
      if (byClient.size === 0) this.covered.delete(imageId);
    } else byBand.set(band, n);
  }

  /**
   * Area of the distinct rectangles the client requested of the image at high-resolution bands beyond
   * the open-data edge (the SQL's `coveredArea` of a member or contributor), with the image's size as
   * {@link candidates} takes it.
   */
  coveredArea(imageId: string, client: string, catalogue: ReadonlyMap<string, CatalogueSize>, openDataLongEdge: number): number {
    const byBand = this.covered.get(imageId)?.get(client);
    if (!byBand) return 0;
    const { w, h, od } = this.extents.size(imageId, catalogue.get(imageId), openDataLongEdge);
    if (!(w > 0 && h > 0)) return 0;
    let sum = 0;
    for (const [band, area] of byBand) if (Math.max(w, h) * Math.pow(2, -band) > od) sum += area;
    return sum;
  }

  /**
   * The candidates of the given images (those active in the window's last step), as the SQL returns
   * them: groups with at least `minMembers` clients whose union covers at least `minUnionCoverage`
   * of the image at a high-resolution band that is beyond the open-data edge.
   */
  candidates(images: Iterable<string>, catalogue: ReadonlyMap<string, CatalogueSize>, openDataLongEdge: number, gates: CampaignGates): CampaignCandidateRow[] {
    const out: CampaignCandidateRow[] = [];
    for (const imageId of images) {
      const groups = this.groupsByImage.get(imageId);
      if (!groups) continue;
      const { w, h, od } = this.extents.size(imageId, catalogue.get(imageId), openDataLongEdge);
      if (!(w > 0 && h > 0)) continue;
      for (const g of groups) {
        const edge = Math.max(w, h) * Math.pow(2, -g.band);
        if (!(edge > od)) continue;
        if (g.members.size < gates.minMembers) continue;
        const unionCoverage = Math.min(1, g.unionArea / (w * h));
        if (!(unionCoverage >= gates.minUnionCoverage)) continue;
        out.push({
          imageId,
          band: g.band,
          group: g.name,
          members: [...g.members.keys()].sort(),
          unionCoverage,
          overlap: g.unionArea > 0 ? g.pairArea / g.unionArea : 0,
          longEdge: edge,
          unionPixels: unionCoverage * w * h * Math.pow(4, -g.band),
        });
      }
    }
    return out;
  }
}

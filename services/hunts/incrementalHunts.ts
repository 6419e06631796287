/**
 * The incremental hunts: campaigns (core/hunts/campaignState.ts) and image exposure
 * (core/hunts/exposureState.ts) from states that each window moves by the buckets of `hunt_cells` that
 * entered and left its look-back (one round trip, campaignCells.cellDelta), then evaluates the images
 * active in its last step. A first window, a gap longer than the look-back, a step backwards or
 * {@link IncrementalHunt.markDirty} (rows stored into a bucket already held) rebuild the state from the
 * whole look-back.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { CampaignState, type CampaignGates } from '../core/hunts/campaignState.ts';
import { ExposureState, type ExposureGates } from '../core/hunts/exposureState.ts';
import type { CampaignCandidateRow, CampaignMemberRow, ImageExposureRow } from '../core/hunts/findings.ts';
import { ProfileState } from '../core/hunts/profileState.ts';
import type { BucketExtent, CatalogueSize, HuntCellRow } from '../core/hunts/huntCells.ts';
import { catalogueSizes, cellDelta, profileRows, type BucketRange } from './campaignCells.ts';
import type { HuntExclusions } from './huntQueries.ts';

export interface IncrementalHuntOptions {
  readonly lookbackMs: number;
  /** The hunt's step: images active in [end - stepMs, end) are evaluated. */
  readonly stepMs: number;
  readonly exclusions: HuntExclusions;
  /** Coarsest high-resolution band (huntQueries' protectedBand). */
  readonly protectedBand: number;
  readonly openDataLongEdge: number;
  /** Called when a bucket turned out to have changed after it was added (the state is then rebuilt). */
  readonly onUnannouncedChange?: (err: Error) => void;
  /** A client's hosting ASN from the process's table (else the store's dictionary is asked). */
  readonly hostingAsnOf?: (client: string) => number;
}

interface MovableState {
  readonly size: number;
  clear(): void;
  add(rows: readonly HuntCellRow[], extents: readonly BucketExtent[]): void;
  remove(rows: readonly HuntCellRow[], fromBucket: number, toBucket: number): void;
}

/** A state over a sliding look-back of hunt_cells buckets. */
export class IncrementalHunt<S extends MovableState> {
  private lo = Number.NaN;
  private hi = Number.NaN;
  private dirty = true;
  /** Times the state was built from its whole look-back. */
  rebuilds = 0;

  constructor(
    protected readonly client: ClickHouseClient,
    protected readonly o: IncrementalHuntOptions,
    protected readonly state: S,
  ) {}

  /** What the state holds (pairs or bucket rows): a measure of memory. */
  get held(): number {
    return this.state.size;
  }

  /** Rows were stored into event time the state holds: the next window rebuilds it. */
  markDirty(): void {
    this.dirty = true;
  }

  /**
   * Moves the state to the look-back of the window ending at `end` (a bucket boundary); returns the
   * images active in its last step, their catalogue sizes, and the buckets that entered and left
   * (`rebuilt`: the state was built anew from `enter`).
   */
  protected async moveTo(end: number): Promise<{ active: string[]; catalogue: Map<string, CatalogueSize>; rebuilt: boolean; enter: BucketRange; leave: BucketRange }> {
    const from = end - this.o.lookbackMs;
    const active = { from: end - this.o.stepMs, to: end };
    const rebuild = this.dirty || Number.isNaN(this.lo) || from >= this.hi || from < this.lo || end < this.hi;
    const none = { from: 0, to: 0 };
    const ranges = rebuild ? { enter: { from, to: end }, leave: none, active } : { enter: { from: this.hi, to: end }, leave: { from: this.lo, to: from }, active };
    const d = await cellDelta(this.client, ranges, this.o.exclusions, this.o.protectedBand, this.o.hostingAsnOf);
    try {
      if (rebuild) {
        this.state.clear();
        this.rebuilds++;
      } else this.state.remove(d.gone, this.lo, from);
      this.state.add(d.added, d.extents);
    } catch (e) {
      // A bucket changed after it was added (rows stored late and not announced): rebuild.
      this.o.onUnannouncedChange?.(e as Error);
      this.dirty = true;
      this.lo = Number.NaN;
      return this.moveTo(end);
    }
    this.lo = from;
    this.hi = end;
    this.dirty = false;
    return { active: d.active, catalogue: await catalogueSizes(this.client, d.active), rebuilt: rebuild, enter: ranges.enter, leave: ranges.leave };
  }
}

/** Campaign candidates and their members' profiles, as huntQueries.campaignCandidates and campaignMembers return them. */
export class IncrementalCampaigns extends IncrementalHunt<CampaignState> {
  private readonly profiles = new ProfileState();
  private catalogue = new Map<string, CatalogueSize>();

  constructor(client: ClickHouseClient, o: IncrementalHuntOptions) {
    super(client, o, new CampaignState(o.protectedBand));
  }

  async candidates(end: number, gates: CampaignGates): Promise<CampaignCandidateRow[]> {
    const moved = await this.moveTo(end);
    // The members' profiles follow the same buckets.
    const added = await profileRows(this.client, moved.enter, this.o.exclusions, this.o.protectedBand);
    if (moved.rebuilt) this.profiles.clear();
    else this.profiles.remove(moved.leave.from, moved.leave.to);
    this.profiles.add(added);
    this.catalogue = moved.catalogue;
    return this.state.candidates(moved.active, moved.catalogue, this.o.openDataLongEdge, gates);
  }

  /**
   * Profiles of the given clients on the given images over the look-back of the last {@link candidates}
   * window. Catalogue sizes are those of the images active in its last step; the candidates' images are among them.
   */
  async members(clients: readonly string[], images: readonly string[]): Promise<CampaignMemberRow[]> {
    const missing = images.filter((i) => !this.catalogue.has(i));
    const catalogue = missing.length > 0 ? new Map([...this.catalogue, ...(await catalogueSizes(this.client, missing))]) : this.catalogue;
    return this.profiles.profiles(images, new Set(clients), (imageId, client) => this.state.coveredArea(imageId, client, catalogue, this.o.openDataLongEdge));
  }
}

/** Image-exposure rows, as huntQueries.exposedImages returns them. */
export class IncrementalExposure extends IncrementalHunt<ExposureState> {
  constructor(client: ClickHouseClient, o: IncrementalHuntOptions) {
    super(client, o, new ExposureState(o.protectedBand));
  }

  async exposed(end: number, gates: ExposureGates): Promise<ImageExposureRow[]> {
    const { active, catalogue } = await this.moveTo(end);
    return this.state.exposed(active, catalogue, this.o.openDataLongEdge, gates);
  }
}

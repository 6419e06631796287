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
import type { CampaignCandidateRow, ImageExposureRow } from '../core/hunts/findings.ts';
import type { BucketExtent, CatalogueSize, HuntCellRow } from '../core/hunts/huntCells.ts';
import { catalogueSizes, cellDelta } from './campaignCells.ts';
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
    private readonly client: ClickHouseClient,
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

  /** Moves the state to the look-back of the window ending at `end` (a bucket boundary); returns the images active in its last step and their catalogue sizes. */
  protected async moveTo(end: number): Promise<{ active: string[]; catalogue: Map<string, CatalogueSize> }> {
    const from = end - this.o.lookbackMs;
    const active = { from: end - this.o.stepMs, to: end };
    const rebuild = this.dirty || Number.isNaN(this.lo) || from >= this.hi || from < this.lo || end < this.hi;
    const none = { from: 0, to: 0 };
    const d = await cellDelta(
      this.client,
      rebuild ? { enter: { from, to: end }, leave: none, active } : { enter: { from: this.hi, to: end }, leave: { from: this.lo, to: from }, active },
      this.o.exclusions,
      this.o.protectedBand,
    );
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
    return { active: d.active, catalogue: await catalogueSizes(this.client, d.active) };
  }
}

/** Campaign candidates, as huntQueries.campaignCandidates returns them. */
export class IncrementalCampaigns extends IncrementalHunt<CampaignState> {
  constructor(client: ClickHouseClient, o: IncrementalHuntOptions) {
    super(client, o, new CampaignState(o.protectedBand));
  }

  async candidates(end: number, gates: CampaignGates): Promise<CampaignCandidateRow[]> {
    const { active, catalogue } = await this.moveTo(end);
    return this.state.candidates(active, catalogue, this.o.openDataLongEdge, gates);
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

/**
 * The campaign hunt's candidates from the incremental state (core/hunts/campaignState.ts): each window
 * moves the state by the buckets of `hunt_cells` that entered and left its look-back (one round trip,
 * campaignCells.cellDelta) and evaluates the images active in its last step. A first window, a gap
 * longer than the look-back, a step backwards or {@link IncrementalCampaigns.markDirty} (rows stored
 * into a bucket already held) rebuild the state from the whole look-back.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { CampaignState, type CampaignGates } from '../core/hunts/campaignState.ts';
import type { CampaignCandidateRow } from '../core/hunts/findings.ts';
import { catalogueSizes, cellDelta } from './campaignCells.ts';
import type { HuntExclusions } from './huntQueries.ts';

export interface IncrementalCampaignsOptions {
  readonly lookbackMs: number;
  /** The campaign hunt's step: images active in [end - stepMs, end) are evaluated. */
  readonly stepMs: number;
  readonly exclusions: HuntExclusions;
  /** Coarsest high-resolution band (huntQueries' protectedBand). */
  readonly protectedBand: number;
  readonly openDataLongEdge: number;
  /** Called when a bucket turned out to have changed after it was added (the state is then rebuilt). */
  readonly onUnannouncedChange?: (err: Error) => void;
}

export class IncrementalCampaigns {
  private readonly state: CampaignState;
  private lo = Number.NaN;
  private hi = Number.NaN;
  private dirty = true;
  /** Times the state was built from its whole look-back. */
  rebuilds = 0;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly o: IncrementalCampaignsOptions,
  ) {
    this.state = new CampaignState(o.protectedBand);
  }

  /** Distinct (group, rectangle, client) pairs held. */
  get pairs(): number {
    return this.state.size;
  }

  /** Rows were stored into event time the state holds: the next window rebuilds it. */
  markDirty(): void {
    this.dirty = true;
  }

  /** The candidates of the window ending at `end` (a bucket boundary), as huntQueries.campaignCandidates returns them. */
  async candidates(end: number, gates: CampaignGates): Promise<CampaignCandidateRow[]> {
    const from = end - this.o.lookbackMs;
    const active = { from: end - this.o.stepMs, to: end };
    const rebuild = this.dirty || Number.isNaN(this.lo) || from >= this.hi || from < this.lo || end < this.hi;
    const none = { from: 0, to: 0 };
    const d = await cellDelta(this.client, rebuild ? { enter: { from, to: end }, leave: none, active } : { enter: { from: this.hi, to: end }, leave: { from: this.lo, to: from }, active }, this.o.exclusions, this.o.protectedBand);
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
      return this.candidates(end, gates);
    }
    this.lo = from;
    this.hi = end;
    this.dirty = false;
    return this.state.candidates(d.active, await catalogueSizes(this.client, d.active), this.o.openDataLongEdge, gates);
  }
}

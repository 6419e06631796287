/**
 * Hunt thresholds: scheduled SQL over stored requests for what the streaming detector cannot see —
 * harvesting spread over hours or days, or over many clients. Every value has a documented default;
 * none was fitted to one simulated data set (see README "Hunts").
 */
export interface HuntConfig {
  /**
   * Event-time grid on which hunts run (replay, ingest, serve) and the step of `tilewatch hunt`.
   * Default 10 min (campaigns must be caught within 30 min). Each hunt runs at the grid points that
   * are multiples of its own `everyMs` (a multiple of this one).
   */
  readonly everyMs: number;
  /** Stored rows may arrive this late (event time) relative to the newest stored row before a window is hunted. Default 2 min. */
  readonly latenessMs: number;
  /**
   * A band counts as high resolution when its scale is ≥ this (same meaning as the detector's
   * protectedScale): bands 0 … round(log2(1/protectedScale)), band 0 being full resolution. Default 0.5 (bands 0 and 1).
   */
  readonly protectedScale: number;
  /** Long edge published openly when neither the catalogue nor config says otherwise (detector's openDataLongEdge). Default 2048. */
  readonly openDataLongEdge: number;
  /** Output pixels of one full-screen view (detector's screenPixels): exposure counts what lies beyond one screen. Default 3840 × 2160. */
  readonly screenPixels: number;
  readonly lowAndSlow: {
    /** Cadence (multiple of the grid). Default 1 h: low-and-slow must be caught within 6 h. */
    readonly everyMs: number;
    /** Look-back window. Default 72 h (one tile a minute covers a 10,000 × 8,000 image at 512 px tiles in ~5 h; one every 10 min in ~2 days). */
    readonly lookbackMs: number;
    /** Distinct high-resolution tiles (not requests: a monitor repeating one URL is not a sweep) before a client is considered. Default 30. */
    readonly minTiles: number;
    /** Distinct event-time hours with high-resolution tiles; also must exceed the population's p99 of active hours. Default 4. */
    readonly minActiveHours: number;
    /** Median gap between the client's tile requests, at or above which the fetching is "slow" (humans load viewports in bursts). Default 20 s. */
    readonly minMedianGapMs: number;
    /** Share of the client's tile requests at high resolution ("deepest level only"; viewers always load coarse levels first). Default 0.9. */
    readonly minDeepFraction: number;
    /** Clients that already have a streaming alert in the look-back are left to that alert. Default true. */
    readonly skipAlerted: boolean;
    /** Inactivity after which an open low-and-slow alert is resolved. Default 24 h. */
    readonly resolveAfterMs: number;
  };
  readonly campaign: {
    /** Cadence (multiple of the grid). Default 10 min. */
    readonly everyMs: number;
    /** Look-back window. Default 24 h. */
    readonly lookbackMs: number;
    /** Clients that must contribute high-resolution tiles of one image. Default 4. */
    readonly minMembers: number;
    /** Union coverage of the image at one high-resolution band. Default 0.8. */
    readonly minUnionCoverage: number;
    /** Sum of the members' covered areas / union area, at or below which they "split the work" (humans overlap on salient areas). Default 1.3. */
    readonly maxOverlap: number;
    /** Largest share of the union any one member covered ("each client low"). Default 0.5. */
    readonly maxMemberShare: number;
    /** Share of members whose requests for the image are ≥ minDeepFraction high resolution (no navigation). Default 0.75. */
    readonly minDeepMembers: number;
    /** Union revealed beyond one screen, in screens, before a campaign matters. Default 2. */
    readonly minExcessScreens: number;
    /** Inactivity after which an open campaign alert is resolved. Default 6 h. */
    readonly resolveAfterMs: number;
  };
  readonly imageExposure: {
    /** Cadence (multiple of the grid). Default 1 h. */
    readonly everyMs: number;
    /** Look-back window. Default 7 days. */
    readonly lookbackMs: number;
    /** Union coverage at a band whose long edge is ≥ minEdgeRatio × the image's open-data edge. Default 0.9. */
    readonly minUnionCoverage: number;
    /** Default 2: twice the published resolution (a 3,000 px view of a 2,048 px open-data image is not the asset). */
    readonly minEdgeRatio: number;
    /**
     * An exposure is an alert only when clients that fetched the image like a script — this share of
     * their requests for it at high resolution, no navigation — and that no open alert accuses yet
     * account for this share of the exposed area; they alone are named. Otherwise it is a matter for
     * the exposure report, not the pager. Defaults 0.9 and 0.5.
     */
    readonly minDeepFraction: number;
    readonly minAttributedShare: number;
    /** Inactivity after which an open image-exposure alert is resolved. Default 7 days. */
    readonly resolveAfterMs: number;
  };
}

const H = 3_600_000;

export const DEFAULT_HUNT_CONFIG: HuntConfig = Object.freeze({
  everyMs: 10 * 60_000,
  latenessMs: 2 * 60_000,
  protectedScale: 0.5,
  openDataLongEdge: 2048,
  screenPixels: 3840 * 2160,
  lowAndSlow: Object.freeze({
    everyMs: H,
    lookbackMs: 72 * H,
    minTiles: 30,
    minActiveHours: 4,
    minMedianGapMs: 20_000,
    minDeepFraction: 0.9,
    skipAlerted: true,
    resolveAfterMs: 24 * H,
  }),
  campaign: Object.freeze({
    everyMs: 10 * 60_000,
    lookbackMs: 24 * H,
    minMembers: 4,
    minUnionCoverage: 0.8,
    maxOverlap: 1.3,
    maxMemberShare: 0.5,
    minDeepMembers: 0.75,
    minExcessScreens: 2,
    resolveAfterMs: 6 * H,
  }),
  imageExposure: Object.freeze({
    everyMs: H,
    lookbackMs: 7 * 24 * H,
    minUnionCoverage: 0.9,
    minEdgeRatio: 2,
    minDeepFraction: 0.9,
    minAttributedShare: 0.5,
    resolveAfterMs: 7 * 24 * H,
  }),
});

import type { TileRequest } from '../types.ts';

/**
 * What a stored request may hold. Every value a log line (or a URL inside it) can carry is checked
 * here before it reaches the row encoder, so the store never sees a value it would reject (one such
 * value used to fail a whole insert batch) and the detector never sees an event time that would
 * move its clock years ahead.
 */
export interface InputLimits {
  /** Earliest accepted event time, epoch ms. Default 2000-01-01T00:00:00Z (before tile servers logged IIIF or XYZ). */
  readonly earliestEventMs: number;
  /**
   * How far ahead of the wall clock an event time may be, ms. Default 1 day: clock skew and
   * mislabelled time zones, not the future.
   */
  readonly maxAheadMs: number;
  /**
   * How far an event time may be from the median of the last {@link SKEW_SAMPLE} lines of the same
   * stream, ms; 0 switches the check off. Default 30 days. A log with a longer silence inside one file
   * dead-letters up to half that sample after the silence, until the median has moved (README).
   */
  readonly maxSkewMs: number;
  /** Largest response size accepted, bytes. Default 2^40 (1 TiB): anything above is corruption. */
  readonly maxBytes: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = Object.freeze({
  earliestEventMs: Date.UTC(2000, 0, 1),
  maxAheadMs: 86_400_000,
  maxSkewMs: 30 * 86_400_000,
  maxBytes: 2 ** 40,
});

/** Lines whose event times form the median that {@link InputLimits.maxSkewMs} is measured from. */
export const SKEW_SAMPLE = 1024;
/** The median is recomputed after this many lines (sorting 1,024 numbers per line would cost more than parsing). */
const MEDIAN_EVERY = 128;
/** The skew check starts once this many lines are in the sample: a median of three lines decides nothing. */
const MIN_SAMPLE = 64;
/** The engine's DateTime64 range ends in 2299; nothing past this is ever accepted, whatever the settings. */
const LATEST_STORABLE_MS = Date.UTC(2299, 11, 31);
const EARLIEST_STORABLE_MS = Date.UTC(1900, 0, 1);

/**
 * Checks event times of one stream against the absolute window [earliest, now + maxAhead] and the
 * median of the stream's recent lines. Stateful (the sample), pure otherwise: the wall clock is injected.
 */
export interface EventTimeGuard {
  /** null when `ts` is acceptable, else the reason (for the dead letter). Every call adds `ts` to the sample. */
  check(ts: number): string | null;
  /** Forget the sample (a new input file may cover another period). */
  reset(): void;
}

export function createEventTimeGuard(limits: InputLimits, now: () => number): EventTimeGuard {
  const earliest = Math.max(EARLIEST_STORABLE_MS, limits.earliestEventMs);
  const sample = new Float64Array(SKEW_SAMPLE);
  const sorted = new Float64Array(SKEW_SAMPLE);
  let filled = 0;
  let next = 0;
  let sinceMedian = 0;
  let median = Number.NaN;
  let latest = 0;
  const refreshLatest = (): void => {
    latest = Math.min(LATEST_STORABLE_MS, now() + limits.maxAheadMs);
  };
  return {
    check(ts) {
      if (!Number.isFinite(ts)) return 'event time is not a number';
      if (ts < earliest) return `event time ${iso(ts)} is before ${iso(earliest)} (limits.earliestEventMs)`;
      // The wall clock is read once per median refresh (and for lines ahead of the last reading), not per line.
      if (ts > latest || sinceMedian === 0) refreshLatest();
      if (ts > latest) return `event time ${iso(ts)} is more than ${hours(limits.maxAheadMs)} ahead of the clock (limits.maxAheadMs)`;
      sample[next] = ts;
      next = (next + 1) % SKEW_SAMPLE;
      if (filled < SKEW_SAMPLE) filled++;
      if (++sinceMedian >= MEDIAN_EVERY || (Number.isNaN(median) && filled >= MIN_SAMPLE)) {
        sinceMedian = 0;
        const view = sorted.subarray(0, filled);
        view.set(sample.subarray(0, filled));
        view.sort();
        median = view[filled >> 1]!;
      }
      if (limits.maxSkewMs > 0 && filled >= MIN_SAMPLE && Math.abs(ts - median) > limits.maxSkewMs) {
        return `event time ${iso(ts)} is more than ${hours(limits.maxSkewMs)} from the median of the stream's recent lines (${iso(median)}; limits.maxSkewMs)`;
      }
      return null;
    },
    reset() {
      filled = 0;
      next = 0;
      sinceMedian = 0;
      median = Number.NaN;
    },
  };
}

/** null when status and size are plausible, else the reason. */
export function checkStatusAndSize(status: number, bytes: number, limits: InputLimits): string | null {
  if (!Number.isInteger(status) || status < 0 || status > 999) return `status ${String(status)} is not an HTTP status`;
  if (!Number.isFinite(bytes) || bytes < 0) return `size ${String(bytes)} is negative or not a number`;
  if (bytes > limits.maxBytes) return `size ${String(bytes)} exceeds ${String(limits.maxBytes)} bytes (limits.maxBytes)`;
  return null;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function hours(ms: number): string {
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000} d` : `${Math.round(ms / 3_600_000)} h`;
}

const INT16 = 32_767;
const INT32 = 2_147_483_647;
const UINT32 = 4_294_967_295;

/**
 * null when a tile address fits the stored columns (level Int16, tile x/y Int32), else the reason.
 * URLs are attacker-controlled (`/z99999/1e12/3.png` parses), and an address is checked before it
 * can teach an image's extents.
 */
export function checkTileAddress(addr: Pick<TileRequest, 'level' | 'col' | 'row'>): string | null {
  if (Math.abs(addr.level) <= INT16 && Math.abs(addr.col) <= INT32 && Math.abs(addr.row) <= INT32) return null;
  return `tile address out of range (level ${String(addr.level)}, x ${String(addr.col)}, y ${String(addr.row)})`;
}

/**
 * A resolved request whose derived geometry fits the stored columns (UInt32 rectangle, finite
 * scale): the request itself, or the same request revealing nothing. An overflowing rectangle comes
 * from absurd image extents (learned from hostile tile numbers), not from the request, which is
 * still stored: no image is four billion pixels wide.
 */
export function storableGeometry(req: TileRequest): TileRequest {
  const r = req.rect;
  const scaleOk = Number.isFinite(req.scale) && req.scale >= 0;
  // The encoder clamps negatives to 0; what it cannot store is a non-finite or over-wide edge.
  const rectOk = !r || (r.x1 <= UINT32 && r.y1 <= UINT32 && r.x1 - r.x0 <= UINT32 && r.y1 - r.y0 <= UINT32 && r.x0 > -UINT32 && r.y0 > -UINT32);
  return scaleOk && rectOk ? req : { ...req, rect: null, scale: 0 };
}

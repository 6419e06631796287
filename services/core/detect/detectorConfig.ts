/**
 * Detector thresholds. Every value has a documented default and the reason for it; none was fitted
 * to one simulated data set (see README "Detection" and `tilewatch evaluate`).
 */
export interface DetectorConfig {
  /** Group requests by IP (default) or by IP + user agent (splits NAT users with distinct browsers). Default 'ip'. */
  readonly clientKey: 'ip' | 'ip+ua';
  /**
   * Long edge in pixels that the institution publishes openly; a band is protected only above it.
   * Default 2048: most open-access programmes publish 1–3k px derivatives. A catalogue can set it per image.
   */
  readonly openDataLongEdge: number;
  /** A band counts as high resolution when its scale is ≥ this, relative to the deepest known level. Default 0.5 (the half-resolution threat). */
  readonly protectedScale: number;
  /** Coverage (0..1) of an image at a protected band that counts as "fully exposed". Default 0.9. */
  readonly fullCoverage: number;
  /**
   * Output pixels one full-screen viewer view shows (default 3840 × 2160: a 4K display, or 1080p at 2×
   * density as OpenSeadragon loads it). Exposure counts only what a client revealed of an image beyond
   * one such screen: anyone viewing a 3,000 px image in a deep-zoom viewer sees all of it at full
   * resolution, so that is normal viewing, not harvesting.
   */
  readonly screenPixels: number;
  /** Excess screens revealed (summed over images) that count as full exposure evidence. Default 8 (one 10,000 × 8,000 image at full resolution ≈ 8.6). */
  readonly exposureScreens: number;
  /** Tiles at protected bands a client needs before it is scored at all (cheap gate). Default 20. */
  readonly minProtectedTiles: number;
  /** Score (0..100) at which an alert is raised. Default 50; severities at 50/65/80/90. */
  readonly alertScore: number;
  /** Fraction of tile transitions that extend a raster frontier to count as sequential order. Default 0.5. */
  readonly rasterFraction: number;
  /** Forward step window (in linear tile index) that still counts as raster order (parallel fetchers reorder). Default 32. */
  readonly rasterWindow: number;
  /** Coefficient of variation of per-minute tile counts at or below which timing is "regular". Default 0.6. */
  readonly regularCv: number;
  /** Minimum active minutes before timing regularity is judged. Default 10. */
  readonly minTimingMinutes: number;
  /** Fraction of an image's tiles at the client's finest band above which the client is "deepest-level only". Default 0.9. */
  readonly depthOnlyFraction: number;
  /** Robust z-score (median/MAD of hourly tiles per active client) counted as unusual volume. Default 6. */
  readonly volumeZ: number;
  /** Distinct images fetched whole at high resolution in one request each before a full-download alert. Default 3. */
  readonly fullDownloadImages: number;
  /** Event-time idle span after which a client's state is dropped and its open alerts closed. Default 2 h. */
  readonly idleMs: number;
  /** Hard bound on clients held; least recently active are evicted first. Default 200,000. */
  readonly maxClients: number;
  /** Hard bound on images tracked per client (most recent kept). Default 256. */
  readonly maxImagesPerClient: number;
  /** Re-score a client after this many new tiles, or after `evaluateEveryMs` of event time with new tiles. Defaults 25 and 60 s. */
  readonly evaluateEveryTiles: number;
  readonly evaluateEveryMs: number;
}

export const DEFAULT_DETECTOR_CONFIG: DetectorConfig = Object.freeze({
  clientKey: 'ip',
  openDataLongEdge: 2048,
  protectedScale: 0.5,
  fullCoverage: 0.9,
  screenPixels: 3840 * 2160,
  exposureScreens: 8,
  minProtectedTiles: 20,
  alertScore: 50,
  rasterFraction: 0.5,
  rasterWindow: 32,
  regularCv: 0.6,
  minTimingMinutes: 10,
  depthOnlyFraction: 0.9,
  volumeZ: 6,
  fullDownloadImages: 3,
  idleMs: 2 * 3600_000,
  maxClients: 200_000,
  maxImagesPerClient: 256,
  evaluateEveryTiles: 25,
  evaluateEveryMs: 60_000,
});

/** The key a client is judged and stored under: its address, or `address|user agent` (`clientKey: 'ip+ua'`). */
export function clientKeyOf(mode: DetectorConfig['clientKey'], client: { readonly ip: string; readonly userAgent: string }): string {
  return mode === 'ip' ? client.ip : `${client.ip}|${client.userAgent}`;
}

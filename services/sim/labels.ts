/**
 * Ground truth written to labels.jsonl: one object per simulated actor.
 */

export const THREAT_KINDS = [
  'raster-1s',
  'parallel-fast',
  'jittered',
  'shuffled-browser',
  'distributed-subnet',
  'distributed-unrelated',
  'low-and-slow',
  'half-resolution',
  'human-mimic',
  'full-download',
] as const;
export type ThreatKind = (typeof THREAT_KINDS)[number];

export const BENIGN_KINDS = ['human', 'researcher', 'nat', 'crawler', 'monitor', 'cdn-warmer', 'staff'] as const;
export type BenignKind = (typeof BENIGN_KINDS)[number];

/**
 * Benign classes built to look like harvesting to a per-address detector: many people behind one
 * address, or one person studying images closely for hours. Kept apart from BENIGN_KINDS so tests and
 * reports can tell the easy benign traffic from the hard one; the evaluator reports both per class.
 */
export const HARD_BENIGN_KINDS = [
  'campus-nat',
  'office-nat',
  'classroom-nat',
  'cgnat',
  'corporate-proxy',
  'deep-researcher',
  'enthusiast',
  'mobile-rotating',
] as const;
export type HardBenignKind = (typeof HARD_BENIGN_KINDS)[number];

export type LabelClass = 'benign' | 'threat';

export interface Label {
  /** e.g. "human-00042", "raster-1s-00001". */
  readonly actor: string;
  readonly class: LabelClass;
  readonly kind: string;
  /** Every address the actor used (only those that appear in the log). */
  readonly ips: readonly string[];
  /** The actor's user agent (the first one, for NAT actors that carry several). */
  readonly userAgent: string;
  /** Other user agents seen from this actor (NAT, crawlers with an image bot), when any. */
  readonly userAgents?: readonly string[];
  /** ISO-8601 event time of the actor's first and last request in the log. */
  readonly start: string;
  readonly end: string;
  /** Catalog ids the actor requested anything of. */
  readonly images: readonly string[];
  /** Whether each IP alone is anomalous (all single-client threats; campaigns where each IP sweeps whole images). */
  readonly perIpDetectable: boolean;
  /** Free-form detail (variant, split mode, request count). */
  readonly note?: string;
  readonly requests?: number;
  /** Many-person actors: distinct browsing sessions that appear in the log. */
  readonly sessions?: number;
}

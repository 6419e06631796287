import { createHash } from 'node:crypto';

/**
 * The alert model (schemas/alert.schema.json is its JSON Schema). Plain data; ids are deterministic
 * so replays and restarts never duplicate an alert.
 */

export type Severity = 'low' | 'medium' | 'high' | 'critical';

export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export type AlertKind =
  /** One client harvesting one or more images tile by tile (streaming detector). */
  | 'bulk-harvest'
  /** One request (or a few) downloading whole images at high resolution. */
  | 'full-download'
  /** Hunt: one client covering an image at high resolution slowly, over hours or days. */
  | 'low-and-slow'
  /** Hunt: many clients jointly covering images, each one below the per-client thresholds. */
  | 'campaign'
  /** Hunt: an image whose union coverage above its open-data resolution crossed policy. */
  | 'image-exposure';

export const ALERT_KINDS: readonly AlertKind[] = ['bulk-harvest', 'full-download', 'low-and-slow', 'campaign', 'image-exposure'];

/** Detector-side lifecycle. Analyst actions (acknowledge, mute, resolve) live in `alert_actions`. */
export type AlertStatus = 'open' | 'resolved';

/** One measured signal behind an alert: what was measured, against which threshold, in words. */
export interface AlertReason {
  readonly signal: string;
  readonly value: number;
  readonly threshold: number;
  readonly text: string;
}

/** Exposure of one image to the alerted client. */
export interface AlertImage {
  readonly id: string;
  readonly protocol: string;
  /** Fraction (0..1) of the image covered at the band given by `scale`. */
  readonly coverage: number;
  /** Scale (output px per full-res px, ≤ 1) of the best band with coverage above the exposure threshold. */
  readonly scale: number;
  /** Long edge in pixels a client could reconstruct at that band. */
  readonly longEdge: number;
  readonly requests: number;
}

export interface AlertClient {
  /** The client (campaigns: the first member; image exposure: the largest contributor). */
  readonly ip: string;
  readonly ips: readonly string[];
  readonly userAgent: string;
  /** /24 for IPv4, /48 for IPv6. */
  readonly subnet: string;
  /** Network context of `ip` (ASN, organisation, hosting or not), set when the version is emitted (core/network/alertNetwork.ts). */
  readonly network?: AlertNetwork;
  /** Alerts naming several addresses: their networks, most addresses first. */
  readonly networks?: readonly AlertNetworkGroup[];
}

/** An address's autonomous system and whether it is a hosting / cloud network. */
export interface AlertNetwork {
  /** 0 when unknown. */
  readonly asn: number;
  readonly org: string;
  readonly kind: 'hosting' | 'residential/other' | 'unknown';
  /** The hosting provider's name (hosting networks only). */
  readonly provider?: string;
}

export interface AlertNetworkGroup extends AlertNetwork {
  /** The alert's addresses in this network. */
  readonly addresses: number;
}

/** The incident an alert version belongs to (one per actor; services/core/incidents/incidentCorrelator.ts). */
export interface AlertIncident {
  /** `ti-` + the digest of the incident's first alert id. */
  readonly id: string;
  /** The highest severity among the incident's alerts so far. */
  readonly severity: Severity;
  /** Resolved once every alert in it is resolved. */
  readonly status: AlertStatus;
  /** Alerts correlated into it so far. */
  readonly alerts: number;
  /** Set on the versions that notified the sinks: the incident was announced, became urgent, or resolved. */
  readonly notice?: 'opened' | 'escalated' | 'resolved';
}

export interface Alert {
  readonly id: string;
  readonly kind: AlertKind;
  readonly severity: Severity;
  /** 0..100. */
  readonly score: number;
  readonly client: AlertClient;
  /** ISO-8601 event times. */
  readonly firstSeen: string;
  readonly detectedAt: string;
  readonly lastSeen: string;
  readonly images: readonly AlertImage[];
  readonly reasons: readonly AlertReason[];
  /** Monotonic per alert id: 1 when first raised, +1 for each update (and for the resolution). */
  readonly version: number;
  readonly status: AlertStatus;
  /** Hunt alerts: what the alert is about — the client IP, the campaign group ('net:<cidr>', 'asn:<n>' or 'ua:<user agent>'), or the image id. */
  readonly subject?: string;
  /** Event time at which the alert was resolved (inactivity); absent while open. */
  readonly resolvedAt?: string;
  /** The incident this version belongs to; set when the version is emitted (absent on versions stored before incidents). */
  readonly incident?: AlertIncident;
  /** Where the raw evidence is: the source and line range of the triggering requests. */
  readonly evidence: {
    readonly source: string;
    readonly firstLine: number;
    readonly lastLine: number;
    /** Hunt alerts: the event-time window of tile_requests the finding was measured over (ISO-8601). */
    readonly from?: string;
    readonly to?: string;
  };
}

/** Deterministic alert id: the same kind, key (client, campaign or image) and episode start always give the same id. */
export function alertId(kind: AlertKind, clientKey: string, episodeStart: number): string {
  return 'tw-' + createHash('sha256').update(`${kind}\n${clientKey}\n${episodeStart}`).digest('hex').slice(0, 20);
}

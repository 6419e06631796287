import { SEVERITIES, type Alert, type Severity } from '../core/alert.ts';
import { parseCidr, type Cidr } from '../core/logformat/cidr.ts';
import { formatIpv4, formatIpv6 } from '../core/logformat/parseIp.ts';
import { noticeOf } from './incidentNotice.ts';
import { alertIps } from './muteRules.ts';

/**
 * Block-list decisions (pure). Detection is separate from enforcement: this only decides which
 * addresses a tile server should refuse and renders the files; blockListSink.ts writes them.
 */

/** One blocked network: an address as /32 or /128, or a prefix a campaign alert named. */
export interface BlockEntry {
  /** Canonical CIDR text (`203.0.113.7/32`, `2001:db8::/48`). */
  readonly cidr: string;
  /** Wall time (ms) after which the entry is dropped. */
  readonly expiresAt: number;
  /** The alert that last blocked (or extended) it. */
  readonly alertId: string;
  /** Its incident (absent on entries written before incidents). */
  readonly incidentId?: string;
}

/** Blocked entries by canonical CIDR. */
export type BlockState = ReadonlyMap<string, BlockEntry>;

/**
 * Blocking is for confirmed harvests: incidents at high or critical. Low and medium incidents (weak
 * or single signals, and the viewers they may be) are never blocked, whatever the configuration.
 */
export type BlockSeverity = Extract<Severity, 'high' | 'critical'>;
export const BLOCK_SEVERITIES: readonly BlockSeverity[] = ['high', 'critical'];

export interface BlockPolicy {
  /** Incidents below this severity do not block. */
  readonly minSeverity: BlockSeverity;
  /** How long an entry stays after the last alert version that named it. */
  readonly ttlMs: number;
  /** Never blocked: an entry overlapping any of these networks is left out (staff, monitors, partners). */
  readonly allow: readonly Cidr[];
  /** Upper bound of entries; beyond it the entries expiring soonest are dropped. */
  readonly maxEntries: number;
}

const RANK = new Map<Severity, number>(SEVERITIES.map((s, i) => [s, i]));

/** Canonical text of a parsed CIDR. */
export function cidrText(c: Cidr): string {
  return c.family === 4 ? `${formatIpv4(c.network)}/${c.prefix}` : `${formatIpv6(c.groups)}/${c.prefix}`;
}

/** True when the two networks share at least one address (same family, equal on the shorter prefix). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  if (a.family === 4 && b.family === 4) {
    const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
    return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
  }
  if (a.family === 6 && b.family === 6) {
    for (let i = 0; i < 8; i++) {
      const bits = Math.max(0, Math.min(16, p - i * 16));
      if (bits === 0) break;
      const mask = (0xffff << (16 - bits)) & 0xffff;
      if (((a.groups[i] ?? 0) & mask) !== ((b.groups[i] ?? 0) & mask)) return false;
    }
    return true;
  }
  return false;
}

/** Entries still valid at `now`. */
export function pruneExpired(state: BlockState, now: number): Map<string, BlockEntry> {
  return new Map([...state].filter(([, e]) => e.expiresAt > now));
}

/**
 * The addresses an alert version asks to block, parsed: `client.ip` and `client.ips` (a campaign
 * names several, and may name a prefix such as `203.0.113.0/24`), minus anything overlapping the
 * allow-list. Unparseable entries are skipped (returned in `skipped` with the allow-listed ones).
 */
export function blockCandidates(alert: Alert, allow: readonly Cidr[]): { block: Cidr[]; skipped: string[] } {
  const block: Cidr[] = [];
  const skipped: string[] = [];
  for (const text of alertIps(alert)) {
    let c: Cidr;
    try {
      c = parseCidr(text);
    } catch {
      skipped.push(text);
      continue;
    }
    if (allow.some((a) => cidrsOverlap(a, c))) skipped.push(text);
    else block.push(c);
  }
  return { block, skipped };
}

/**
 * The state after one incident notice at wall time `now`: expired entries dropped; if the incident
 * is open and at or above `minSeverity` (high at the least: {@link BlockSeverity}), the addresses of
 * the alert that caused the notice are added or extended to `now + ttlMs`. The incident's severity
 * decides, not the alert's: a version without an incident is judged as an incident of its own
 * (incidentNotice.ts). A resolution does not lift a block (incidents resolve on inactivity, and the
 * client may have gone quiet because it was blocked); the TTL does.
 */
export function applyAlert(state: BlockState, alert: Alert, now: number, policy: BlockPolicy): { state: Map<string, BlockEntry>; added: string[]; skipped: string[] } {
  const next = pruneExpired(state, now);
  const incident = noticeOf(alert);
  const floor = Math.max(RANK.get(policy.minSeverity) ?? 0, RANK.get('high') ?? 0);
  if (incident.status !== 'open' || (RANK.get(incident.severity) ?? 0) < floor) return { state: next, added: [], skipped: [] };
  const { block, skipped } = blockCandidates(alert, policy.allow);
  const added: string[] = [];
  const expiresAt = now + policy.ttlMs;
  for (const c of block) {
    const key = cidrText(c);
    const old = next.get(key);
    if (!old) added.push(key);
    next.set(key, { cidr: key, expiresAt: Math.max(expiresAt, old?.expiresAt ?? 0), alertId: alert.id, incidentId: incident.id });
  }
  if (next.size > policy.maxEntries) {
    const keep = [...next.values()].sort((a, b) => b.expiresAt - a.expiresAt).slice(0, policy.maxEntries);
    return { state: new Map(keep.map((e) => [e.cidr, e])), added, skipped };
  }
  return { state: next, added, skipped };
}

/** Entries in a stable order (by CIDR text), so the files only change when the decisions do. */
function sorted(state: BlockState): BlockEntry[] {
  return [...state.values()].sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
}

/**
 * An nginx `geo` block: `$<variable>` is 1 for blocked clients, 0 otherwise. Each line carries its
 * expiry, alert and incident in a comment, which is also how the sink restores its state after a
 * restart.
 * Include it in `http {}` and refuse with `if ($tilewatch_blocked) { return 403; }`.
 */
export function renderNginxGeo(state: BlockState, variable: string, now: number): string {
  const lines = [
    `# Written by tilewatch at ${new Date(now).toISOString()}; do not edit (rewritten on every decision).`,
    `geo $${variable} {`,
    '    default 0;',
    ...sorted(state).map((e) => `    ${e.cidr} 1; # expires ${new Date(e.expiresAt).toISOString()} alert ${e.alertId}${e.incidentId ? ` incident ${e.incidentId}` : ''}`),
    '}',
    '',
  ];
  return lines.join('\n');
}

/** One CIDR per line (for ipset, firewalls, CDN rules). */
export function renderCidrList(state: BlockState): string {
  return sorted(state)
    .map((e) => `${e.cidr}\n`)
    .join('');
}

const GEO_LINE = /^\s*(\S+)\s+1;\s*#\s*expires\s+(\S+)\s+alert\s+(\S+)(?:\s+incident\s+(\S+))?\s*$/;

/** Reads the entries back from a file written by {@link renderNginxGeo}; lines it did not write are ignored. */
export function parseNginxGeo(text: string): Map<string, BlockEntry> {
  const out = new Map<string, BlockEntry>();
  for (const line of text.split('\n')) {
    const m = GEO_LINE.exec(line);
    if (!m) continue;
    const expiresAt = Date.parse(m[2]!);
    let cidr: string;
    try {
      cidr = cidrText(parseCidr(m[1]!));
    } catch {
      continue;
    }
    if (!Number.isNaN(expiresAt)) out.set(cidr, { cidr, expiresAt, alertId: m[3]!, ...(m[4] ? { incidentId: m[4] } : {}) });
  }
  return out;
}

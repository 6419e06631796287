import type { Alert } from '../core/alert.ts';
import { compileCidrMatcher } from '../core/logformat/cidr.ts';

/**
 * One row of `suppression_rules` (schemas/clickhouse/004_alert_lifecycle.sql), as read from
 * ClickHouse (JSONEachRow) or written by hand. Empty strings mean "any". `expires_at` may be an ISO
 * time, ClickHouse's `YYYY-MM-DD hh:mm:ss[.fff]` text (UTC), epoch milliseconds, or null (no expiry).
 */
export interface SuppressionRule {
  readonly id: string;
  /** Only `mute` rules are used here; `allow` rules act before alerting (the detector never scores those clients). */
  readonly type: string;
  readonly cidr?: string;
  /** A regular expression, unanchored (as ClickHouse `match`); the RE2 subset shared with JavaScript. */
  readonly user_agent?: string;
  readonly alert_kind?: string;
  readonly image_id?: string;
  readonly expires_at?: string | number | null;
  readonly deleted?: number | boolean;
}

export interface CompiledMuteRules {
  /** Id of the first rule muting this alert version at wall time `now` (ms), or null. */
  match(alert: Alert, now: number): string | null;
  /** Rules that were skipped because a field did not compile, with the reason (log them). */
  readonly invalid: ReadonlyArray<{ readonly id: string; readonly reason: string }>;
  readonly size: number;
}

interface Compiled {
  readonly id: string;
  readonly inCidr: ((ip: string) => boolean) | null;
  readonly userAgent: RegExp | null;
  readonly kind: string;
  readonly imageId: string;
  readonly expiresAt: number;
}

/**
 * Compiles mute rules once into a matcher. A rule mutes an alert version when every non-empty field
 * matches and it has not expired (`now < expires_at`):
 * - `cidr`: every address of the alert (`client.ip` and `client.ips`) is inside it — a campaign
 *   that also involves outside addresses is not silenced by muting one partner network;
 * - `user_agent`: the regular expression finds a match in `client.userAgent`;
 * - `alert_kind`: equals `kind`; `image_id`: one of the alert's images has that id.
 * Deleted rules and `allow` rules are ignored. A rule whose CIDR, regular expression or expiry does
 * not parse is skipped and listed in `invalid` (rules come from a table at run time; one bad row
 * must not stop alerting).
 */
export function compileMuteRules(rules: readonly SuppressionRule[]): CompiledMuteRules {
  const compiled: Compiled[] = [];
  const invalid: Array<{ id: string; reason: string }> = [];
  for (const r of rules) {
    if (r.type !== 'mute' || r.deleted === true || r.deleted === 1) continue;
    try {
      compiled.push({
        id: r.id,
        inCidr: r.cidr ? compileCidrMatcher([r.cidr]) : null,
        userAgent: r.user_agent ? new RegExp(r.user_agent) : null,
        kind: r.alert_kind ?? '',
        imageId: r.image_id ?? '',
        expiresAt: parseExpiry(r.expires_at),
      });
    } catch (err) {
      invalid.push({ id: r.id, reason: (err as Error).message });
    }
  }
  return {
    invalid,
    size: compiled.length,
    match(alert, now) {
      for (const c of compiled) if (ruleMatches(c, alert, now)) return c.id;
      return null;
    },
  };
}

function ruleMatches(c: Compiled, a: Alert, now: number): boolean {
  if (now >= c.expiresAt) return false;
  if (c.kind !== '' && c.kind !== a.kind) return false;
  if (c.imageId !== '' && !a.images.some((i) => i.id === c.imageId)) return false;
  if (c.userAgent !== null && !c.userAgent.test(a.client.userAgent)) return false;
  if (c.inCidr !== null) {
    const ips = alertIps(a);
    if (ips.length === 0 || !ips.every(c.inCidr)) return false;
  }
  return true;
}

/** `client.ip` and `client.ips`, deduplicated, empty strings left out. */
export function alertIps(a: Alert): string[] {
  return [...new Set([a.client.ip, ...a.client.ips].filter((s) => s !== ''))];
}

function parseExpiry(v: string | number | null | undefined): number {
  if (v === null || v === undefined || v === '') return Number.POSITIVE_INFINITY;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`expires_at ${v} is not a time`);
    return v;
  }
  // ClickHouse DateTime64 text has no 'T' and no zone; the column is UTC.
  const iso = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(v) ? `${v.replace(' ', 'T')}Z` : v;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`expires_at "${v}" is not a time`);
  return ms;
}

/**
 * A replaceable rule set for the dispatcher's `isMuted`: the composition root reloads
 * `suppression_rules` on its own cadence and calls `replace`; matching always uses the newest set.
 */
export interface MuteRuleSet {
  isMuted(alert: Alert, now: number): boolean;
  replace(rules: readonly SuppressionRule[]): CompiledMuteRules;
}

export function createMuteRuleSet(rules: readonly SuppressionRule[] = []): MuteRuleSet {
  let current = compileMuteRules(rules);
  return {
    isMuted: (alert, now) => current.match(alert, now) !== null,
    replace(next) {
      current = compileMuteRules(next);
      return current;
    },
  };
}

/** An analyst's mute on one alert (`alert_actions`, newest action `mute`, still in force), with the alert's incident. */
export interface AnalystMute {
  readonly alert_id: string;
  /** The incident of the alert's newest version; '' for alerts stored before incidents. */
  readonly incident_id: string;
  /** Epoch ms until which the mute holds. */
  readonly until_ms: number;
}

/**
 * The mutes analysts set on alerts and incidents (muting an incident mutes each of its alerts): a
 * version is muted while its alert or its incident has a mute in force, so an incident muted from
 * the page stays silent as it grows, until the mute expires. Replaced wholesale on each reload.
 */
export function createAnalystMutes(): { isMuted(alert: Alert, now: number): boolean; replace(rows: readonly AnalystMute[]): void } {
  let byAlert = new Map<string, number>();
  let byIncident = new Map<string, number>();
  return {
    isMuted: (alert, now) => (byAlert.get(alert.id) ?? 0) > now || (alert.incident !== undefined && (byIncident.get(alert.incident.id) ?? 0) > now),
    replace(rows) {
      const a = new Map<string, number>();
      const i = new Map<string, number>();
      for (const r of rows) {
        a.set(r.alert_id, Math.max(a.get(r.alert_id) ?? 0, r.until_ms));
        if (r.incident_id) i.set(r.incident_id, Math.max(i.get(r.incident_id) ?? 0, r.until_ms));
      }
      byAlert = a;
      byIncident = i;
    },
  };
}

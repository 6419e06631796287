/**
 * Validation of incident-query inputs (pure). Every value that reaches SQL passes through here first
 * and then travels as a typed query parameter, never as SQL text. Invalid input is an
 * {@link InvalidInputError} (HTTP 400 `invalid_input`, CLI exit 2).
 */
import { canonicalIp } from '../core/logformat/canonicalIp.ts';
import { parseCidr } from '../core/logformat/cidr.ts';
import { formatIpv4, formatIpv6 } from '../core/logformat/parseIp.ts';
import { ipv4ToIpv6Text, toIpv6Text } from '../store/clientIp.ts';

export class InvalidInputError extends Error {
  readonly code = 'invalid_input';
}

/** A client address in the two forms the store uses. */
export interface ClientIp {
  /** As people write it: IPv4 dotted quad, or RFC 5952 IPv6. */
  readonly text: string;
  /** The `IPv6` column value: IPv4 as `::ffff:a.b.c.d`. */
  readonly v6: string;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 counts as IPv4). */
export function parseClientIp(text: string, what = 'ip'): ClientIp {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) throw new InvalidInputError(`${what} must be an IPv4 or IPv6 address`);
  const c = canonicalIp(text.trim());
  if (c === null || text.includes('%')) throw new InvalidInputError(`${what} must be an IPv4 or IPv6 address`);
  return { text: c, v6: toIpv6Text(c) };
}

/** Inclusive bounds of a CIDR block as `IPv6` column values (IPv4 blocks map into ::ffff:0:0/96). */
export interface IpRange {
  readonly cidr: string;
  readonly lo: string;
  readonly hi: string;
}

/**
 * Smallest prefix accepted in a CIDR search or rule: wider blocks are refused rather than scanning
 * (or allow-listing) everyone. IPv4-mapped blocks (`::ffff:a.b.c.d/n`, n ≥ 96) count as the IPv4
 * block they hold (/n−96), and an IPv6 block that contains the whole mapped range ::ffff:0:0/96
 * (`::/32`, `::/80` …) is refused whatever its prefix: it holds every IPv4 client.
 */
export const MIN_CIDR_PREFIX = { 4: 8, 6: 32 } as const;

/** ::ffff:0:0, the start of the IPv4-mapped range, as eight 16-bit groups. */
const MAPPED_RANGE = [0, 0, 0, 0, 0, 0xffff, 0, 0] as const;

/** True when the IPv6 block `groups/prefix` (host bits clear) contains ::ffff:0:0/96. */
function containsMappedRange(groups: readonly number[], prefix: number): boolean {
  if (prefix > 96) return false;
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    if ((MAPPED_RANGE[i]! & mask) !== (groups[i] ?? 0)) return false;
  }
  return true;
}

export function parseCidrRange(text: string): IpRange {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64 || !text.includes('/')) {
    throw new InvalidInputError('cidr must be a block such as 203.0.113.0/24 or 2001:db8::/48');
  }
  let c;
  try {
    c = parseCidr(text);
  } catch {
    throw new InvalidInputError('cidr must be a block such as 203.0.113.0/24 or 2001:db8::/48');
  }
  if (c.family === 6 && containsMappedRange(c.groups, c.prefix)) {
    throw new InvalidInputError('cidr must not contain the whole IPv4-mapped range ::ffff:0:0/96 (every IPv4 client); give an IPv4 block of at least /8');
  }
  if (c.prefix < MIN_CIDR_PREFIX[c.family]) {
    const mapped = c.family === 4 && text.includes(':') ? ` (an IPv4-mapped block ::ffff:a.b.c.d/n counts as the IPv4 /n−96, here /${c.prefix})` : '';
    throw new InvalidInputError(`cidr prefix must be at least /${MIN_CIDR_PREFIX[c.family]} for IPv${c.family}${mapped}`);
  }
  if (c.family === 4) {
    const size = 2 ** (32 - c.prefix);
    const hi = c.network + size - 1;
    return { cidr: `${formatIpv4(c.network)}/${c.prefix}`, lo: ipv4ToIpv6Text(c.network), hi: ipv4ToIpv6Text(hi) };
  }
  const hiGroups = c.groups.map((g, i) => {
    const bits = Math.max(0, Math.min(16, c.prefix - i * 16));
    return g | (0xffff >>> bits);
  });
  return { cidr: `${formatIpv6(c.groups)}/${c.prefix}`, lo: formatIpv6(c.groups), hi: formatIpv6(hiGroups) };
}

const IMAGE_ID = /^\P{Cc}{1,512}$/u;

/** Image ids come from URLs and may hold almost anything printable; they only ever travel as parameters. */
export function parseImageId(text: string): string {
  if (typeof text !== 'string' || !IMAGE_ID.test(text)) throw new InvalidInputError('image must be 1–512 printable characters');
  return text;
}

const ALERT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function parseAlertId(text: string): string {
  if (typeof text !== 'string' || !ALERT_ID.test(text)) throw new InvalidInputError('alert id must be 1–128 characters of [A-Za-z0-9._:-]');
  return text;
}

/** An incident id (`ti-…`) or the id of an alert in it (`tw-…`). */
export function parseIncidentId(text: string): string {
  if (typeof text !== 'string' || !ALERT_ID.test(text)) throw new InvalidInputError('incident id must be 1–128 characters of [A-Za-z0-9._:-]');
  return text;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar day `YYYY-MM-DD` (UTC) → its first millisecond. */
export function parseDay(text: string, what = 'day'): number {
  const m = typeof text === 'string' ? DAY.exec(text) : null;
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // Date.UTC rolls 2026-02-30 over to March: only a day that reads back the same is one.
  if (!m || !Number.isFinite(ms) || ms < 0 || new Date(ms).toISOString().slice(0, 10) !== text) throw new InvalidInputError(`${what} must be a calendar day YYYY-MM-DD`);
  return ms;
}

/** ISO-8601 date-time (or epoch milliseconds as digits) → epoch ms. */
export function parseTime(text: string | number, what: string): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw new InvalidInputError(`${what} must be an ISO-8601 time`);
    return text;
  }
  if (typeof text !== 'string' || text.length > 40) throw new InvalidInputError(`${what} must be an ISO-8601 time`);
  const ms = /^\d{10,13}$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > 32_503_680_000_000) throw new InvalidInputError(`${what} must be an ISO-8601 time`);
  return ms;
}

export interface TimeRange {
  readonly from: number;
  /** Exclusive. */
  readonly to: number;
}

/** Validates an explicit range: from < to and a span no longer than `maxSpanMs`. */
export function parseRange(from: string | number | undefined, to: string | number | undefined, maxSpanMs: number): Partial<TimeRange> {
  const f = from === undefined ? undefined : parseTime(from, 'from');
  const t = to === undefined ? undefined : parseTime(to, 'to');
  if (f !== undefined && t !== undefined) {
    if (f >= t) throw new InvalidInputError('from must be before to');
    if (t - f > maxSpanMs) throw new InvalidInputError(`the time range may span at most ${Math.round(maxSpanMs / 86_400_000)} days`);
  }
  return { ...(f !== undefined ? { from: f } : {}), ...(t !== undefined ? { to: t } : {}) };
}

/**
 * Completes a partial range from the data's own extent [first, last]: a missing end is the data's,
 * and a range longer than `maxSpanMs` keeps its newest part.
 */
export function completeRange(partial: Partial<TimeRange>, extent: { first: number; last: number }, maxSpanMs: number): TimeRange {
  const to = partial.to ?? extent.last + 1;
  let from = partial.from ?? extent.first;
  if (to - from > maxSpanMs) from = to - maxSpanMs;
  if (from >= to) from = to - 1;
  return { from, to };
}

/** Positive integer within [1, max]; undefined → fallback. */
export function parseLimit(v: number | string | undefined, fallback: number, max: number, what = 'limit'): number {
  if (v === undefined) return fallback;
  const n = typeof v === 'number' ? v : /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidInputError(`${what} must be an integer from 1 to ${max}`);
  return n;
}

/** Free-text search term (user agent): printable, bounded. */
export function parseSearchText(text: string, what: string, max = 256): string {
  if (typeof text !== 'string' || text.length < 2 || text.length > max || /\p{Cc}/u.test(text)) {
    throw new InvalidInputError(`${what} must be 2–${max} printable characters`);
  }
  return text;
}

/** A finite number in [min, max] (query strings are coerced by the schema layer, which lets ±Infinity through). */
export function parseNumber(v: number | undefined, what: string, min: number, max: number, integer = false): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new InvalidInputError(`${what} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return v;
}

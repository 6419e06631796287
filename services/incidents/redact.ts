/**
 * Redaction of personal data from free text shown to viewers (alert reasons, action notes). Pure.
 *
 * Two layers, in this order:
 * 1. structural — the values the caller knows are personal (the alert's client IPs, user agent,
 *    subnet, campaign group) are replaced wherever they occur, whatever they look like;
 * 2. patterns — anything that still looks like a user agent (`product/1.2 (comment) …`), an IPv4 or
 *    IPv6 address or a CIDR block is replaced too, so text written elsewhere (a detector reason, an
 *    analyst's note) cannot leak one the caller did not know about.
 * Values the caller marks as shown anyway (image ids) are kept as they are.
 *
 * Must hold: the output contains none of the personal values given and no parseable IPv4/IPv6
 * address; the rest of the text is unchanged.
 */
import { parseIpv4, parseIpv6 } from '../core/logformat/parseIp.ts';

export const REDACTED_IP = '[ip]';
export const REDACTED_NETWORK = '[network]';
export const REDACTED_USER_AGENT = '[user agent]';

export interface RedactionValues {
  /** Client addresses (any text form) and networks (CIDR text). */
  readonly ips?: readonly string[];
  readonly networks?: readonly string[];
  /** User agents, whole. */
  readonly userAgents?: readonly string[];
  /** Values that are shown to the reader anyway and must survive intact (image ids). */
  readonly keep?: readonly string[];
}

/** Known values shorter than this are left to the patterns: replacing "-" or "Go" everywhere would shred the text. */
const MIN_KNOWN_LENGTH = 4;

/**
 * A user agent's product tokens: `name/version` (version starting with a digit) followed by further
 * tokens and parenthesised comments, e.g. `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 …`.
 * Not preceded by a path character, so `iiif/abc/1` (an image path) does not start a match mid-way,
 * and a version never ends at a colon, so `x/0:0::1` leaves the IPv6 address whole for the address
 * pattern instead of eating its first group.
 */
const USER_AGENT = /(?<![\w./:-])[A-Za-z][\w.+-]*\/\d[\w.+-]*(?![\w.+:-])(?:\s*\([^()]{0,512}\)|\s+[A-Za-z][\w.+-]*\/[\w.+-]+(?![\w.+:-]))*/g;

/** Maximal runs of address characters (linear to match), with an optional prefix length: each is checked by the real parsers. */
const ADDRESS_RUN = /[0-9A-Fa-f.:]+(?:\/\d{1,3})?/g;
const DOTTED_QUAD = /\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?/g;

/** Held values travel as private-use characters around an index while the patterns run. */
const PLACEHOLDER = /\uE000(\d+)\uE001/g;

export function redactPersonalData(text: string, values: RedactionValues = {}): string {
  if (text === '') return text;
  // Strip the placeholder markers from the input so they cannot be forged.
  let out = text.replace(/[\uE000\uE001]/g, '');
  const kept: string[] = [];
  const hold = (s: string): string => `\uE000${kept.push(s) - 1}\uE001`;
  const known = (list: readonly string[] | undefined) => [...new Set(list ?? [])].filter((v) => v.length >= MIN_KNOWN_LENGTH).sort((a, b) => b.length - a.length);

  for (const k of known(values.keep)) out = out.split(k).join(hold(k));
  const replacements: Array<[string, string]> = [
    ...known(values.userAgents).map((v): [string, string] => [v, REDACTED_USER_AGENT]),
    ...known(values.networks).map((v): [string, string] => [v, REDACTED_NETWORK]),
    ...known(values.ips).map((v): [string, string] => [v, REDACTED_IP]),
  ].sort((a, b) => b[0].length - a[0].length);
  for (const [v, r] of replacements) out = out.split(v).join(hold(r));

  out = out.replace(USER_AGENT, () => hold(REDACTED_USER_AGENT));
  out = out.replace(ADDRESS_RUN, redactAddressRun);
  return out.replace(PLACEHOLDER, (_m, i: string) => kept[Number(i)] ?? '');
}

/** One run of hex digits, dots and colons: an address (or block) is replaced, anything else kept, dotted quads inside it replaced. */
function redactAddressRun(run: string): string {
  if (!/[.:]/.test(run)) return run;
  const slash = run.indexOf('/');
  const addr = slash === -1 ? run : run.slice(0, slash);
  const suffix = slash === -1 ? '' : run.slice(slash);
  // Sentence punctuation may trail an address ("… in 203.0.113.0/24." or "from 2001:db8::1:").
  const trimmed = suffix === '' ? addr.replace(/[.:]$/, '') : addr;
  const rest = addr.slice(trimmed.length);
  for (const candidate of trimmed === addr ? [addr] : [addr, trimmed]) {
    if (isAddress(candidate)) return (suffix !== '' ? REDACTED_NETWORK : REDACTED_IP) + (candidate === addr ? '' : rest);
  }
  return run.replace(DOTTED_QUAD, (q) => (q.includes('/') ? REDACTED_NETWORK : REDACTED_IP));
}

function isAddress(text: string): boolean {
  if (text.includes(':')) return parseIpv6(text) !== null;
  return parseIpv4(text) >= 0;
}

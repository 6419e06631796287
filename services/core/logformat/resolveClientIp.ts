import { canonicalIp } from './canonicalIp.ts';

/** Canonical address of one X-Forwarded-For entry, tolerating `1.2.3.4:port` and `[v6]:port`; null if invalid. */
function entryIp(xff: string, start: number, end: number): string | null {
  while (start < end && (xff.charCodeAt(start) === 32 || xff.charCodeAt(start) === 9)) start++;
  while (end > start && (xff.charCodeAt(end - 1) === 32 || xff.charCodeAt(end - 1) === 9)) end--;
  if (start === end) return null;
  let text = xff.slice(start, end);
  if (text.charCodeAt(0) === 91) {
    const close = text.indexOf(']');
    if (close === -1) return null;
    text = text.slice(1, close);
  } else {
    const colon = text.indexOf(':');
    if (colon !== -1 && colon === text.lastIndexOf(':') && text.indexOf('.') !== -1) text = text.slice(0, colon);
  }
  return canonicalIp(text);
}

/**
 * The standard trusted-proxy X-Forwarded-For algorithm (as nginx `real_ip_recursive on`):
 *
 * 1. If the direct peer is not a trusted proxy, the peer is the client (XFF is ignored: anyone
 *    can send that header).
 * 2. Otherwise walk the XFF entries right to left; each trusted entry is skipped; the first entry
 *    that is not a trusted proxy is the client.
 * 3. If an entry is not a valid address, stop and keep the last address reached (a trusted hop
 *    that forwarded garbage). If every entry is trusted, the left-most one is the client.
 *
 * @param peer canonical address of the direct peer (`$remote_addr`)
 * @param xff raw X-Forwarded-For value; '' or '-' means absent
 * @param isTrusted trusted-proxy matcher (see `compileCidrMatcher`)
 * @returns canonical client address
 */
export function resolveClientIp(peer: string, xff: string, isTrusted: (ip: string) => boolean): string {
  if (xff.length === 0 || xff === '-' || !isTrusted(peer)) return peer;
  let client = peer;
  let end = xff.length;
  while (end > 0) {
    const comma = xff.lastIndexOf(',', end - 1);
    const ip = entryIp(xff, comma + 1, end);
    if (ip === null) return client;
    client = ip;
    if (!isTrusted(ip)) return ip;
    end = comma === -1 ? 0 : comma;
  }
  return client;
}

/**
 * True when `xff` looks like an X-Forwarded-For value: '-', '' or a comma-separated list of
 * addresses (ports and `[v6]` brackets tolerated). Used by format detection.
 */
export function isForwardedForList(xff: string): boolean {
  if (xff.length === 0 || xff === '-') return true;
  let start = 0;
  for (;;) {
    const comma = xff.indexOf(',', start);
    const end = comma === -1 ? xff.length : comma;
    if (entryIp(xff, start, end) === null) return false;
    if (comma === -1) return true;
    start = comma + 1;
  }
}

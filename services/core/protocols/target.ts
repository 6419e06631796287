/**
 * Splitting and decoding of raw request targets. Pure and allocation-light: no `new URL`.
 */

/** A request target split into its path and query (fragment dropped). Neither part is decoded. */
export interface SplitTarget {
  readonly path: string;
  /** Query string without the leading '?'; '' when absent. */
  readonly query: string;
}

/**
 * Split a raw request target into path and query; drops any `#fragment`.
 * Absolute-form targets (`http://host/path?q`, as some proxies log them) are reduced to their path.
 */
export function splitTarget(target: string): SplitTarget {
  let start = 0;
  if (target.charCodeAt(0) !== 47 /* '/' */ && (target.startsWith('http://') || target.startsWith('https://'))) {
    const slash = target.indexOf('/', target.indexOf('//') + 2);
    if (slash < 0) {
      const q0 = target.indexOf('?');
      return { path: '/', query: q0 < 0 ? '' : stripFragment(target.slice(q0 + 1)) };
    }
    start = slash;
  }
  let end = target.indexOf('#', start);
  if (end < 0) end = target.length;
  const q = target.indexOf('?', start);
  if (q >= 0 && q < end) return { path: target.slice(start, q), query: target.slice(q + 1, end) };
  return { path: start === 0 && end === target.length ? target : target.slice(start, end), query: '' };
}

function stripFragment(s: string): string {
  const h = s.indexOf('#');
  return h < 0 ? s : s.slice(0, h);
}

/** Percent-decode once; returns the input unchanged when it has no escapes or a malformed one. */
export function decodeOnce(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Parse a query string into a map with lower-cased parameter names and values decoded once.
 * The first occurrence of a name wins; '+' is left as is (tile servers use it rarely and paths may contain it).
 */
export function parseQuery(query: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  if (query === '') return out;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    if (out.has(name)) continue;
    out.set(name, eq < 0 ? '' : decodeOnce(part.slice(eq + 1)));
  }
  return out;
}

/** True when `s` is a non-empty run of ASCII digits no longer than `maxDigits`. */
export function isDigits(s: string | undefined, maxDigits = 9): s is string {
  if (s === undefined || s.length === 0 || s.length > maxDigits) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * ClickHouse TabSeparated encoding. Hand-written because it is the insert hot path: building one TSV
 * string per batch measured ~3× faster end to end than JSONEachRow objects through the client.
 */
const NEEDS_ESCAPE = /[\\\t\n\r\0\b\f']/;
const ESCAPES = /[\\\t\n\r\0\b\f']/g;
const MAP: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0', '\b': '\\b', '\f': '\\f', "'": "\\'" };

/** Escapes a string for a TabSeparated field. */
export function tsvString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPES, (c) => MAP[c] ?? c) : s;
}

/** DateTime64(3) from epoch milliseconds, as ClickHouse parses it in TSV: seconds with a fraction. */
export function tsvDateTime64(ms: number): string {
  const s = Math.floor(ms / 1000);
  const frac = ms - s * 1000;
  return frac === 0 ? `${s}` : `${s}.${String(frac).padStart(3, '0')}`;
}

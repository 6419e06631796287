/** Caller-owned scratch for {@link parseRequestLine} (reuse one per parser to avoid allocation). */
export interface RequestLineParts {
  method: string;
  target: string;
}

/** Interns the common methods so the hot path does not allocate a new short string per line. */
function methodOf(line: string, end: number): string | null {
  switch (end) {
    case 3:
      if (line.startsWith('GET')) return 'GET';
      if (line.startsWith('PUT')) return 'PUT';
      break;
    case 4:
      if (line.startsWith('HEAD')) return 'HEAD';
      if (line.startsWith('POST')) return 'POST';
      break;
    case 7:
      if (line.startsWith('OPTIONS')) return 'OPTIONS';
      break;
    default:
      break;
  }
  if (end > 24) return null;
  let upper = true;
  for (let i = 0; i < end; i++) {
    const c = line.charCodeAt(i);
    if (c >= 65 && c <= 90) continue;
    if ((c >= 97 && c <= 122) || c === 45 || c === 95) {
      upper = false;
      continue;
    }
    return null;
  }
  const m = line.slice(0, end);
  return upper ? m : m.toUpperCase();
}

function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 127) return true;
  }
  return false;
}

/**
 * Splits an HTTP request line as logged by `$request` / `%r` (already unescaped):
 * - `GET /x?y HTTP/1.1` → method `GET`, target `/x?y`;
 * - `GET /x` (no protocol, HTTP/0.9 style) → method `GET`, target `/x`;
 * - `-` or empty (nginx logs `"-"` when no request line was read) → method '' and target '';
 * - a target containing raw spaces is kept whole (`GET /a b HTTP/1.1` → `/a b`).
 *
 * Methods are letters, `-` or `_` (≤ 24 characters) and are upper-cased. The target must be
 * non-empty and free of control characters.
 *
 * @returns false (leaving `out` unspecified) for anything else, e.g. TLS handshakes or binary
 * garbage sent to an HTTP port.
 */
export function parseRequestLine(line: string, out: RequestLineParts): boolean {
  const n = line.length;
  if (n === 0 || (n === 1 && line.charCodeAt(0) === 45)) {
    out.method = '';
    out.target = '';
    return true;
  }
  const sp = line.indexOf(' ');
  if (sp <= 0) return false;
  const method = methodOf(line, sp);
  if (method === null) return false;
  let targetEnd = n;
  const last = line.lastIndexOf(' ');
  if (last > sp && line.startsWith('HTTP/', last + 1)) targetEnd = last;
  if (targetEnd === sp + 1) return false;
  const target = line.slice(sp + 1, targetEnd);
  if (hasControlChars(target)) return false;
  out.method = method;
  out.target = target;
  return true;
}

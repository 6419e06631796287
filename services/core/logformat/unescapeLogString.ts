function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Undoes the escaping web servers apply to logged values:
 * - nginx `escape=default`: `\xHH` bytes (runs of them are decoded as UTF-8; invalid sequences
 *   become U+FFFD);
 * - Apache: `\"`, `\\`, `\n`, `\r`, `\t`, `\xHH`;
 * - nginx `escape=json`: `\"`, `\\`, `\uXXXX`, `\n`, `\r`, `\t`, `\b`, `\f`.
 *
 * Any other backslash sequence is kept verbatim. Returns `text` itself (no allocation) when it
 * contains no backslash. Never throws.
 */
export function unescapeLogString(text: string): string {
  let i = text.indexOf('\\');
  if (i === -1) return text;
  let out = text.slice(0, i);
  const n = text.length;
  let bytes: number[] | null = null;
  const flush = (): void => {
    if (bytes !== null) {
      out += Buffer.from(bytes).toString('utf8');
      bytes = null;
    }
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c !== 92 || i + 1 >= n) {
      flush();
      // Copy a run of plain characters at once.
      let j = text.indexOf('\\', i + 1);
      if (j === -1) j = n;
      out += text.slice(i, j);
      i = j;
      continue;
    }
    const e = text.charCodeAt(i + 1);
    if ((e === 120 || e === 88) && i + 3 < n) {
      const h1 = hex(text.charCodeAt(i + 2));
      const h2 = hex(text.charCodeAt(i + 3));
      if (h1 >= 0 && h2 >= 0) {
        (bytes ??= []).push(h1 * 16 + h2);
        i += 4;
        continue;
      }
    }
    flush();
    switch (e) {
      case 34: out += '"'; i += 2; continue;
      case 92: out += '\\'; i += 2; continue;
      case 110: out += '\n'; i += 2; continue;
      case 114: out += '\r'; i += 2; continue;
      case 116: out += '\t'; i += 2; continue;
      case 98: out += '\b'; i += 2; continue;
      case 102: out += '\f'; i += 2; continue;
      case 117: {
        if (i + 5 < n) {
          const a = hex(text.charCodeAt(i + 2));
          const b = hex(text.charCodeAt(i + 3));
          const d = hex(text.charCodeAt(i + 4));
          const f = hex(text.charCodeAt(i + 5));
          if ((a | b | d | f) >= 0) {
            out += String.fromCharCode((a << 12) | (b << 8) | (d << 4) | f);
            i += 6;
            continue;
          }
        }
        break;
      }
      default:
        break;
    }
    out += '\\';
    i += 1;
  }
  flush();
  return out;
}

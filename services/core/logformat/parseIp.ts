/**
 * Allocation-light IP address parsers shared by {@link canonicalIp} and the CIDR matcher.
 * Strict RFC syntax: IPv4 dotted quad without leading zeros; IPv6 per RFC 4291 text forms
 * (with optional embedded IPv4 tail); an IPv6 zone id (`%eth0`) is ignored.
 */

/**
 * Parses `text[start, end)` as a dotted-quad IPv4 address.
 * @returns the address as an unsigned 32-bit integer, or -1 when invalid.
 */
export function parseIpv4(text: string, start = 0, end = text.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parses an IPv6 address in any RFC 4291 text form (`::`, embedded IPv4 tail, optional `%zone`).
 * @returns its eight 16-bit groups, or null when invalid.
 */
export function parseIpv6(text: string): number[] | null {
  let end = text.indexOf('%');
  if (end === -1) end = text.length;
  else if (end === text.length - 1) return null;
  if (end < 2) return null;
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let sawDoubleColon = false;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return null;
    sawDoubleColon = true;
    cur = tail;
    i = 2;
    if (i === end) return [0, 0, 0, 0, 0, 0, 0, 0];
  }
  for (;;) {
    // Parse one group (or an IPv4 tail) starting at i.
    let j = i;
    let v = 0;
    while (j < end) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
      j++;
    }
    const c = j < end ? text.charCodeAt(j) : -1;
    if (c === 46) {
      // IPv4 tail: must be the last thing and leave room for two groups.
      const v4 = parseIpv4(text, i, end);
      if (v4 < 0) return null;
      cur.push(Math.floor(v4 / 65536), v4 % 65536);
      break;
    }
    const len = j - i;
    if (len === 0 || len > 4) return null;
    cur.push(v);
    if (j === end) break;
    if (c !== 58) return null;
    if (j + 1 === end) return null; // trailing single colon
    if (text.charCodeAt(j + 1) === 58) {
      if (sawDoubleColon) return null;
      sawDoubleColon = true;
      cur = tail;
      i = j + 2;
      if (i === end) break;
    } else {
      i = j + 1;
    }
  }
  const n = head.length + tail.length;
  if (sawDoubleColon ? n > 7 : n !== 8) return null;
  const out = head;
  for (let k = n; k < 8; k++) out.push(0);
  for (let k = 0; k < tail.length; k++) out[8 - tail.length + k] = tail[k]!;
  return out;
}

/** True when the groups are an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`). */
export function isIpv4Mapped(groups: readonly number[]): boolean {
  return (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff
  );
}

/** Formats a 32-bit unsigned integer as dotted-quad IPv4 text. */
export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Formats eight 16-bit groups as RFC 5952 canonical IPv6 text (lower case, longest zero run compressed). */
export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += (groups[i] ?? 0).toString(16);
    if (i < 7) out += ':';
  }
  return out;
}

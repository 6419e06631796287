import { daysFromCivil, isValidDate } from './daysFromCivil.ts';

function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Parses an ISO-8601 / RFC 3339 timestamp WITH a zone found at `text[start, end)`:
 * `2000-10-10T13:55:36-07:00` (nginx `$time_iso8601`), `…Z`, `…+0530`, `…+05`, optional
 * fractional seconds (`.123`, `,5`; truncated to milliseconds), `T` or a space as separator.
 * A timestamp without a zone is rejected: its instant is ambiguous.
 *
 * @returns epoch milliseconds UTC, or NaN when invalid.
 */
export function parseIsoTime(text: string, start = 0, end = text.length): number {
  if (end - start < 20) return NaN;
  const s = start;
  const year = digits(text, s, 4);
  const month = digits(text, s + 5, 2);
  const day = digits(text, s + 8, 2);
  const hh = digits(text, s + 11, 2);
  const mm = digits(text, s + 14, 2);
  const ss = digits(text, s + 17, 2);
  const sep = text.charCodeAt(s + 10);
  if (
    (year | month | day | hh | mm | ss) < 0 || text.charCodeAt(s + 4) !== 45 || text.charCodeAt(s + 7) !== 45 ||
    (sep !== 84 && sep !== 116 && sep !== 32) || text.charCodeAt(s + 13) !== 58 || text.charCodeAt(s + 16) !== 58
  ) return NaN;
  if (hh > 23 || mm > 59 || ss > 59 || !isValidDate(year, month, day)) return NaN;
  let i = s + 19;
  let ms = 0;
  const frac = text.charCodeAt(i);
  if (frac === 46 || frac === 44) {
    i++;
    let scale = 100;
    const from = i;
    while (i < end) {
      const c = text.charCodeAt(i) - 48;
      if (!(c >= 0 && c <= 9)) break;
      if (scale >= 1) ms += c * scale;
      scale /= 10;
      i++;
    }
    if (i === from) return NaN;
  }
  if (i >= end) return NaN; // no zone
  let offsetMin = 0;
  const z = text.charCodeAt(i);
  if (z === 90 || z === 122) {
    if (i + 1 !== end) return NaN;
  } else if (z === 43 || z === 45) {
    const zh = digits(text, i + 1, 2);
    let zm = 0;
    const rest = end - (i + 3);
    if (rest === 3 && text.charCodeAt(i + 3) === 58) zm = digits(text, i + 4, 2);
    else if (rest === 2) zm = digits(text, i + 3, 2);
    else if (rest !== 0) return NaN;
    if (zh < 0 || zm < 0 || zh > 23 || zm > 59) return NaN;
    offsetMin = (z === 45 ? -1 : 1) * (zh * 60 + zm);
  } else {
    return NaN;
  }
  return ((daysFromCivil(year, month, day) * 24 + hh) * 60 + mm - offsetMin) * 60000 + ss * 1000 + ms;
}

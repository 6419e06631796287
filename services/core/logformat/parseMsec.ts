/**
 * Parses nginx `$msec` text (`1700000000.123`: epoch seconds with optional fraction) found at
 * `text[start, end)`. Digits are combined as integers, so there is no float rounding drift;
 * digits beyond milliseconds are truncated.
 *
 * @returns epoch milliseconds, or NaN when the text is not a non-negative decimal number.
 */
export function parseMsec(text: string, start = 0, end = text.length): number {
  let secs = 0;
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i) - 48;
    if (!(c >= 0 && c <= 9)) break;
    secs = secs * 10 + c;
    i++;
  }
  if (i === start || i - start > 12) return NaN;
  let ms = 0;
  if (i < end) {
    if (text.charCodeAt(i) !== 46) return NaN;
    i++;
    let scale = 100;
    while (i < end) {
      const c = text.charCodeAt(i) - 48;
      if (!(c >= 0 && c <= 9)) return NaN;
      if (scale >= 1) ms += c * scale;
      scale /= 10;
      i++;
    }
  }
  return secs * 1000 + ms;
}

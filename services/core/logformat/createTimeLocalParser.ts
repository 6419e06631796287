import { parseTimeLocal } from './parseTimeLocal.ts';

/**
 * A {@link parseTimeLocal} with a one-entry cache of the last minute seen: consecutive log lines
 * almost always share `dd/Mon/yyyy:HH:MM` and the zone, so only the seconds are parsed then.
 * Same results as `parseTimeLocal` for every input. The cache lives in the returned closure
 * (one per compiled parser), never at module level.
 */
export function createTimeLocalParser(): (text: string, start: number, end: number) => number {
  let prefix = '';
  let zone = '';
  let base = NaN;
  return (text: string, start: number, end: number): number => {
    if (end - start === 26 && prefix !== '' && text.startsWith(prefix, start) && text.startsWith(zone, start + 20)) {
      const a = text.charCodeAt(start + 18) - 48;
      const b = text.charCodeAt(start + 19) - 48;
      if (a >= 0 && a <= 5 && b >= 0 && b <= 9 && text.charCodeAt(start + 17) === 58) return base + (a * 10 + b) * 1000;
      return NaN;
    }
    const v = parseTimeLocal(text, start, end);
    if (v === v) {
      prefix = text.slice(start, start + 18); // through the ':' before the seconds
      zone = text.slice(start + 20, start + 26);
      const secs = (text.charCodeAt(start + 18) - 48) * 10 + (text.charCodeAt(start + 19) - 48);
      base = v - secs * 1000;
    }
    return v;
  };
}

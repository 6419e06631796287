/**
 * nginx "combined" log lines:
 * $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
 */
import type { SimEvent } from './events.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `+0000`, `+0100`, `-0500` for an offset in minutes east of UTC. */
export function zoneText(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const a = Math.abs(offsetMinutes);
  return `${sign}${p2(Math.floor(a / 60))}${p2(a % 60)}`;
}

/** `02/Mar/2026:00:00:01 +0000` for epoch ms (floored to the second) in the given zone. */
export function timeLocal(ms: number, offsetMinutes = 0): string {
  const d = new Date(Math.floor(ms / 1000) * 1000 + offsetMinutes * 60_000);
  return `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${zoneText(offsetMinutes)}`;
}

/** Formats events, caching the timestamp text per second (the hot path of the simulator). */
export class CombinedFormatter {
  private lastSec = Number.NaN;
  private lastText = '';

  constructor(private readonly offsetMinutes = 0) {}

  format(e: SimEvent): string {
    const sec = Math.floor(e.t / 1000);
    if (sec !== this.lastSec) {
      this.lastSec = sec;
      this.lastText = timeLocal(sec * 1000, this.offsetMinutes);
    }
    return `${e.ip} - - [${this.lastText}] "${e.method} ${e.path} ${e.proto}" ${e.status} ${e.bytes} "${e.referer === '' ? '-' : e.referer}" "${e.ua === '' ? '-' : e.ua}"`;
  }
}

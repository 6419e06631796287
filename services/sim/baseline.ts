/**
 * A naive comparison baseline: alert on any IP whose requests in one calendar minute exceed a threshold
 * (what generic rate limiters do). Self-contained: its own minimal combined-log parsing.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Alert } from '../core/alert.ts';

const LINE = /^(\S+) \S+ \S+ \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "[^"]*" \d{3} \S+ "[^"]*" "([^"]*)"/;
const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** Epoch ms, IP and UA of a combined-format line, or null. */
export function parseCombinedBasic(line: string): { ts: number; ip: string; ua: string } | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const mon = MONTHS[m[3] ?? ''];
  if (mon === undefined) return null;
  const off = (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  const ts = Date.UTC(Number(m[4]), mon, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7])) - off * 60_000;
  return { ts, ip: m[1] ?? '', ua: m[11] ?? '' };
}

export function subnetOf(ip: string): string {
  if (ip.includes(':')) {
    const [head = '', tail = ''] = ip.split('::');
    const h = head === '' ? [] : head.split(':');
    const t = tail === '' ? [] : tail.split(':');
    const groups = ip.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
    return `${groups.slice(0, 3).map((g) => parseInt(g || '0', 16).toString(16)).join(':')}::/48`;
  }
  const p = ip.split('.');
  return `${p[0]}.${p[1]}.${p[2]}.0/24`;
}

interface IpState {
  minute: number;
  count: number;
  maxCount: number;
  firstSeen: number;
  lastSeen: number;
  firstLine: number;
  lastLine: number;
  ua: string;
  detectedAt: number | null;
}

/**
 * Requests-per-minute rule over log lines: one alert per IP whose count in any calendar minute exceeds
 * `threshold`; detectedAt = the time of the request that crossed it.
 */
export function naiveRateBaseline(lines: Iterable<string>, threshold: number, source = 'access.log'): Alert[] {
  const st = new Map<string, IpState>();
  let n = 0;
  for (const line of lines) {
    n++;
    observe(st, line, n, threshold);
  }
  return toAlerts(st, threshold, source);
}

export async function naiveRateBaselineFile(path: string, threshold: number): Promise<Alert[]> {
  const st = new Map<string, IpState>();
  let n = 0;
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of rl) {
    n++;
    observe(st, line, n, threshold);
  }
  return toAlerts(st, threshold, path);
}

function observe(st: Map<string, IpState>, line: string, n: number, threshold: number): void {
  const r = parseCombinedBasic(line);
  if (!r) return;
  const minute = Math.floor(r.ts / 60_000);
  let s = st.get(r.ip);
  if (!s) {
    s = { minute, count: 0, maxCount: 0, firstSeen: r.ts, lastSeen: r.ts, firstLine: n, lastLine: n, ua: r.ua, detectedAt: null };
    st.set(r.ip, s);
  }
  if (s.minute !== minute) {
    s.minute = minute;
    s.count = 0;
  }
  s.count++;
  if (s.count > s.maxCount) s.maxCount = s.count;
  s.lastSeen = r.ts;
  s.lastLine = n;
  if (s.detectedAt === null && s.count > threshold) s.detectedAt = r.ts;
}

function toAlerts(st: Map<string, IpState>, threshold: number, source: string): Alert[] {
  const out: Alert[] = [];
  for (const [ip, s] of st) {
    if (s.detectedAt === null) continue;
    out.push({
      id: `baseline-rate:${ip}`,
      kind: 'bulk-harvest',
      severity: 'medium',
      score: 50,
      client: { ip, ips: [ip], userAgent: s.ua, subnet: subnetOf(ip) },
      firstSeen: new Date(s.firstSeen).toISOString(),
      detectedAt: new Date(s.detectedAt).toISOString(),
      lastSeen: new Date(s.lastSeen).toISOString(),
      images: [],
      reasons: [
        {
          signal: 'requests-per-minute',
          value: s.maxCount,
          threshold,
          text: `${s.maxCount} requests in one minute (> ${threshold})`,
        },
      ],
      version: 1,
      status: 'open',
      evidence: { source, firstLine: s.firstLine, lastLine: s.lastLine },
    });
  }
  return out.sort((a, b) => a.detectedAt.localeCompare(b.detectedAt) || a.id.localeCompare(b.id));
}

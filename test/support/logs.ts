/**
 * Small, deterministic access logs generated inside the tests (nothing is committed). Independent of
 * the simulator and of the parser under test: lines are built by hand from the nginx formats.
 */
import { writeFileSync } from 'node:fs';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/** Event-time origin of every generated log: 2026-03-02T14:00:00Z. */
export const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);

/** nginx `$time_local` in UTC: `02/Mar/2026:14:00:00 +0000`. */
export function timeLocal(ms: number): string {
  const d = new Date(ms);
  return `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
}

export interface Req {
  readonly ip: string;
  readonly ts: number;
  readonly path: string;
  readonly method?: string;
  readonly status?: number;
  readonly bytes?: number;
  readonly referer?: string;
  readonly ua?: string;
}

export const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';
export const SCRAPER_UA = 'python-requests/2.31.0';

/** nginx `combined`. */
export function combined(r: Req): string {
  return (
    `${r.ip} - - [${timeLocal(r.ts)}] "${r.method ?? 'GET'} ${r.path} HTTP/1.1" ${r.status ?? 200} ${r.bytes ?? 1234} ` +
    `"${r.referer === undefined || r.referer === '' ? '-' : r.referer}" "${r.ua ?? BROWSER_UA}"`
  );
}

/** One JSON-lines record with the common nginx `escape=json` field names. */
export function jsonLine(r: Req): string {
  return JSON.stringify({
    time: new Date(r.ts).toISOString(),
    remote_addr: r.ip,
    request: `${r.method ?? 'GET'} ${r.path} HTTP/1.1`,
    status: r.status ?? 200,
    body_bytes_sent: r.bytes ?? 1234,
    http_referer: r.referer ?? '',
    http_user_agent: r.ua ?? BROWSER_UA,
  });
}

/** Tile path of an IIIF Image API 2 level-0 tile `(col,row)` of size `tile` at full resolution. */
export function iiifTile(imageId: string, width: number, height: number, col: number, row: number, tile = 256): string {
  const x = col * tile;
  const y = row * tile;
  const w = Math.min(tile, width - x);
  const h = Math.min(tile, height - y);
  return `/iiif/2/${imageId}/${x},${y},${w},${h}/${w},/0/default.jpg`;
}

export function iiifInfo(imageId: string): string {
  return `/iiif/2/${imageId}/info.json`;
}

/**
 * `n` distinct, valid requests: ten clients in turn, IIIF full-resolution tiles of a 4096² image,
 * one second apart from `start`. The first 64 lines name a log (its source identity).
 */
export function goodRequests(n: number, opts: { start?: number; imageId?: string; ipBase?: number } = {}): Req[] {
  const start = opts.start ?? T0;
  const id = opts.imageId ?? 'img-good';
  const out: Req[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `198.51.100.${(opts.ipBase ?? 10) + (i % 10)}`;
    out.push({ ip, ts: start + i * 1000, path: iiifTile(id, 4096, 4096, i % 16, Math.floor(i / 16) % 16), bytes: 1000 + i });
  }
  return out;
}

/** {@link goodRequests} as nginx combined lines. */
export function goodLines(n: number, opts: { start?: number; imageId?: string; ipBase?: number } = {}): string[] {
  return goodRequests(n, opts).map(combined);
}

export function writeLines(path: string, lines: readonly string[]): void {
  writeFileSync(path, lines.map((l) => `${l}\n`).join(''));
}

/** Small deterministic PRNG (mulberry32) so generated background traffic is the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ScraperScenario {
  readonly lines: string[];
  readonly scraperIp: string;
  readonly imageIds: readonly string[];
  /** Tiles the scraper fetched (all deepest-level tiles of each image). */
  readonly scraperTiles: number;
  readonly viewerIps: readonly string[];
}

/**
 * One client (python-requests, no Referer, no info.json) fetching every full-resolution 256 px tile
 * of `images` 6000 × 4000 IIIF images, row by row, one request per second, over a benign background
 * of a few viewer-like browser clients (object page, info.json, a small whole image, then a handful
 * of zoomed tiles, with a page Referer). Lines are in event-time order.
 *
 * Three images by default: one 6000 × 4000 image alone scores below the alert threshold by design
 * (exposure counts only what lies beyond one 4K screen, ≈ 1.9 screens here, and timing regularity
 * needs ≥ 10 active minutes; measured score 38 < 50).
 */
export function scraperScenario(images = 3): ScraperScenario {
  const W = 6000;
  const H = 4000;
  const T = 256;
  const imageIds = Array.from({ length: images }, (_, i) => `ms-6000x4000-${i + 1}`);
  const scraperIp = '203.0.113.66';
  const cols = Math.ceil(W / T);
  const rows = Math.ceil(H / T);
  const events: Array<{ ts: number; line: string }> = [];
  let k = 0;
  for (const imageId of imageIds) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const ts = T0 + 60_000 + k * 1000;
        events.push({ ts, line: combined({ ip: scraperIp, ts, path: iiifTile(imageId, W, H, c, r, T), bytes: 20_000 + (k % 5000), ua: SCRAPER_UA }) });
        k++;
      }
    }
  }
  const rand = rng(42);
  const viewerIps = ['192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13'];
  const others = ['view-a', 'view-b', 'view-c'];
  viewerIps.forEach((ip, v) => {
    let ts = T0 + v * 37_000;
    for (let session = 0; session < 4; session++) {
      const id = others[(v + session) % others.length]!;
      const page = `https://museum.example/objects/${id}`;
      events.push({ ts, line: combined({ ip, ts, path: `/objects/${id}`, bytes: 9000 }) });
      ts += 800;
      events.push({ ts, line: combined({ ip, ts, path: iiifInfo(id), referer: page, bytes: 700 }) });
      ts += 300;
      events.push({ ts, line: combined({ ip, ts, path: `/iiif/2/${id}/full/512,/0/default.jpg`, referer: page, bytes: 30_000 }) });
      const c0 = Math.floor(rand() * 10);
      const r0 = Math.floor(rand() * 8);
      for (let i = 0; i < 6; i++) {
        ts += 150 + Math.floor(rand() * 400);
        events.push({ ts, line: combined({ ip, ts, path: iiifTile(id, 4000, 3000, c0 + (i % 3), r0 + Math.floor(i / 3)), referer: page, bytes: 15_000 }) });
      }
      ts += 120_000 + Math.floor(rand() * 240_000);
    }
  });
  events.sort((a, b) => a.ts - b.ts);
  return { lines: events.map((e) => e.line), scraperIp, imageIds, scraperTiles: cols * rows * images, viewerIps };
}

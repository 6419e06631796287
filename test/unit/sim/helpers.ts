/**
 * Shared helpers for the simulator tests: run a small simulation once per process and parse its lines
 * with an independent combined-format regex.
 */
import { createSimulation, type SimulateOptions } from '../../../services/sim/simulate.ts';
import type { CatalogImage } from '../../../services/sim/catalog.ts';
import type { Label } from '../../../services/sim/labels.ts';

export interface Line {
  readonly n: number;
  readonly ip: string;
  readonly ts: number;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly bytes: number;
  readonly referer: string;
  readonly ua: string;
  readonly raw: string;
}

const RE = /^(\S+) - - \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] "(GET|HEAD) (\S+) (HTTP\/1\.1|HTTP\/2\.0)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$/;
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function parseLine(raw: string, n = 0): Line {
  const m = RE.exec(raw);
  if (!m) throw new Error(`not a combined line: ${raw}`);
  const zone = m[8] as string;
  const off = (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3)));
  const ts = Date.UTC(Number(m[4]), MON.indexOf(m[3] as string), Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7])) - off * 60_000;
  return {
    n,
    ip: m[1] as string,
    ts,
    method: m[9] as string,
    path: m[10] as string,
    status: Number(m[12]),
    bytes: Number(m[13]),
    referer: m[14] === '-' ? '' : (m[14] as string),
    ua: m[15] as string,
    raw,
  };
}

export interface SmallRun {
  readonly lines: Line[];
  readonly labels: Label[];
  readonly catalog: readonly CatalogImage[];
  readonly monotonicityFixes: number;
  readonly startMs: number;
  readonly endMs: number;
}

const cache = new Map<string, SmallRun>();

/** A 1-hour run over a 60-image catalog (fast), cached per options. */
export function smallRun(opts: Partial<SimulateOptions> = {}): SmallRun {
  const o: SimulateOptions = { seed: 'test-seed-1', hours: 1, images: 60, start: '2026-03-02T14:00:00Z', ...opts };
  const key = JSON.stringify(o);
  const hit = cache.get(key);
  if (hit) return hit;
  const sim = createSimulation(o);
  const lines: Line[] = [];
  let n = 0;
  for (const raw of sim.lines()) lines.push(parseLine(raw, ++n));
  const run = { lines, labels: sim.labels(), catalog: sim.catalog, monotonicityFixes: sim.stats.monotonicityFixes, startMs: sim.startMs, endMs: sim.endMs };
  cache.set(key, run);
  return run;
}

export function byIp(lines: readonly Line[]): Map<string, Line[]> {
  const m = new Map<string, Line[]>();
  for (const l of lines) {
    let a = m.get(l.ip);
    if (!a) m.set(l.ip, (a = []));
    a.push(l);
  }
  return m;
}

export function ipv4InCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const toN = (s: string): number => s.split('.').reduce((a, p) => a * 256 + Number(p), 0);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const size = 2 ** (32 - Number(bits));
  const b = toN(base ?? '');
  const n = toN(ip);
  return n >= b && n < b + size;
}

/** Image id and level k (halvings from full resolution) of a tile path, read from the URL alone; null if not a tile. */
export function tileLevel(path: string, catalog: readonly CatalogImage[]): { id: string; k: number } | null {
  const find = (id: string): CatalogImage | undefined => catalog.find((i) => i.id === id);
  let m = /^\/iiif\/\d\/([^/]+)\/full\/(\d+),\d*\//.exec(path);
  if (m) {
    const im = find(m[1] as string);
    return im ? { id: im.id, k: Math.round(Math.log2(im.width / Number(m[2]))) } : null;
  }
  m = /^\/iiif\/\d\/([^/]+)\/\d+,\d+,(\d+),\d+\/(\d+),/.exec(path);
  if (m) return { id: m[1] as string, k: Math.round(Math.log2(Number(m[2]) / Number(m[3]))) };
  m = /^\/dz\/(.+)_files\/(\d+)\//.exec(path) ?? /^\/zoomify\/([^/]+)\/TileGroup\d+\/(\d+)-/.exec(path);
  if (m) {
    const im = find(m[1] as string);
    return im ? { id: im.id, k: im.maxK - Number(m[2]) } : null;
  }
  m = /^\/tiles\/([^/]+)\/(\d+)\//.exec(path);
  if (m) {
    const im = find(m[1] as string);
    return im ? { id: im.id, k: (im.zmax ?? 18) - Number(m[2]) } : null;
  }
  return null;
}

/** Whether a path is an image descriptor (info.json, .dzi, ImageProperties.xml), and of which image. */
export function descriptorOf(path: string): string | null {
  const d = /^\/iiif\/\d\/([^/]+)\/info\.json$|^\/dz\/(.+)\.dzi$|^\/zoomify\/([^/]+)\/ImageProperties\.xml$/.exec(path);
  return d ? (d[1] ?? d[2] ?? d[3] ?? null) : null;
}

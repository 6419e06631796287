/**
 * The labelled traffic simulator: plans actors (benign and threat), merges their lazily generated
 * request streams in time order with a min-heap, and writes an nginx combined access log plus labels.
 *
 * Memory is bounded by the number of actors (small plans; a generator only while an actor is active),
 * never by the number of lines. Everything derives from the seed; event time from `start`.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  BINGBOT_UA,
  BROWSER_UAS,
  CLOUDFRONT_UA,
  DEZOOMIFY_UA,
  GOOGLEBOT_IMAGE_UA,
  GOOGLEBOT_UA,
  IIIF_DL_UA,
  IpAllocator,
  LIBRARY_UAS,
  PINGDOM_UA,
  RANGES,
  UPTIMEROBOT_UA,
} from './agents.ts';
import {
  cdnWarmerActor,
  crawlerActor,
  humanActor,
  monitorActor,
  natActor,
  researcherActor,
  staffExportActor,
  staffViewerActor,
} from './benign.ts';
import { type CatalogImage, buildCatalog, catalogJson, cols, descriptorBytes, descriptorUrl, isIiif, rows, tileBytes, tileUrl } from './catalog.ts';
import type { Client, EventStream, SimEvent } from './events.ts';
import { diurnal } from './diurnal.ts';
import { MinHeap } from './heap.ts';
import { DEFAULT_HARD_BENIGN, planHardBenign } from './hardBenign.ts';
import { type BenignKind, type HardBenignKind, type Label, type LabelClass, THREAT_KINDS, type ThreatKind } from './labels.ts';
import { CombinedFormatter } from './logformat.ts';
import { type Rng, derive } from './rng.ts';
import {
  type CampaignSplit,
  campaign,
  fullDownload,
  halfResolution,
  humanMimic,
  jittered,
  lowAndSlow,
  parallelFast,
  raster1s,
  shuffledBrowser,
} from './threats.ts';

export const DEFAULT_START = '2026-03-02T00:00:00Z';

export interface SimulateOptions {
  readonly seed: string | number;
  /** Length of the simulated period in hours. */
  readonly hours: number;
  /** Event time of the period start (ISO string or Date). Default 2026-03-02T00:00:00Z. */
  readonly start?: string | Date;
  /** Multiplies benign human volume (visitors, researchers, NAT offices). Default 1. */
  readonly scale?: number;
  /** Catalog size (still images). Default 300. */
  readonly images?: number;
  /** Add the XYZ map layer. Default true. */
  readonly xyz?: boolean;
  /** Zone of $time_local in minutes east of UTC. Default 0 (`+0000`). */
  readonly tzOffsetMinutes?: number;
  /** Threat actors per kind. Default 1 each, 2 distributed-subnet (one per split: slices, whole images), 2 low-and-slow (two speeds). */
  readonly threats?: Partial<Record<ThreatKind, number>>;
  /** Visitor sessions per hour at the diurnal peak at scale 1. Default 48. */
  readonly humansPerPeakHour?: number;
  /** Internal staff network. Default 10.20.0.0/16. */
  readonly internalCidr?: string;
  /**
   * Hard benign actors per kind per 24 h at scale 1 (hardBenign.ts DEFAULT_HARD_BENIGN: one campus,
   * office and classroom NAT, CGNAT pool and corporate proxy, 2 deep researchers, 2 enthusiasts,
   * 8 rotating phones); 0 turns a kind off. Scale multiplies them (CGNAT: its visitors).
   */
  readonly hardBenign?: Partial<Record<HardBenignKind, number>>;
}

interface Plan {
  readonly actor: string;
  readonly cls: LabelClass;
  readonly kind: string;
  readonly start: number;
  readonly perIpDetectable: boolean;
  readonly note?: string;
  readonly make: () => EventStream;
}

interface Tracker {
  first: number;
  last: number;
  count: number;
  readonly ips: Set<string>;
  readonly uas: Set<string>;
  readonly images: Set<string>;
  readonly sessions: Set<number>;
}

export interface SimulationStats {
  lines: number;
  actorsPlanned: number;
  /** Times an actor stream went backwards and was clamped (should be 0). */
  monotonicityFixes: number;
}

export interface Simulation {
  readonly catalog: readonly CatalogImage[];
  readonly startMs: number;
  readonly endMs: number;
  readonly stats: SimulationStats;
  /** The merged events in time order (single use). */
  events(): Generator<SimEvent, void, undefined>;
  /** The merged log lines in time order (single use; shares state with events()). */
  lines(): Generator<string, void, undefined>;
  /** Labels of the actors that appeared so far (complete once events()/lines() is exhausted). */
  labels(): Label[];
}

const H = 3_600_000;

const DESKTOP_UAS = BROWSER_UAS.filter((u) => !/iPhone|iPad|Android|Mobile/.test(u));

export { diurnal } from './diurnal.ts';

const pad = (n: number): string => String(n).padStart(5, '0');

function planActors(opts: SimulateOptions, catalog: readonly CatalogImage[], startMs: number, endMs: number): Plan[] {
  const seed = opts.seed;
  const scale = opts.scale ?? 1;
  const P = endMs - startMs;
  const prng = derive(seed, 'plan');
  const ipr = new IpAllocator(derive(seed, 'ips'));
  const plans: Plan[] = [];
  const counters = new Map<string, number>();
  const nextName = (kind: string): string => {
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    return `${kind}-${pad(n)}`;
  };
  const still = catalog.filter((i) => i.protocol !== 'xyz');
  const iiif = catalog.filter(isIiif);
  const internal = opts.internalCidr ?? RANGES.internalStaff;
  const add = (
    kind: string,
    cls: LabelClass,
    start: number,
    perIpDetectable: boolean,
    make: (rng: Rng) => EventStream,
    note?: string,
  ): void => {
    const actor = nextName(kind);
    const rng = derive(seed, 'actor', actor);
    plans.push({ actor, cls, kind, start: Math.round(start), perIpDetectable, ...(note ? { note } : {}), make: () => make(rng) });
  };

  // ---- threats (planned first: their addresses and images do not depend on scale) ----
  const counts: Record<ThreatKind, number> = {
    'raster-1s': 1,
    'parallel-fast': 1,
    jittered: 1,
    'shuffled-browser': 1,
    'distributed-subnet': 2,
    'distributed-unrelated': 1,
    'low-and-slow': 2,
    'half-resolution': 1,
    'human-mimic': 1,
    'full-download': 1,
    ...opts.threats,
  };
  for (const kind of THREAT_KINDS) {
    for (let i = 0; i < counts[kind]; i++) {
      const r = derive(seed, 'threat', kind, i);
      const start = kind === 'low-and-slow' ? startMs + r.range(0, 0.02 * P) : startMs + r.range(0.05 * P, 0.6 * P);
      const cl = (ua: string, proto: Client['proto'] = 'HTTP/1.1', v6 = 0): Client => ({ ip: ipr.client(v6), ua, proto });
      switch (kind) {
        case 'raster-1s': {
          const iiifDl = r.chance(0.5);
          const c = cl(iiifDl ? IIIF_DL_UA : 'python-requests/2.31.0');
          const imgs = r.shuffle((iiifDl ? iiif : catalog).slice());
          add(kind, 'threat', start, true, (rng) => raster1s(rng, c, start, imgs, iiifDl), iiifDl ? 'iiif-dl: full/full then 1024-px regions' : 'native tiles');
          break;
        }
        case 'parallel-fast': {
          const c = cl(DEZOOMIFY_UA);
          const imgs = r.sample(still, r.int(1, 4));
          add(kind, 'threat', start, true, (rng) => parallelFast(rng, c, start, imgs), 'dezoomify-rs');
          break;
        }
        case 'jittered': {
          const c = cl(r.pick(LIBRARY_UAS));
          const imgs = r.shuffle(still.slice());
          const withDesc = r.chance(0.5);
          add(kind, 'threat', start, true, (rng) => jittered(rng, c, start, imgs, withDesc));
          break;
        }
        case 'shuffled-browser': {
          const c = cl(r.pick(BROWSER_UAS), 'HTTP/2.0', 0.15);
          const imgs = r.sample(still, r.int(3, 10));
          add(kind, 'threat', start, true, (rng) => shuffledBrowser(rng, c, start, imgs));
          break;
        }
        case 'distributed-subnet': {
          const split: CampaignSplit = i % 2 === 1 ? 'images' : r.chance(0.5) ? 'bands' : 'interleave';
          const prefix = ipr.freshSlash24();
          const ips = ipr.inSlash24(prefix, r.int(18, 22));
          const ua = r.pick([...LIBRARY_UAS, ...BROWSER_UAS]);
          const imgs = r.sample(still, split === 'images' ? ips.length * 2 : r.int(5, 20));
          add(kind, 'threat', start, split === 'images', (rng) => campaign(rng, ips, ua, start, imgs, split), `${prefix}.0/24 split=${split}`);
          break;
        }
        case 'distributed-unrelated': {
          const split: CampaignSplit = r.chance(0.5) ? 'bands' : 'interleave';
          const n = r.int(18, 22);
          const ips = Array.from({ length: n }, () => ipr.publicV4());
          const ua = r.pick([...LIBRARY_UAS, ...BROWSER_UAS]);
          const imgs = r.sample(still, r.int(5, 20));
          add(kind, 'threat', start, false, (rng) => campaign(rng, ips, ua, start, imgs, split), `split=${split}`);
          break;
        }
        case 'low-and-slow': {
          const c = cl(r.pick([...BROWSER_UAS, ...LIBRARY_UAS]));
          const imgs = r.shuffle(still.slice());
          // Two speeds: about one tile a minute, and one every 3–8 minutes (days per image).
          const gap: [number, number] = i % 2 === 0 ? [55_000, 65_000] : [180_000, 480_000];
          add(kind, 'threat', start, true, (rng) => lowAndSlow(rng, c, start, imgs, gap), i % 2 === 0 ? 'one tile a minute' : 'one tile every 3–8 minutes');
          break;
        }
        case 'half-resolution': {
          const c = cl(r.pick(LIBRARY_UAS));
          const imgs = r.sample(still, r.int(3, 15));
          add(kind, 'threat', start, true, (rng) => halfResolution(rng, c, start, imgs));
          break;
        }
        case 'human-mimic': {
          const c = cl(r.pick(BROWSER_UAS), 'HTTP/2.0', 0.15);
          const imgs = r.sample(still, r.int(3, 8));
          add(kind, 'threat', start, true, (rng) => humanMimic(rng, c, start, imgs));
          break;
        }
        case 'full-download': {
          const c = cl(r.pick(LIBRARY_UAS));
          const imgs = r.sample(iiif, r.int(20, 80));
          add(kind, 'threat', start, true, (rng) => fullDownload(rng, c, start, imgs));
          break;
        }
      }
    }
  }

  // ---- benign bots and staff (not scaled) ----
  const benign = (kind: BenignKind, start: number, make: (rng: Rng) => EventStream, note?: string): void =>
    add(kind, 'benign', start, false, make, note);
  for (let i = 0; i < 3; i++) {
    const google = i < 2;
    const ips = Array.from({ length: prng.int(1, google ? 3 : 2) }, () =>
      ipr.inCidr(google ? RANGES.googlebot[0] : prng.pick(RANGES.bingbot)),
    );
    const start = startMs + prng.range(0, 0.5 * P);
    benign(
      'crawler',
      start,
      (rng) => crawlerActor(rng, ips, google ? GOOGLEBOT_UA : BINGBOT_UA, google ? GOOGLEBOT_IMAGE_UA : null, start, catalog),
      google ? 'googlebot' : 'bingbot',
    );
  }
  {
    const monImg = prng.pick(iiif.length > 0 ? iiif : still);
    const robot: Client = { ip: ipr.inCidr(RANGES.uptimeRobot[0]), ua: UPTIMEROBOT_UA, proto: 'HTTP/1.1' };
    const s1 = startMs + prng.int(0, 59) * 1000;
    const d = descriptorUrl(monImg) ?? '/';
    benign('monitor', s1, () => monitorActor(robot, s1, d, descriptorBytes(monImg), monImg.id, 'HEAD'), 'UptimeRobot HEAD descriptor');
    const tileImg = prng.pick(still);
    const pingdom: Client = { ip: ipr.inCidr(RANGES.pingdom[0]), ua: PINGDOM_UA, proto: 'HTTP/1.1' };
    const s2 = startMs + prng.int(0, 59) * 1000;
    const tc = Math.floor(cols(tileImg, 0) / 2);
    const tr = Math.floor(rows(tileImg, 0) / 2);
    const bytes = tileBytes(tileImg, 0, tc, tr, prng);
    benign('monitor', s2, () => monitorActor(pingdom, s2, tileUrl(tileImg, 0, tc, tr), bytes, tileImg.id, 'GET'), 'Pingdom GET tile');
  }
  {
    const ips = Array.from({ length: prng.int(2, 4) }, (_, j) => ipr.inCidr(RANGES.cloudfront[j % 2] ?? RANGES.cloudfront[0]));
    const start = startMs + prng.range(0, 0.7 * P);
    benign('cdn-warmer', start, (rng) => cdnWarmerActor(rng, ips, CLOUDFRONT_UA, start, catalog));
  }
  for (let i = 0; i < 3; i++) {
    const c: Client = {
      ip: ipr.inCidr(internal),
      ua: i === 1 ? 'python-requests/2.31.0' : prng.pick(BROWSER_UAS),
      proto: i === 1 ? 'HTTP/1.1' : 'HTTP/2.0',
    };
    const start = startMs + prng.range(0, 0.7 * P);
    if (i === 1) benign('staff', start, (rng) => staffExportActor(rng, c, start, catalog), 'export job: deepest tiles');
    else if (i === 0) benign('staff', start, (rng) => staffViewerActor(rng, c, start, catalog), 'viewer + full downloads');
    else benign('staff', start, (rng) => humanActor(rng, c, start, catalog), 'viewer');
  }

  // ---- people (scaled): NAT offices, researchers, visitors by the diurnal curve ----
  const nNat = Math.max(1, Math.round((2 * scale * P) / (24 * H)));
  for (let i = 0; i < nNat; i++) {
    const ip = ipr.publicV4();
    const uas = prng.sample(BROWSER_UAS, prng.int(4, 8));
    const start = startMs + prng.range(0, 0.5 * P);
    const hours = Math.min(6, Math.max(0.5, (0.5 * P) / H));
    benign('nat', start, (rng) => natActor(rng, ip, uas, start, hours, catalog), 'office NAT');
  }
  const peak = opts.humansPerPeakHour ?? 48;
  let researchers = 0;
  let humans = 0;
  for (let h0 = startMs; h0 < endMs; h0 += H) {
    const hod = new Date(h0).getUTCHours() + new Date(h0).getUTCMinutes() / 60;
    const frac = Math.min(1, (endMs - h0) / H);
    const d = diurnal(hod);
    const nR = prng.poisson(0.4 * scale * d * frac);
    const nH = prng.poisson(peak * scale * d * frac);
    for (let j = 0; j < nR + nH; j++) {
      const start = h0 + prng.range(0, frac * H);
      const c: Client = { ip: ipr.client(0.2), ua: prng.pick(j < nR ? DESKTOP_UAS : BROWSER_UAS), proto: 'HTTP/2.0' };
      if (j < nR) {
        researchers++;
        benign('researcher', start, (rng) => researcherActor(rng, c, start, catalog));
      } else {
        humans++;
        benign('human', start, (rng) => humanActor(rng, c, start, catalog));
      }
    }
  }
  // Every benign class is present even in short runs.
  if (researchers === 0) {
    const start = startMs + prng.range(0, 0.5 * P);
    const c: Client = { ip: ipr.client(0.2), ua: prng.pick(DESKTOP_UAS), proto: 'HTTP/2.0' };
    benign('researcher', start, (rng) => researcherActor(rng, c, start, catalog));
  }
  if (humans === 0) {
    const start = startMs + prng.range(0, 0.5 * P);
    const c: Client = { ip: ipr.client(0.2), ua: prng.pick(BROWSER_UAS), proto: 'HTTP/2.0' };
    benign('human', start, (rng) => humanActor(rng, c, start, catalog));
  }

  // ---- hard benign classes (planned last: nothing above depends on them) ----
  planHardBenign({
    seed,
    scale,
    startMs,
    endMs,
    catalog,
    ipr,
    counts: { ...DEFAULT_HARD_BENIGN, ...opts.hardBenign },
    add: (kind, start, make, note) => add(kind, 'benign', start, false, make, note),
  });
  return plans;
}

interface Entry {
  t: number;
  seq: number;
  plan: Plan;
  tr: Tracker;
  it: EventStream | null;
  ev: SimEvent | null;
  lastT: number;
}

/** Plan a simulation; nothing is generated until events()/lines() is iterated. */
export function createSimulation(opts: SimulateOptions): Simulation {
  const startMs = new Date(opts.start ?? DEFAULT_START).getTime();
  if (!Number.isFinite(startMs)) throw new Error(`invalid start: ${String(opts.start)}`);
  if (!(opts.hours > 0)) throw new Error('hours must be > 0');
  const endMs = startMs + Math.round(opts.hours * H);
  const catalog = buildCatalog({ seed: opts.seed, ...(opts.images !== undefined ? { images: opts.images } : {}), xyz: opts.xyz ?? true });
  const plans = planActors(opts, catalog, startMs, endMs);
  const trackers: Tracker[] = plans.map(() => ({ first: 0, last: 0, count: 0, ips: new Set(), uas: new Set(), images: new Set(), sessions: new Set() }));
  const stats: SimulationStats = { lines: 0, actorsPlanned: plans.length, monotonicityFixes: 0 };
  let started = false;

  function* events(): Generator<SimEvent, void, undefined> {
    if (started) throw new Error('a Simulation can be iterated once');
    started = true;
    const heap = new MinHeap<Entry>();
    plans.forEach((plan, seq) => {
      if (plan.start < endMs) heap.push({ t: plan.start, seq, plan, tr: trackers[seq] as Tracker, it: null, ev: null, lastT: plan.start });
    });
    for (;;) {
      const e = heap.pop();
      if (!e) return;
      const ev = e.ev;
      if (ev) {
        const tr = e.tr;
        if (tr.count === 0) tr.first = ev.t;
        tr.count++;
        tr.last = ev.t;
        tr.ips.add(ev.ip);
        tr.uas.add(ev.ua);
        if (ev.image !== null) tr.images.add(ev.image);
        if (ev.session !== undefined) tr.sessions.add(ev.session);
        stats.lines++;
        yield ev;
      }
      if (!e.it) e.it = e.plan.make();
      const r = e.it.next();
      if (r.done) continue;
      const nx = r.value;
      if (nx.t < e.lastT) {
        nx.t = e.lastT;
        stats.monotonicityFixes++;
      }
      if (nx.t >= endMs) continue;
      e.lastT = nx.t;
      e.ev = nx;
      e.t = nx.t;
      heap.push(e);
    }
  }

  function* lines(): Generator<string, void, undefined> {
    const fmt = new CombinedFormatter(opts.tzOffsetMinutes ?? 0);
    for (const ev of events()) yield fmt.format(ev);
  }

  function labels(): Label[] {
    const out: Label[] = [];
    plans.forEach((p, i) => {
      const tr = trackers[i] as Tracker;
      if (tr.count === 0) return;
      const uas = [...tr.uas];
      out.push({
        actor: p.actor,
        class: p.cls,
        kind: p.kind,
        ips: [...tr.ips],
        userAgent: uas[0] ?? '',
        ...(uas.length > 1 ? { userAgents: uas } : {}),
        start: new Date(tr.first).toISOString(),
        end: new Date(tr.last).toISOString(),
        images: [...tr.images],
        perIpDetectable: p.perIpDetectable,
        ...(p.note ? { note: p.note } : {}),
        requests: tr.count,
        ...(tr.sessions.size > 0 ? { sessions: tr.sessions.size } : {}),
      });
    });
    return out;
  }

  return { catalog, startMs, endMs, stats, events, lines, labels };
}

/** The simulator as an async stream of combined-format log lines (no trailing newline). */
export async function* simulate(opts: SimulateOptions): AsyncGenerator<string, void, undefined> {
  yield* createSimulation(opts).lines();
}

export interface WriteSimulationOptions extends SimulateOptions {
  /** Output directory (created). */
  readonly out: string;
}

export interface WriteSimulationResult {
  readonly lines: number;
  readonly actors: number;
  readonly threatActors: number;
  readonly elapsedMs: number;
  readonly files: readonly string[];
}

/** The allow-list hint a deployment would configure (written as allowlist.json). */
export function allowlistHint(internalCidr: string = RANGES.internalStaff): unknown {
  return {
    cidrs: [internalCidr],
    crawlers: [
      { name: 'googlebot', userAgentContains: 'Googlebot', cidrs: RANGES.googlebot },
      { name: 'bingbot', userAgentContains: 'bingbot', cidrs: RANGES.bingbot },
    ],
    monitors: [
      { name: 'uptimerobot', userAgentContains: 'UptimeRobot', cidrs: RANGES.uptimeRobot },
      { name: 'pingdom', userAgentContains: 'Pingdom', cidrs: RANGES.pingdom },
    ],
    cdn: [{ name: 'cloudfront', userAgentContains: 'Amazon CloudFront', cidrs: RANGES.cloudfront }],
  };
}

/** Write access.log, labels.jsonl, catalog.json, allowlist.json and README.md to `out`. */
export async function writeSimulation(opts: WriteSimulationOptions): Promise<WriteSimulationResult> {
  const t0 = performance.now();
  await mkdir(opts.out, { recursive: true });
  const sim = createSimulation(opts);
  const logPath = join(opts.out, 'access.log');
  const ws = createWriteStream(logPath, { highWaterMark: 1 << 20 });
  const done = new Promise<void>((resolve, reject) => {
    ws.on('finish', resolve);
    ws.on('error', reject);
  });
  let buf: string[] = [];
  for (const line of sim.lines()) {
    buf.push(line);
    if (buf.length >= 8192) {
      buf.push('');
      if (!ws.write(buf.join('\n'))) await once(ws, 'drain');
      buf = [];
    }
  }
  if (buf.length > 0) {
    buf.push('');
    ws.write(buf.join('\n'));
  }
  ws.end();
  await done;
  const labels = sim.labels();
  await writeFile(join(opts.out, 'labels.jsonl'), labels.map((l) => JSON.stringify(l)).join('\n') + (labels.length ? '\n' : ''));
  await writeFile(join(opts.out, 'catalog.json'), JSON.stringify(catalogJson(sim.catalog), null, 1) + '\n');
  const internal = opts.internalCidr ?? RANGES.internalStaff;
  await writeFile(join(opts.out, 'allowlist.json'), JSON.stringify(allowlistHint(internal), null, 2) + '\n');
  const threatActors = labels.filter((l) => l.class === 'threat').length;
  const readme = [
    '# tilewatch simulated traffic',
    '',
    `seed: ${String(opts.seed)}  hours: ${opts.hours}  scale: ${opts.scale ?? 1}  start: ${new Date(sim.startMs).toISOString()}`,
    `lines: ${sim.stats.lines}  actors: ${labels.length} (${threatActors} threat)  images: ${sim.catalog.length}`,
    '',
    '- access.log: nginx combined format, one-second timestamps, non-decreasing time.',
    '- labels.jsonl: one object per actor (class benign|threat, kind, ips, userAgent, start, end, images, perIpDetectable).',
    '- catalog.json: the images (for optional use and tests; the detector must work without it).',
    '- allowlist.json: configuration hint — internal staff CIDR and verified crawler/monitor/CDN ranges.',
    '',
    `config hint: internal staff CIDR ${internal}; Googlebot ${RANGES.googlebot.join(', ')}; bingbot ${RANGES.bingbot.join(', ')}.`,
    '',
  ].join('\n');
  await writeFile(join(opts.out, 'README.md'), readme);
  return {
    lines: sim.stats.lines,
    actors: labels.length,
    threatActors,
    elapsedMs: performance.now() - t0,
    files: ['access.log', 'labels.jsonl', 'catalog.json', 'allowlist.json', 'README.md'],
  };
}

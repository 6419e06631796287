/**
 * Benign crowds behind shared addresses: a campus or office NAT (tens to hundreds of people on one
 * IPv4), a carrier-grade NAT pool (a carrier's phone customers on a few IPv4s) and a corporate proxy
 * (one egress address, one managed browser family, optionally a shared cache).
 *
 * Each person is an ordinary viewer (viewer.ts); what makes these hard is only that their requests
 * add up on one address. Parameters are drawn per actor from ranges (`draw*Params`) at plan time so
 * the label can state them; the streams draw everything else from the actor's own generator.
 */
import { BROWSER_UAS, MORE_DESKTOP_UAS, pickMobileUa } from './agents.ts';
import type { CatalogImage } from './catalog.ts';
import { type PersonStyle, bump, crowdSessions, crowdStream } from './crowd.ts';
import { diurnal, hourOfDay } from './diurnal.ts';
import type { Client, SimEvent } from './events.ts';
import type { Rng } from './rng.ts';
import { type Viewport, pickManagedViewport } from './viewer.ts';

const MIN = 60_000;
const H = 3_600_000;

const DESKTOP_UAS = [...BROWSER_UAS, ...MORE_DESKTOP_UAS].filter((u) => !/iPhone|iPad|Android|Mobile/.test(u));

/** Session length: log-normal around the median, 4–60 min. */
function sessionLength(rng: Rng, medianMs: number): number {
  return Math.min(60 * MIN, Math.max(4 * MIN, rng.logNormal(medianMs, 0.6)));
}
/** Mean of sessionLength (log-normal mean e^{σ²/2} ≈ 1.2 × median, clipping ignored). */
const meanLength = (medianMs: number): number => medianMs * Math.exp(0.18);

function pickStyle(rng: Rng, heavyShare: number, studyShare: number): PersonStyle {
  const u = rng.float();
  return u < studyShare ? 'study' : u < studyShare + heavyShare ? 'heavy' : 'casual';
}

/** A campus or office network: one address, a bump of concurrent sessions, mixed and managed machines. */
export interface NatCrowdParams {
  readonly ip: string;
  readonly start: number;
  /** Length of the busy window; sessions arrive along a raised cosine over it. */
  readonly windowMs: number;
  /** Sessions open at once at the top of the bump. */
  readonly peakConcurrent: number;
  readonly sessionMedianMs: number;
  /**
   * Images a casual session opens on average: an image stays on screen (people look, read, talk)
   * for about the session length / this many, with no requests.
   */
  readonly imagesPerSession: number;
  readonly heavyShare: number;
  readonly studyShare: number;
  /** Share of sessions on identical managed machines: `managedUas` (exact same strings), `managedViewport`. */
  readonly managedShare: number;
  readonly managedUas: readonly string[];
  readonly managedViewport: Viewport;
  /** Share of sessions from phones on the Wi-Fi. */
  readonly mobileShare: number;
  /** Referer of a link many sessions start from (course page, intranet), or '' for none. */
  readonly linkFrom: string;
}

/**
 * Draw a campus NAT (peak 20–200 concurrent; labs of identical machines; phones) or an
 * office NAT (peak 20–60; mostly one managed desktop build). The busy window lasts at least 2.5 mean
 * sessions (so the peak is reached) and otherwise keeps ~8–15 (campus) / ~6–12 (office) session-hours
 * open: bigger crowds are shorter-lived, which bounds the volume of a simulated day.
 */
export function drawNatCrowdParams(r: Rng, kind: 'campus' | 'office', ip: string, start: number, maxWindowMs: number): NatCrowdParams {
  const campus = kind === 'campus';
  // Campus: 20–200, skewed to smaller crowds (median ≈ 45).
  const peak = campus ? Math.round(20 * 10 ** r.float() ** 1.5) : r.int(20, 60);
  const sessionMedianMs = campus ? r.range(8, 14) * MIN : r.range(10, 16) * MIN;
  const sessionHours = campus ? r.range(8, 15) : r.range(6, 12);
  const windowMs = Math.min(maxWindowMs, Math.max(2.5 * meanLength(sessionMedianMs), Math.min(3 * H, (2 * sessionHours * H) / peak)));
  const managedUas = r.sample(DESKTOP_UAS, r.int(1, 2));
  const managedViewport = pickManagedViewport(r);
  return {
    ip,
    start,
    windowMs,
    peakConcurrent: peak,
    sessionMedianMs,
    imagesPerSession: campus ? r.range(1.2, 2.5) : r.range(1, 2),
    heavyShare: campus ? r.range(0.04, 0.1) : r.range(0.03, 0.08),
    studyShare: campus ? r.range(0.02, 0.05) : r.range(0.01, 0.03),
    managedShare: campus ? r.range(0.2, 0.5) : r.range(0.5, 0.9),
    managedUas,
    managedViewport,
    mobileShare: campus ? r.range(0.15, 0.35) : r.range(0, 0.1),
    linkFrom: campus && r.chance(0.6) ? `https://moodle.example-university.edu/course/view.php?id=${r.int(1000, 9999)}` : '',
  };
}

/** Many people's viewer sessions, interleaved, from one IPv4. */
export function natCrowdActor(rng: Rng, p: NatCrowdParams, images: readonly CatalogImage[]): Generator<SimEvent, void, undefined> {
  // Sessions open at the top of the bump ≈ rate × mean open span × 0.88 (the bump's mean over one
  // span at its top). A session opens no image after its planned length and ends at its last view,
  // about half an inter-image gap earlier: span ≈ length × (1 − 1 / (2 × images per session)).
  const span = meanLength(p.sessionMedianMs) * (1 - 1 / (2 * p.imagesPerSession));
  const perMin = (p.peakConcurrent / (0.88 * span)) * MIN;
  const own = rng.sample(DESKTOP_UAS, rng.int(4, DESKTOP_UAS.length));
  const sessions = crowdSessions(rng, {
    start: p.start,
    end: p.start + p.windowMs,
    rate: (t) => perMin * bump((t - p.start) / p.windowMs),
    client: (r): Client => {
      const u = r.float();
      const ua = u < p.managedShare ? r.pick(p.managedUas) : u < p.managedShare + p.mobileShare ? pickMobileUa(r) : r.pick(own);
      return { ip: p.ip, ua, proto: 'HTTP/2.0' };
    },
    style: (r) => pickStyle(r, p.heavyShare, p.studyShare),
    person: (r, cl) => {
      const durationMs = sessionLength(r, p.sessionMedianMs);
      return {
        durationMs,
        idleMedianMs: durationMs / p.imagesPerSession,
        ...(p.managedUas.includes(cl.ua) ? { viewport: p.managedViewport } : {}),
        ...(p.linkFrom !== '' && r.chance(0.5) ? { linkFrom: p.linkFrom } : {}),
      };
    },
    images,
  });
  return crowdStream(sessions);
}

/** A carrier-grade NAT pool: the carrier's customers who visit the museum, on a few shared IPv4s. */
export interface CgnatParams {
  readonly ips: readonly string[];
  readonly start: number;
  readonly end: number;
  /** Visitors over [start, end), spread by the diurnal curve. */
  readonly users: number;
}

/**
 * Phone sessions over a carrier's pool: each session keeps one pool address (paired pooling), mobile
 * UAs (most Android Chrome users send the same reduced string), short sessions, a few heavy ones.
 */
export function cgnatActor(rng: Rng, p: CgnatParams, images: readonly CatalogImage[]): Generator<SimEvent, void, undefined> {
  let norm = 0;
  for (let t = p.start; t < p.end; t += MIN) norm += diurnal(hourOfDay(t)) * (Math.min(MIN, p.end - t) / MIN);
  const k = norm > 0 ? p.users / norm : 0;
  const sessions = crowdSessions(rng, {
    start: p.start,
    end: p.end,
    rate: (t) => k * diurnal(hourOfDay(t)),
    client: (r): Client => ({ ip: r.pick(p.ips), ua: pickMobileUa(r), proto: 'HTTP/2.0' }),
    style: (r) => pickStyle(r, 0.08, 0.02),
    person: (r) => ({ durationMs: sessionLength(r, 8 * MIN), idleMedianMs: 40_000, maxImages: Math.min(6, r.count(1, 2.4)) }),
    images,
  });
  return crowdStream(sessions);
}

/** A company's forward proxy: every employee behind one egress address. */
export interface ProxyParams {
  readonly ip: string;
  readonly start: number;
  /** Working day length; sessions arrive over it. */
  readonly windowMs: number;
  readonly employees: number;
  /** Sessions per employee over the day (mean). */
  readonly sessionsPerEmployee: number;
  /** One managed browser family: its builds, newest (most common) first. */
  readonly uas: readonly string[];
  /** Shared cache lifetime (ms) of cacheable responses, or 0 for a proxy that does not cache. */
  readonly cacheTtlMs: number;
}

/**
 * Employees' viewer sessions through a corporate proxy. The proxy speaks HTTP/1.1 to the origin and
 * adds X-Forwarded-For, which the server does not trust: the log shows the egress address only. A
 * caching proxy answers repeats of tiles, descriptors and assets itself while fresh, so the origin
 * sees each such URL about once per cache lifetime whoever asked for it.
 */
export function corporateProxyActor(rng: Rng, p: ProxyParams, images: readonly CatalogImage[]): Generator<SimEvent, void, undefined> {
  const perMin = (p.employees * p.sessionsPerEmployee) / (p.windowMs / MIN) / 0.637;
  const sessions = crowdSessions(rng, {
    start: p.start,
    end: p.start + p.windowMs,
    // A flat-topped working day (√bump integrates to ≈ 0.637 of the window).
    rate: (t) => perMin * Math.sqrt(bump((t - p.start) / p.windowMs)),
    client: (r): Client => ({ ip: p.ip, ua: r.chance(0.8) ? (p.uas[0] ?? '') : r.pick(p.uas), proto: 'HTTP/1.1' }),
    style: (r) => pickStyle(r, 0.09, 0.03),
    person: (r) => ({ durationMs: sessionLength(r, 12 * MIN), idleMedianMs: 3 * MIN, maxImages: Math.min(8, r.count(1, 3)) }),
    images,
  });
  const merged = crowdStream(sessions);
  return p.cacheTtlMs > 0 ? sharedCache(merged, p.cacheTtlMs) : merged;
}

/** Pages and searches are private (not cached); tiles, descriptors and static assets are. */
const cacheable = (ev: SimEvent): boolean => (ev.status === 200 || ev.status === 304) && !ev.path.startsWith('/collection/');

/** A shared HTTP cache in front of the origin: drops requests it can answer from a fresh entry. */
export function* sharedCache(src: Iterator<SimEvent, unknown, undefined>, ttlMs: number): Generator<SimEvent, void, undefined> {
  const freshUntil = new Map<string, number>();
  for (let r = src.next(); !r.done; r = src.next()) {
    const ev = r.value;
    if (cacheable(ev)) {
      const until = freshUntil.get(ev.path);
      if (until !== undefined && ev.t < until) continue;
      freshUntil.set(ev.path, ev.t + ttlMs);
    }
    yield ev;
  }
}

/**
 * Plans the hard benign classes (labels.ts HARD_BENIGN_KINDS): crowds behind shared addresses, people
 * who study or browse far more than a visitor, and phones that change address.
 *
 * Planned after every other actor and drawing from their own named streams
 * (`derive(seed, 'hard-benign', kind, i)`), so they change nothing another actor does; only the address
 * allocator is shared, and it hands these actors addresses nobody else holds.
 */
import { BROWSER_UAS, CORPORATE_UA_FAMILIES, type IpAllocator, MORE_DESKTOP_UAS, pickMobileUa } from './agents.ts';
import type { CatalogImage } from './catalog.ts';
import { classroomActor, classroomStart, drawClassroomParams } from './classroom.ts';
import { deepResearcherActor, drawDeepResearchParams } from './deepResearcher.ts';
import { hourOfDay } from './diurnal.ts';
import { drawEnthusiastParams, enthusiastActor } from './enthusiast.ts';
import type { Client, EventStream } from './events.ts';
import type { HardBenignKind } from './labels.ts';
import { drawMobileRotatingParams, mobileRotatingActor } from './mobileRotating.ts';
import { type Rng, derive } from './rng.ts';
import { cgnatActor, corporateProxyActor, drawNatCrowdParams, natCrowdActor } from './sharedAddress.ts';

const MIN = 60_000;
const H = 3_600_000;
const DAY = 24 * H;

/** Actors per kind per 24 h at scale 1 (each kind still gets one in shorter runs unless set to 0). */
export const DEFAULT_HARD_BENIGN: Readonly<Record<HardBenignKind, number>> = {
  'campus-nat': 1,
  'office-nat': 1,
  'classroom-nat': 1,
  cgnat: 1,
  'corporate-proxy': 1,
  'deep-researcher': 2,
  enthusiast: 1,
  'mobile-rotating': 4,
};

export interface HardBenignContext {
  readonly seed: string | number;
  /** Multiplies the number of actors (CGNAT: the visitors in its pool). */
  readonly scale: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly catalog: readonly CatalogImage[];
  readonly ipr: IpAllocator;
  readonly counts: Readonly<Record<HardBenignKind, number>>;
  /** Registers an actor; `make` receives the actor's own generator (derived from its name). */
  readonly add: (kind: HardBenignKind, start: number, make: (rng: Rng) => EventStream, note: string) => void;
}

const DESKTOP_UAS = [...BROWSER_UAS, ...MORE_DESKTOP_UAS].filter((u) => !/iPhone|iPad|Android|Mobile/.test(u));
const pct = (x: number): string => `${Math.round(100 * x)} %`;
const hours = (ms: number): string => `${(ms / H).toFixed(1)} h`;

export function planHardBenign(ctx: HardBenignContext): void {
  const { seed, scale, startMs, endMs, catalog, ipr } = ctx;
  const P = endMs - startMs;
  const frac = P / DAY;
  const howMany = (kind: HardBenignKind, scaled = true): number => {
    const c = ctx.counts[kind];
    return c <= 0 ? 0 : Math.max(1, Math.round(c * (scaled ? scale : 1) * frac));
  };
  /** A start for a window of `dur` inside the period, in [fromH, toH) UTC hours when the period allows. */
  const place = (r: Rng, dur: number, fromH: number, toH: number): number => {
    const d = Math.min(dur, P);
    let t = startMs + r.range(0, P - d);
    for (let i = 0; i < 40; i++) {
      const h = hourOfDay(t);
      if (h >= fromH && h + d / H <= toH) break;
      t = startMs + r.range(0, P - d);
    }
    return Math.round(t);
  };

  for (const kind of ['campus-nat', 'office-nat'] as const) {
    for (let i = 0; i < howMany(kind); i++) {
      const r = derive(seed, 'hard-benign', kind, i);
      const campus = kind === 'campus-nat';
      const drawn = drawNatCrowdParams(r, campus ? 'campus' : 'office', ipr.publicV4(), startMs, P);
      const p = { ...drawn, start: place(r, drawn.windowMs, 8, campus ? 20 : 18) };
      const note =
        `${campus ? 'campus' : 'office'} NAT: peak ≈ ${p.peakConcurrent} concurrent sessions over ${hours(p.windowMs)}; ` +
        `managed machines ${pct(p.managedShare)} on ${p.managedUas.length} UA string(s); phones ${pct(p.mobileShare)}; ` +
        `heavy ${pct(p.heavyShare)}, studying ${pct(p.studyShare)}`;
      ctx.add(kind, p.start, (rng) => natCrowdActor(rng, p, catalog), note);
    }
  }

  for (let i = 0; i < howMany('classroom-nat'); i++) {
    const r = derive(seed, 'hard-benign', 'classroom-nat', i);
    const ip = ipr.publicV4();
    const start = place(r, H, 8, 15);
    const bg = { from: Math.max(startMs, start - 4 * H), to: Math.min(endMs, start + 4 * H) };
    const p = drawClassroomParams(r, ip, start, catalog, bg);
    const note =
      `classroom: ${p.students} pupils + teacher, ${p.lesson.length} images shown detail by detail; ` +
      `room machines on ${p.roomUas.length} UA string(s), own devices ${pct(p.byodShare)}; ${p.background} background sessions`;
    ctx.add('classroom-nat', classroomStart(p), (rng) => classroomActor(rng, p, catalog), note);
  }

  for (let i = 0; i < howMany('cgnat', false); i++) {
    const r = derive(seed, 'hard-benign', 'cgnat', i);
    const prefix = ipr.freshSlash24();
    const ips = ipr.inSlash24(prefix, r.int(2, 4));
    const users = Math.max(12, Math.round(r.range(40, 100) * scale * Math.min(1, frac)));
    const p = { ips, start: startMs, end: endMs, users };
    ctx.add('cgnat', startMs, (rng) => cgnatActor(rng, p, catalog), `carrier-grade NAT pool ${prefix}.0/24: ${ips.length} addresses, ~${users} phone visitors`);
  }

  for (let i = 0; i < howMany('corporate-proxy'); i++) {
    const r = derive(seed, 'hard-benign', 'corporate-proxy', i);
    const windowMs = r.range(7, 9.5) * H;
    const p = {
      ip: ipr.publicV4(),
      start: place(r, windowMs, 7, 19),
      windowMs: Math.min(windowMs, P),
      employees: r.int(10, 30),
      sessionsPerEmployee: r.range(1, 1.8),
      uas: r.pick(CORPORATE_UA_FAMILIES),
      cacheTtlMs: r.chance(0.5) ? r.range(1, 12) * H : 0,
    };
    const note =
      `corporate proxy: ${p.employees} employees, one browser family (${p.uas.length} builds), HTTP/1.1, X-Forwarded-For not trusted; ` +
      (p.cacheTtlMs > 0 ? `shared cache ${hours(p.cacheTtlMs)}` : 'no cache');
    ctx.add('corporate-proxy', p.start, (rng) => corporateProxyActor(rng, p, catalog), note);
  }

  for (let i = 0; i < howMany('deep-researcher'); i++) {
    const r = derive(seed, 'hard-benign', 'deep-researcher', i);
    const p = drawDeepResearchParams(r, catalog);
    const start = place(r, p.durationMs, 6, 23);
    const cl: Client = { ip: ipr.client(0.2), ua: r.pick(DESKTOP_UAS), proto: 'HTTP/2.0' };
    const note = `${p.pattern} sweeps at ${Math.round(100 * p.zoomFrac)} % of max zoom, overlap ${pct(p.overlap)}, think ~${Math.round(p.thinkMedianMs / 1000)} s, ${hours(p.durationMs)}`;
    ctx.add('deep-researcher', start, (rng) => deepResearcherActor(rng, cl, start, p), note);
  }

  for (let i = 0; i < howMany('enthusiast'); i++) {
    const r = derive(seed, 'hard-benign', 'enthusiast', i);
    const p = drawEnthusiastParams(r, catalog);
    const start = place(r, 2 * H, 7, 24);
    const cl: Client = { ip: ipr.client(0.2), ua: r.pick(BROWSER_UAS), proto: 'HTTP/2.0' };
    ctx.add('enthusiast', start, (rng) => enthusiastActor(rng, cl, start, p), `${p.images.length} images in one sitting`);
  }

  const nMobile = howMany('mobile-rotating');
  if (nMobile > 0) {
    const cr = derive(seed, 'hard-benign', 'carriers');
    const carriers = Array.from({ length: cr.int(1, 3) }, () => ipr.freshSlash16());
    for (let i = 0; i < nMobile; i++) {
      const r = derive(seed, 'hard-benign', 'mobile-rotating', i);
      const ua = pickMobileUa(r);
      const v6 = r.chance(0.3);
      const carrier = r.pick(carriers);
      const prefix64 = v6 ? ipr.v6Slash64() : '';
      const p = v6
        ? drawMobileRotatingParams(r, ua, `${prefix64}::/64`, () => ipr.inV6Slash64(prefix64))
        : drawMobileRotatingParams(r, ua, `${carrier}.0.0/16`, () => ipr.inSlash16(carrier));
      const start = place(r, p.durationMs, 6, 24);
      const note = `one phone, new address every ${(p.rotateMinMs / MIN).toFixed(1)}–${(p.rotateMaxMs / MIN).toFixed(1)} min within ${p.network}`;
      ctx.add('mobile-rotating', start, (rng) => mobileRotatingActor(rng, p, start, catalog), note);
    }
  }
}

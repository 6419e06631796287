/**
 * Crowds: many people's browsing sessions sent from shared addresses (NAT, proxy, carrier pool).
 *
 * A crowd is a list of sessions (start time + lazily created stream) merged in time order; every
 * event carries its session index so labels and tests know how many people were behind an address.
 * Session arrivals follow a time-varying Poisson process; with sessions of mean length D, an arrival
 * rate of C/D per ms keeps about C sessions open at once.
 */
import type { CatalogImage } from './catalog.ts';
import type { Client, EventStream, SimEvent } from './events.ts';
import { mergeSources, type Source } from './merge.ts';
import { Rng } from './rng.ts';
import { type SessionProfile, type Viewport, casualThink, researcherPolicy, viewerSession } from './viewer.ts';
import { pickPopular } from './benign.ts';

const MIN = 60_000;

/** Merge sessions in time order, tagging each event with its session's index in `sessions`. */
export function crowdStream(sessions: readonly Source[]): Generator<SimEvent, void, undefined> {
  const tagged: Source[] = sessions.map((s, i) => ({
    start: s.start,
    make: () => {
      const it = s.make();
      return {
        next: () => {
          const r = it.next();
          if (!r.done) r.value.session = i;
          return r;
        },
      };
    },
  }));
  return mergeSources(tagged);
}

/**
 * Arrival times in [start, end) of a Poisson process with `rate(t)` expected arrivals per minute,
 * drawn minute by minute (rate is read once per minute).
 */
export function arrivals(rng: Rng, start: number, end: number, rate: (t: number) => number): number[] {
  const out: number[] = [];
  for (let m = start; m < end; m += MIN) {
    const len = Math.min(MIN, end - m);
    const n = rng.poisson((rate(m + len / 2) * len) / MIN);
    const ts: number[] = [];
    for (let i = 0; i < n; i++) ts.push(m + rng.range(0, len));
    ts.sort((a, b) => a - b);
    out.push(...ts);
  }
  return out;
}

/** A raised-cosine bump over [0, 1]: 0 at both ends, 1 in the middle (integral ½). */
export const bump = (u: number): number => (u <= 0 || u >= 1 ? 0 : (1 - Math.cos(2 * Math.PI * u)) / 2);

/** How one person in a crowd browses. */
export type PersonStyle = 'casual' | 'heavy' | 'study';

export interface PersonOptions {
  /** Planned session length (ms): no new image is opened after it. */
  readonly durationMs: number;
  /** Median idle time between images (reading the page, other work), ms. */
  readonly idleMedianMs: number;
  /** Identical managed machine: fixed viewport. */
  readonly viewport?: Viewport;
  /** Referer of a link the session starts from (course page, intranet); otherwise search/Google/direct. */
  readonly linkFrom?: string;
  /** At most this many images (casual and heavy); default as many as the duration allows. */
  readonly maxImages?: number;
}

/**
 * One person's session in a crowd, built on the viewer model.
 * - casual: popular images, zoom/pan steps as an ordinary visitor (humanActor: 6 on average), idle
 *   in between;
 * - heavy: more images, 3–40 zoom/pan steps each (12 on average), a third of the idle;
 * - study: one image, researcher-like deep zoom into a few regions for the whole session.
 */
export function personSession(
  rng: Rng,
  cl: Client,
  start: number,
  images: readonly CatalogImage[],
  style: PersonStyle,
  o: PersonOptions,
): Generator<SimEvent, void, undefined> {
  const still = images.filter((i) => i.protocol !== 'xyz');
  const base: Pick<SessionProfile, 'viewport' | 'entry' | 'linkFrom'> = {
    ...(o.viewport ? { viewport: o.viewport } : {}),
    ...(o.linkFrom !== undefined ? { entry: 'link' as const, linkFrom: o.linkFrom } : {}),
  };
  const idle = (median: number) => (r: Rng): number => Math.min(30 * MIN, Math.max(15_000, r.logNormal(median, 0.6)));
  if (style === 'study' && still.length > 0) {
    const img = rng.pick(still);
    return viewerSession(rng, cl, start, [img], {
      ...base,
      returning: rng.chance(0.5),
      steps: () => Math.max(10, Math.round(o.durationMs / 14_000)),
      think: (r) => Math.min(90_000, Math.max(2000, r.logNormal(11_000, 0.7))),
      next: researcherPolicy(rng, img),
    });
  }
  const heavy = style === 'heavy';
  return viewerSession(rng, cl, start, pickPopular(rng, images, o.maxImages ?? (heavy ? 80 : 40)), {
    ...base,
    returning: rng.chance(0.4),
    steps: heavy ? (r) => Math.min(40, r.count(3, 12)) : (r) => Math.min(30, r.count(1, 6)),
    think: casualThink,
    pause: idle(heavy ? o.idleMedianMs / 3 : o.idleMedianMs),
    stopAfter: start + o.durationMs,
  });
}

/** Everything that makes one crowd: who is in it, where they send from, and how they browse. */
export interface CrowdSpec {
  readonly start: number;
  readonly end: number;
  /** Expected session arrivals per minute at time t. */
  readonly rate: (t: number) => number;
  /** The client (address, UA, protocol) of a new session. */
  readonly client: (rng: Rng, t: number) => Client;
  /** Style of a new session. */
  readonly style: (rng: Rng) => PersonStyle;
  readonly person: (rng: Rng, cl: Client) => PersonOptions;
  readonly images: readonly CatalogImage[];
}

/** The sessions of a crowd (lazy: each session's stream is built when the merge reaches it). */
export function crowdSessions(rng: Rng, spec: CrowdSpec): Source[] {
  return arrivals(rng, spec.start, spec.end, spec.rate).map((t) => {
    const cl = spec.client(rng, t);
    const style = spec.style(rng);
    const po = spec.person(rng, cl);
    const seed = rng.next();
    return { start: Math.round(t), make: (): EventStream => personSession(new Rng(seed), cl, Math.round(t), spec.images, style, po) };
  });
}

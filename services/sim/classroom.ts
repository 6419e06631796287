/**
 * A lesson in a school computer room behind the school's NAT: a teacher posts links to a few images
 * on the course page and walks the class through the same details of each; ~30 students on identical
 * machines (one UA string, one viewport) open the same image within seconds of each other and zoom
 * into the same places, then look around a little on their own. A few pupils on other devices, a few
 * late ones, and some background browsing from the rest of the school on the same address.
 */
import { BROWSER_UAS, MORE_DESKTOP_UAS } from './agents.ts';
import { type CatalogImage } from './catalog.ts';
import { crowdStream, personSession } from './crowd.ts';
import { type Client, type Clock, type SimEvent } from './events.ts';
import type { Source } from './merge.ts';
import { Rng } from './rng.ts';
import {
  type View,
  type Viewport,
  ViewerState,
  interestPoint,
  nextHumanView,
  openItem,
  pickManagedViewport,
  pickViewport,
  tileBurst,
} from './viewer.ts';

const MIN = 60_000;

/** One detail the teacher shows: where, how deep (× home zoom), and when (ms after the image opens). */
export interface Detail {
  readonly x: number;
  readonly y: number;
  readonly depth: number;
  readonly at: number;
}

export interface LessonImage {
  readonly img: CatalogImage;
  /** When the teacher says "open the next image" (epoch ms). */
  readonly openAt: number;
  readonly details: readonly Detail[];
}

export interface ClassroomParams {
  readonly ip: string;
  readonly start: number;
  readonly students: number;
  /** The room's machines: identical build(s) → the exact same UA string for many students. */
  readonly roomUas: readonly string[];
  readonly roomViewport: Viewport;
  readonly teacherUa: string;
  /** Share of students on their own laptop or tablet. */
  readonly byodShare: number;
  /** Course page the links are posted on (the Referer of every first page load). */
  readonly coursePage: string;
  readonly lesson: readonly LessonImage[];
  /** Background sessions from the rest of the school, starting in [backgroundFrom, backgroundTo). */
  readonly background: number;
  readonly backgroundFrom: number;
  readonly backgroundTo: number;
}

const DESKTOP_UAS = [...BROWSER_UAS, ...MORE_DESKTOP_UAS].filter((u) => !/iPhone|iPad|Android|Mobile/.test(u));

/**
 * Draw a lesson starting at `start`: 25–35 students, 2–3 images the teacher picks (large, with
 * details), 2–3 details each; background sessions from the school somewhere in [from, to).
 */
export function drawClassroomParams(
  r: Rng,
  ip: string,
  start: number,
  images: readonly CatalogImage[],
  background: { readonly from: number; readonly to: number },
): ClassroomParams {
  const still = images.filter((i) => i.protocol !== 'xyz');
  const big = still.filter((i) => Math.max(i.width, i.height) >= 6000);
  const pool = big.length >= 6 ? big : still;
  const roomUas = r.sample(DESKTOP_UAS, r.chance(0.7) ? 1 : 2);
  const lesson: LessonImage[] = [];
  let t = start + r.range(1, 4) * MIN;
  for (const img of r.sample(pool, r.int(2, 3))) {
    const details: Detail[] = [];
    let at = r.range(40_000, 90_000);
    for (let j = 0, n = r.int(2, 3); j < n; j++) {
      const p = interestPoint(r, img);
      details.push({ x: p.x, y: p.y, depth: 2 ** r.range(2, 5), at });
      at += r.range(1.5, 4) * MIN;
    }
    lesson.push({ img, openAt: t, details });
    t += at + r.range(1, 5) * MIN;
  }
  return {
    ip,
    start,
    students: r.int(25, 35),
    roomUas,
    roomViewport: pickManagedViewport(r),
    teacherUa: r.pick(DESKTOP_UAS),
    byodShare: r.range(0, 0.2),
    coursePage: `https://learn.example-school.org/course/art-history-${r.int(1, 12)}/lesson-${r.int(1, 30)}`,
    lesson,
    background: r.int(2, 6),
    backgroundFrom: background.from,
    backgroundTo: Math.max(background.from, background.to),
  };
}

/** First request time bound (epoch ms): the earlier of the lesson and the background window. */
export const classroomStart = (p: ClassroomParams): number => Math.min(p.start, p.backgroundFrom);

/** End of the lesson (epoch ms): the last image's last detail plus a few minutes. */
export function lessonEnd(p: ClassroomParams): number {
  const last = p.lesson[p.lesson.length - 1];
  if (!last) return p.start;
  const d = last.details[last.details.length - 1];
  return last.openAt + (d?.at ?? 0) + 5 * MIN;
}

/**
 * One pupil (or the teacher, lag 0): follows the lesson, reacting after a personal lag, zooming in a
 * few steps to each detail the teacher shows, and sometimes wandering around it.
 */
function* pupil(rng: Rng, cl: Client, vp: Viewport, p: ClassroomParams, teacher: boolean): Generator<SimEvent, void, undefined> {
  const lag = (): number => (teacher ? rng.range(500, 3000) : Math.min(4 * MIN, Math.max(2000, rng.logNormal(12_000, 0.8))));
  const late = !teacher && rng.chance(0.1) ? rng.range(1, 6) * MIN : 0;
  const first = p.lesson[0];
  const clock: Clock = { t: (first?.openAt ?? p.start) + late + lag() };
  const wander = teacher ? 0 : rng.range(0, 0.25);
  let isFirst = true;
  for (const li of p.lesson) {
    clock.t = Math.max(clock.t, li.openAt + lag());
    const page = yield* openItem(rng, cl, clock, li.img, p.coursePage, isFirst, false);
    isFirst = false;
    const st = new ViewerState(li.img, vp);
    let view: View = st.home();
    yield* tileBurst(rng, cl, clock, li.img, st.load(view), page);
    for (const d of li.details) {
      const due = li.openAt + d.at + lag();
      // Waiting for the teacher: some look around on their own meanwhile.
      while (clock.t + 8000 < due && rng.chance(wander)) {
        clock.t += rng.range(3000, 15_000);
        view = nextHumanView(rng, st, view);
        yield* tileBurst(rng, cl, clock, li.img, st.load(view), page);
      }
      clock.t = Math.max(clock.t, due);
      // Zoom to the detail in a few clicks/scrolls, about the same point (each hand is a bit off).
      const target = st.clamp({
        cx: d.x + rng.normal(0, 40 / (st.homeZoom * d.depth)),
        cy: d.y + rng.normal(0, 40 / (st.homeZoom * d.depth)),
        zoom: st.homeZoom * d.depth * rng.range(0.8, 1.25),
      });
      const steps = rng.int(1, 3);
      const z0 = view.zoom;
      for (let s = 1; s <= steps; s++) {
        const f = s / steps;
        view = st.clamp({
          zoom: z0 * (target.zoom / z0) ** f,
          cx: view.cx + (target.cx - view.cx) * f,
          cy: view.cy + (target.cy - view.cy) * f,
        });
        yield* tileBurst(rng, cl, clock, li.img, st.load(view), page);
        clock.t += rng.range(400, 2500);
      }
      // Look around the detail while the teacher talks.
      for (let s = 0, n = teacher ? 1 : rng.int(0, 1); s < n; s++) {
        clock.t += rng.range(4000, 20_000);
        view = nextHumanView(rng, st, view);
        yield* tileBurst(rng, cl, clock, li.img, st.load(view), page);
      }
      if (rng.chance(0.5)) {
        clock.t += rng.range(2000, 8000);
        view = st.home();
        yield* tileBurst(rng, cl, clock, li.img, st.load(view), page);
      }
    }
  }
}

/** The lesson (teacher + students) merged with the school's background browsing on one address. */
export function classroomActor(rng: Rng, p: ClassroomParams, images: readonly CatalogImage[]): Generator<SimEvent, void, undefined> {
  const sources: Source[] = [];
  const t0 = p.lesson[0]?.openAt ?? p.start;
  const teacherSeed = rng.next();
  const teacherCl: Client = { ip: p.ip, ua: p.teacherUa, proto: 'HTTP/2.0' };
  const teacherVp = pickViewport(rng, p.teacherUa);
  sources.push({ start: t0, make: () => pupil(new Rng(teacherSeed), teacherCl, teacherVp, p, true) });
  for (let i = 0; i < p.students; i++) {
    const byod = rng.chance(p.byodShare);
    const ua = byod ? rng.pick(BROWSER_UAS) : rng.pick(p.roomUas);
    const vp = byod ? pickViewport(rng, ua) : p.roomViewport;
    const cl: Client = { ip: p.ip, ua, proto: 'HTTP/2.0' };
    const seed = rng.next();
    sources.push({ start: t0, make: () => pupil(new Rng(seed), cl, vp, p, false) });
  }
  // The rest of the school: a few ordinary sessions over the day around the lesson.
  for (let i = 0; i < p.background; i++) {
    const s = Math.round(rng.range(p.backgroundFrom, p.backgroundTo));
    const cl: Client = { ip: p.ip, ua: rng.chance(0.5) ? rng.pick(p.roomUas) : rng.pick(BROWSER_UAS), proto: 'HTTP/2.0' };
    const seed = rng.next();
    const durationMs = rng.range(5, 15) * MIN;
    sources.push({ start: s, make: () => personSession(new Rng(seed), cl, s, images, 'casual', { durationMs, idleMedianMs: 2 * MIN }) });
  }
  sources.sort((a, b) => a.start - b.start);
  return crowdStream(sources);
}

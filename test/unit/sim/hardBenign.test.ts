import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CORPORATE_UA_FAMILIES, IpAllocator, MOBILE_UAS } from '../../../services/sim/agents.ts';
import { type CatalogImage, buildCatalog, cols, pageUrl, rows, tileUrl } from '../../../services/sim/catalog.ts';
import { classroomActor, drawClassroomParams } from '../../../services/sim/classroom.ts';
import { deepResearcherActor, drawDeepResearchParams, sweepPositions } from '../../../services/sim/deepResearcher.ts';
import { drawEnthusiastParams, enthusiastActor } from '../../../services/sim/enthusiast.ts';
import type { SimEvent } from '../../../services/sim/events.ts';
import { HARD_BENIGN_KINDS, type HardBenignKind } from '../../../services/sim/labels.ts';
import { drawMobileRotatingParams, mobileRotatingActor } from '../../../services/sim/mobileRotating.ts';
import { Rng, derive } from '../../../services/sim/rng.ts';
import { cgnatActor, corporateProxyActor, drawNatCrowdParams, natCrowdActor } from '../../../services/sim/sharedAddress.ts';
import { createSimulation } from '../../../services/sim/simulate.ts';
import { ViewerState } from '../../../services/sim/viewer.ts';
import { byIp, descriptorOf, smallRun, tileLevel } from './helpers.ts';

const T0 = Date.parse('2026-03-02T09:00:00Z');
const MIN = 60_000;
const H = 3_600_000;
const CATALOG = buildCatalog({ seed: 'hard-benign-tests', images: 120 });
const MOBILE = /iPhone|iPad|Android|Mobile/;

function bySession(evs: readonly SimEvent[]): Map<number, SimEvent[]> {
  const m = new Map<number, SimEvent[]>();
  for (const e of evs) {
    assert.notEqual(e.session, undefined, `untagged event ${e.path}`);
    const s = e.session as number;
    let a = m.get(s);
    if (!a) m.set(s, (a = []));
    a.push(e);
  }
  return m;
}

/** Most sessions open (first to last request) at one instant. */
function peakConcurrent(sessions: Map<number, SimEvent[]>): number {
  const pts: [number, number][] = [];
  for (const evs of sessions.values()) pts.push([(evs[0] as SimEvent).t, 1], [(evs[evs.length - 1] as SimEvent).t, -1]);
  pts.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let open = 0;
  let peak = 0;
  for (const [, d] of pts) {
    open += d;
    peak = Math.max(peak, open);
  }
  return peak;
}

function assertTimeOrder(evs: readonly SimEvent[]): void {
  for (let i = 1; i < evs.length; i++) assert.ok((evs[i] as SimEvent).t >= (evs[i - 1] as SimEvent).t, `event ${i} goes back in time`);
}

/** Each image's descriptor comes before its tiles, and every tile's Referer is that image's item page. */
function assertViewerLike(evs: readonly SimEvent[], what: string): number {
  const seen = new Set<string>();
  let tiles = 0;
  for (const e of evs) {
    const d = descriptorOf(e.path);
    if (d) seen.add(d);
    const tl = tileLevel(e.path, CATALOG);
    if (!tl) continue;
    tiles++;
    const img = CATALOG.find((i) => i.id === tl.id) as CatalogImage;
    if (img.protocol !== 'xyz') assert.ok(seen.has(tl.id), `${what}: tile before descriptor: ${e.path}`);
    assert.equal(e.referer, pageUrl(img), `${what}: tile Referer`);
  }
  return tiles;
}

test('every hard benign class is in the labels with its own class name', () => {
  const run = smallRun();
  const ipLines = byIp(run.lines);
  for (const kind of HARD_BENIGN_KINDS) {
    const ls = run.labels.filter((l) => l.kind === kind);
    assert.ok(ls.length > 0, `no ${kind}`);
    for (const l of ls) {
      assert.equal(l.class, 'benign');
      assert.equal(l.perIpDetectable, false);
      assert.match(l.actor, new RegExp(`^${kind}-\\d{5}$`));
      assert.ok((l.note ?? '').length > 0, `${l.actor} has a note`);
      for (const ip of l.ips) assert.ok(ipLines.has(ip));
    }
  }
  const crowds: readonly HardBenignKind[] = ['campus-nat', 'office-nat', 'classroom-nat', 'cgnat', 'corporate-proxy'];
  for (const l of run.labels.filter((x) => (crowds as readonly string[]).includes(x.kind))) {
    assert.ok((l.sessions ?? 0) >= 5, `${l.actor}: ${l.sessions} sessions`);
    assert.ok(l.ips.length <= 6, `${l.actor}: a few shared addresses`);
  }
  const campus = run.labels.find((l) => l.kind === 'campus-nat');
  assert.ok(campus && campus.ips.length === 1 && (campus.userAgents?.length ?? 0) >= 3, 'campus: one IP, several UAs');
  assert.ok(run.labels.some((l) => l.kind === 'mobile-rotating' && l.ips.length >= 3), 'a phone on ≥ 3 addresses');
});

test('campus and office NAT: ≥ 20 concurrent viewer sessions on one IPv4, shared UA strings, heavy viewers', () => {
  for (const kind of ['campus', 'office'] as const) {
    for (const seed of [1, 2]) {
      const drawn = drawNatCrowdParams(derive('nat', kind, seed), kind, '198.51.100.7', T0, 8 * H);
      const p = { ...drawn, peakConcurrent: 30 };
      const evs = [...natCrowdActor(new Rng(`${kind}-${seed}`), p, CATALOG)];
      assertTimeOrder(evs);
      assert.ok(evs.every((e) => e.ip === p.ip));
      const sessions = bySession(evs);
      const peak = peakConcurrent(sessions);
      assert.ok(peak >= 20, `${kind} ${seed}: peak ${peak} concurrent sessions`);
      const perUa = new Map<string, number>();
      const tileCounts: number[] = [];
      for (const [s, se] of sessions) {
        tileCounts.push(assertViewerLike(se, `${kind} session ${s}`));
        assert.ok(se.some((e) => /^\/collection\/item\/|^\/maps\//.test(e.path)), 'page loads');
        assert.equal(new Set(se.map((e) => e.ua)).size, 1, 'one browser per session');
        perUa.set((se[0] as SimEvent).ua, (perUa.get((se[0] as SimEvent).ua) ?? 0) + 1);
      }
      assert.ok(perUa.size >= 3, `${kind}: ${perUa.size} UAs`);
      assert.ok(Math.max(...perUa.values()) >= 5, `${kind}: identical machines share one UA string`);
      tileCounts.sort((a, b) => a - b);
      const median = tileCounts[tileCounts.length >> 1] as number;
      assert.ok((tileCounts[tileCounts.length - 1] as number) >= 3 * Math.max(1, median), `${kind}: heavy viewers (${median} vs max ${tileCounts.at(-1)})`);
    }
  }
});

test('classroom: ~30 pupils open the same image together and zoom into the same details', () => {
  const p = drawClassroomParams(derive('class', 1), '198.51.100.20', T0, CATALOG, { from: T0 - 2 * H, to: T0 + 2 * H });
  assert.ok(p.students >= 25 && p.students <= 35);
  const evs = [...classroomActor(new Rng('class-1'), p, CATALOG)];
  assertTimeOrder(evs);
  const sessions = bySession(evs);
  for (const [s, se] of sessions) assertViewerLike(se, `classroom session ${s}`);
  const first = p.lesson[0];
  assert.ok(first);
  // Pupils (and the teacher) who load the first image's page within 2 minutes of the teacher's word.
  const page = `/collection/item/${first.img.item}`;
  const openers = new Set(evs.filter((e) => e.path === page && e.t >= first.openAt && e.t < first.openAt + 2 * MIN).map((e) => e.session));
  assert.ok(openers.size >= 20, `${openers.size} sessions opened the image together`);
  assert.ok(evs.filter((e) => e.path === page).every((e) => e.referer === p.coursePage), 'links from the course page');
  const perUa = new Map<string, Set<number>>();
  for (const e of evs) perUa.set(e.ua, (perUa.get(e.ua) ?? new Set()).add(e.session as number));
  assert.ok(Math.max(...[...perUa.values()].map((s) => s.size)) >= 15, 'room machines share one UA string');
  // The same deep tiles, from many pupils, around the first detail.
  const d = first.details[0];
  assert.ok(d);
  const homeK = new ViewerState(first.img, p.roomViewport).kFine(new ViewerState(first.img, p.roomViewport).home());
  const from = first.openAt + d.at;
  const who = new Map<string, Set<number>>();
  for (const e of evs) {
    if (e.t < from || e.t > from + 5 * MIN) continue;
    const tl = tileLevel(e.path, CATALOG);
    if (!tl || tl.id !== first.img.id || tl.k >= homeK) continue;
    who.set(e.path, (who.get(e.path) ?? new Set()).add(e.session as number));
  }
  const shared = [...who.values()].filter((s) => s.size >= 15).length;
  assert.ok(shared >= 3, `${shared} deeper-than-home tiles fetched by ≥ 15 pupils`);
});

test('carrier-grade NAT: hundreds of phone sessions over a few addresses', () => {
  const ips = ['203.0.113.10', '203.0.113.11', '203.0.113.12'];
  const evs = [...cgnatActor(new Rng('cgnat-1'), { ips, start: T0, end: T0 + 24 * H, users: 300 }, CATALOG)];
  assertTimeOrder(evs);
  const sessions = bySession(evs);
  assert.ok(sessions.size >= 200, `${sessions.size} sessions`);
  const perIp = new Map<string, number>();
  const perUa = new Map<string, number>();
  for (const se of sessions.values()) {
    const s0 = se[0] as SimEvent;
    assert.equal(new Set(se.map((e) => e.ip)).size, 1, 'a session keeps its pool address');
    perIp.set(s0.ip, (perIp.get(s0.ip) ?? 0) + 1);
    perUa.set(s0.ua, (perUa.get(s0.ua) ?? 0) + 1);
    assert.match(s0.ua, MOBILE);
  }
  assert.deepEqual([...perIp.keys()].sort(), ips);
  assert.ok(Math.min(...perIp.values()) >= 40);
  assert.ok(perUa.size >= 5, `${perUa.size} UAs`);
  assert.ok(Math.max(...perUa.values()) >= 0.2 * sessions.size, 'many phones send the exact same UA');
});

test('corporate proxy: one egress IP, one browser family, HTTP/1.1; a caching proxy passes each tile once', () => {
  const uas = CORPORATE_UA_FAMILIES[0] as readonly string[];
  const base = { ip: '192.0.2.80', start: T0, windowMs: 8 * H, employees: 40, sessionsPerEmployee: 1.5, uas };
  const plain = [...corporateProxyActor(new Rng('proxy'), { ...base, cacheTtlMs: 0 }, CATALOG)];
  const cached = [...corporateProxyActor(new Rng('proxy'), { ...base, cacheTtlMs: 24 * H }, CATALOG)];
  for (const evs of [plain, cached]) {
    assertTimeOrder(evs);
    assert.ok(evs.every((e) => e.ip === base.ip && e.proto === 'HTTP/1.1' && uas.includes(e.ua)));
  }
  assert.ok(bySession(plain).size >= 40);
  const tilePaths = (evs: readonly SimEvent[]): string[] => evs.filter((e) => tileLevel(e.path, CATALOG)).map((e) => e.path);
  assert.ok(new Set(tilePaths(plain)).size < tilePaths(plain).length, 'employees fetch the same tiles');
  assert.equal(new Set(tilePaths(cached)).size, tilePaths(cached).length, 'the cache answers repeats');
  assert.equal(new Set(tilePaths(cached)).size, new Set(tilePaths(plain)).size);
  assert.ok(cached.length < plain.length);
});

test('deep researcher: hours of viewport bursts covering ≥ 80 % of an image at its deepest level', () => {
  const cl = { ip: '192.0.2.99', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36', proto: 'HTTP/2.0' as const };
  const patterns = new Set<string>();
  let revisits = 0;
  for (const seed of [1, 2, 3, 4]) {
    const p = drawDeepResearchParams(derive('deep', seed), CATALOG);
    patterns.add(p.pattern);
    const evs = [...deepResearcherActor(new Rng(`deep-${seed}`), cl, T0, p)];
    assertTimeOrder(evs);
    const span = ((evs.at(-1) as SimEvent).t - T0) / H;
    assert.ok(span >= 1.3, `seed ${seed}: ${span.toFixed(2)} h`);
    assertViewerLike(evs, `researcher ${seed}`);
    const img = p.images[0] as CatalogImage;
    const paths = new Set(evs.map((e) => e.path));
    let n = 0;
    let got = 0;
    for (let r = 0; r < rows(img, 0); r++) {
      for (let c = 0; c < cols(img, 0); c++) {
        n++;
        if (paths.has(tileUrl(img, 0, c, r, true))) got++;
      }
    }
    assert.ok(got / n >= 0.8, `seed ${seed}: ${((100 * got) / n).toFixed(0)} % of the deepest level`);
    // Viewport bursts: tiles within 1 s of each other; think time between them.
    const tiles = evs.filter((e) => tileLevel(e.path, CATALOG));
    const bursts: number[] = [];
    const gaps: number[] = [];
    let size = 1;
    for (let i = 1; i < tiles.length; i++) {
      const g = (tiles[i] as SimEvent).t - (tiles[i - 1] as SimEvent).t;
      if (g < 1000) size++;
      else {
        bursts.push(size);
        gaps.push(g);
        size = 1;
      }
    }
    bursts.sort((a, b) => a - b);
    gaps.sort((a, b) => a - b);
    assert.ok(bursts.length >= 50, `${bursts.length} bursts`);
    assert.ok((bursts[bursts.length >> 1] as number) >= 3, `median burst ${bursts[bursts.length >> 1]} tiles`);
    assert.ok((gaps[gaps.length >> 1] as number) >= 5000, `median think ${gaps[gaps.length >> 1]} ms`);
    // Coarse levels first: each image's first tile is at s ≤ ¼.
    const firstK = new Map<string, number>();
    for (const e of tiles) {
      const tl = tileLevel(e.path, CATALOG);
      if (tl && !firstK.has(tl.id)) firstK.set(tl.id, tl.k);
    }
    for (const [id, k] of firstK) assert.ok(k >= 2, `${id}: first tile at k=${k}`);
    // Revisits: back from a break the reloaded page asks again for tiles seen before.
    const tilePaths = tiles.map((e) => e.path);
    if (new Set(tilePaths).size < tilePaths.length) revisits++;
  }
  assert.ok(patterns.size >= 2, 'more than one sweep pattern');
  assert.ok(revisits >= 1, 'some researcher comes back to tiles seen before');
});

test('sweep positions: reading is row-major, serpentine alternates, columns go down first; views overlap', () => {
  const rd = sweepPositions(10_000, 5000, 2000, 1000, 0.2, 'reading');
  const sp = sweepPositions(10_000, 5000, 2000, 1000, 0.2, 'serpentine');
  const co = sweepPositions(10_000, 5000, 2000, 1000, 0.2, 'columns');
  assert.equal(rd.length, 6 * 6);
  assert.equal(sp.length, rd.length);
  assert.equal(co.length, rd.length);
  assert.ok((rd[1] as { cx: number }).cx > (rd[0] as { cx: number }).cx && (rd[1] as { cy: number }).cy === (rd[0] as { cy: number }).cy);
  assert.ok((rd[6] as { cx: number }).cx === (rd[0] as { cx: number }).cx, 'reading returns to the left');
  assert.ok((sp[6] as { cx: number }).cx === (sp[5] as { cx: number }).cx, 'serpentine turns round');
  assert.ok((co[1] as { cy: number }).cy > (co[0] as { cy: number }).cy && (co[1] as { cx: number }).cx === (co[0] as { cx: number }).cx);
  // Neighbouring views overlap and the edges are reached.
  for (let i = 1; i < 6; i++) assert.ok((rd[i] as { cx: number }).cx - (rd[i - 1] as { cx: number }).cx <= 2000 * 0.8 + 1e-6);
  assert.equal((rd[0] as { cx: number }).cx, 1000);
  assert.equal((rd[5] as { cx: number }).cx, 9000);
});

test('enthusiast: hundreds of images in one sitting, mostly coarse and middle levels, a few deep looks', () => {
  const p = drawEnthusiastParams(derive('enthusiast', 1), CATALOG);
  assert.ok(p.images.length >= 100);
  const cl = { ip: '192.0.2.150', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15', proto: 'HTTP/2.0' as const };
  const evs = [...enthusiastActor(new Rng('enthusiast-1'), cl, T0, p)];
  assertTimeOrder(evs);
  assertViewerLike(evs, 'enthusiast');
  const imgs = new Set(evs.map((e) => e.image).filter((x) => x !== null));
  assert.ok(imgs.size >= 100, `${imgs.size} images`);
  const ks = evs.map((e) => tileLevel(e.path, CATALOG)).filter((x) => x !== null);
  const deepest = ks.filter((x) => x.k === 0).length;
  assert.ok(deepest / ks.length < 0.25, `${deepest} of ${ks.length} tiles at full resolution`);
  assert.ok(ks.some((x) => x.k <= 1), 'an occasional deep zoom');
  assert.ok(evs.filter((e) => e.path.startsWith('/collection/search')).length >= 2, 'comes back to search');
});

test('mobile user on rotating addresses: ≥ 3 addresses within one /16 or one /64, used one after another', () => {
  for (const seed of [1, 2, 3]) {
    const ipr = new IpAllocator(derive('mobile-ips', seed));
    const ua = (MOBILE_UAS[seed % MOBILE_UAS.length] as { ua: string }).ua;
    const v6 = seed === 2;
    const carrier = ipr.freshSlash16();
    const prefix = ipr.v6Slash64();
    const p = v6
      ? drawMobileRotatingParams(derive('mobile', seed), ua, `${prefix}::/64`, () => ipr.inV6Slash64(prefix))
      : drawMobileRotatingParams(derive('mobile', seed), ua, `${carrier}.0.0/16`, () => ipr.inSlash16(carrier));
    const evs = [...mobileRotatingActor(new Rng(`mobile-${seed}`), p, T0, CATALOG)];
    assertTimeOrder(evs);
    assertViewerLike(evs, `phone ${seed}`);
    const order: string[] = [];
    for (const e of evs) if (order[order.length - 1] !== e.ip) order.push(e.ip);
    assert.equal(new Set(order).size, order.length, 'never back to an earlier address');
    assert.ok(order.length >= 3, `seed ${seed}: ${order.length} addresses`);
    for (const ip of order) assert.ok(v6 ? ip.startsWith(`${prefix}:`) && ip.split(':').length === 8 : ip.startsWith(`${carrier}.`), ip);
    assert.ok(evs.every((e) => e.ua === ua));
  }
});

test('determinism, and the hard classes change nothing any other actor does', () => {
  const opts = { seed: 'iso', hours: 1, images: 60, start: '2026-03-02T13:00:00Z' };
  const run = (o: Parameters<typeof createSimulation>[0]): { lines: string[]; labels: string[] } => {
    const sim = createSimulation(o);
    const lines = [...sim.lines()];
    return { lines, labels: sim.labels().map((l) => JSON.stringify(l)) };
  };
  const a = run(opts);
  const b = run(opts);
  assert.deepEqual(a.lines, b.lines);
  assert.deepEqual(a.labels, b.labels);
  const off = Object.fromEntries(HARD_BENIGN_KINDS.map((k) => [k, 0])) as Record<HardBenignKind, number>;
  const without = run({ ...opts, hardBenign: off });
  const hard = a.labels.filter((l) => (HARD_BENIGN_KINDS as readonly string[]).includes((JSON.parse(l) as { kind: string }).kind));
  assert.equal(hard.length, a.labels.length - without.labels.length);
  assert.deepEqual(
    a.labels.filter((l) => !hard.includes(l)),
    without.labels,
    'labels of every other actor are unchanged',
  );
  const hardIps = new Set(hard.flatMap((l) => (JSON.parse(l) as { ips: string[] }).ips));
  const others = a.lines.filter((l) => !hardIps.has(l.slice(0, l.indexOf(' '))));
  assert.deepEqual(others, without.lines, 'and so are their lines');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulation, simulate, writeSimulation } from '../../../services/sim/simulate.ts';
import { BENIGN_KINDS, HARD_BENIGN_KINDS, THREAT_KINDS } from '../../../services/sim/labels.ts';
import { RANGES } from '../../../services/sim/agents.ts';
import { timeLocal } from '../../../services/sim/logformat.ts';
import { type Line, byIp, ipv4InCidr, parseLine, smallRun } from './helpers.ts';

/** s = output px / full-res px of a tile URL (independent of the simulator's own geometry code). */
function scaleOf(path: string, im: { width: number; height: number; maxK: number }): number {
  let m = /\/full\/(\d+),/.exec(path);
  if (m) return Number(m[1]) / im.width;
  m = /\/\d+,\d+,(\d+),\d+\/(\d+),/.exec(path);
  if (m) return Number(m[2]) / Number(m[1]);
  m = /_files\/(\d+)\//.exec(path);
  if (m) return 2 ** (Number(m[1]) - Math.ceil(Math.log2(Math.max(im.width, im.height))));
  m = /TileGroup\d+\/(\d+)-/.exec(path);
  if (m) return 2 ** (Number(m[1]) - im.maxK);
  throw new Error(`no scale for ${path}`);
}

function firstLines(seed: string, n: number): string[] {
  const out: string[] = [];
  for (const l of createSimulation({ seed, hours: 1, images: 60 }).lines()) {
    out.push(l);
    if (out.length >= n) break;
  }
  return out;
}

test('same seed → identical lines; different seed → different lines', () => {
  const a = firstLines('det-a', 3000);
  const b = firstLines('det-a', 3000);
  const c = firstLines('det-b', 3000);
  assert.equal(a.length, 3000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const diff = a.filter((l, i) => l !== c[i]).length;
  assert.ok(diff > 2900, `only ${diff} lines differ`);
});

test('labels are deterministic too', () => {
  const run = (): string => {
    const sim = createSimulation({ seed: 'det-l', hours: 1, images: 60 });
    for (const _ of sim.events());
    return JSON.stringify(sim.labels());
  };
  assert.equal(run(), run());
});

test('lines are nginx combined, time is non-decreasing, whole seconds, inside the period', () => {
  const run = smallRun();
  assert.ok(run.lines.length > 20_000, `${run.lines.length} lines`);
  assert.equal(run.monotonicityFixes, 0);
  let prev = 0;
  for (const l of run.lines) {
    assert.ok(l.ts >= prev, `line ${l.n} goes back in time`);
    assert.ok(l.ts >= run.startMs && l.ts < run.endMs, `line ${l.n} outside the period`);
    assert.match(l.raw, / \+0000\] /);
    prev = l.ts;
  }
  const statuses = new Set(run.lines.map((l) => l.status));
  for (const s of [200, 304, 404]) assert.ok(statuses.has(s), `no ${s} in the log`);
});

test('time zone option shifts $time_local and keeps the instant', async () => {
  const lines: string[] = [];
  for await (const l of simulate({ seed: 'tz', hours: 0.25, images: 30, tzOffsetMinutes: 60 })) {
    lines.push(l);
    if (lines.length >= 200) break;
  }
  assert.match(lines[0] ?? '', /\[02\/Mar\/2026:01:\d\d:\d\d \+0100\]/);
  const p = parseLine(lines[0] ?? '');
  assert.ok(p.ts >= Date.parse('2026-03-02T00:00:00Z') && p.ts < Date.parse('2026-03-02T00:15:00Z'));
  assert.equal(timeLocal(Date.parse('2026-03-02T23:30:05.900Z'), -300), '02/Mar/2026:18:30:05 -0500');
});

test('labels are consistent with the log', () => {
  const run = smallRun();
  const ipLines = byIp(run.lines);
  const owner = new Map<string, string>();
  for (const l of run.labels) {
    assert.ok(l.ips.length > 0, l.actor);
    for (const ip of l.ips) {
      assert.ok(ipLines.has(ip), `${l.actor}: ${ip} not in the log`);
      assert.equal(owner.get(ip), undefined, `${ip} shared by ${owner.get(ip) ?? ''} and ${l.actor}`);
      owner.set(ip, l.actor);
    }
    const mine = l.ips.flatMap((ip) => ipLines.get(ip) ?? []);
    assert.equal(mine.length, l.requests, `${l.actor} request count`);
    const first = Math.min(...mine.map((x) => x.ts));
    const last = Math.max(...mine.map((x) => x.ts));
    assert.equal(first, Math.floor(Date.parse(l.start) / 1000) * 1000, `${l.actor} start`);
    assert.equal(last, Math.floor(Date.parse(l.end) / 1000) * 1000, `${l.actor} end`);
    const known: readonly string[] = l.class === 'threat' ? THREAT_KINDS : [...BENIGN_KINDS, ...HARD_BENIGN_KINDS];
    assert.ok(known.includes(l.kind), `${l.actor}: unknown ${l.class} kind ${l.kind}`);
  }
  // Every line belongs to a labelled actor.
  for (const ip of ipLines.keys()) assert.ok(owner.has(ip), `unlabelled IP ${ip}`);
  // Every kind is present in a one-hour run.
  const kinds = new Set(run.labels.map((l) => l.kind));
  for (const k of [...THREAT_KINDS, ...BENIGN_KINDS, ...HARD_BENIGN_KINDS]) assert.ok(kinds.has(k), `no ${k} actor`);
});

test('threat actors are in the log with the labelled properties', () => {
  const run = smallRun();
  const ipLines = byIp(run.lines);
  const threats = run.labels.filter((l) => l.class === 'threat');
  assert.equal(threats.length, 12);
  for (const t of threats) {
    assert.ok((t.requests ?? 0) > 0);
    const lines = t.ips.flatMap((ip) => ipLines.get(ip) ?? []);
    if (t.kind === 'raster-1s' || t.kind === 'low-and-slow' || t.kind === 'jittered' || t.kind === 'half-resolution') {
      assert.ok(lines.every((l) => l.referer === ''), `${t.kind} sends no Referer`);
    }
    if (t.kind === 'raster-1s') {
      assert.ok(!lines.some((l) => /info\.json|\.dzi$|ImageProperties/.test(l.path)), 'raster-1s fetches no descriptor');
      const gaps = lines.slice(1).map((l, i) => l.ts - (lines[i] as Line).ts);
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      assert.ok(mean > 900 && mean < 1300, `raster-1s mean gap ${mean} ms`);
    }
    if (t.kind === 'low-and-slow') {
      const gaps = lines.slice(1).map((l, i) => l.ts - (lines[i] as Line).ts);
      const minute = gaps.every((g) => g >= 54_000 && g <= 66_000);
      const slower = gaps.every((g) => g >= 179_000 && g <= 481_000);
      assert.ok(minute !== slower, `one tile a minute, or one every 3–8 minutes (${t.note})`);
      assert.equal(slower, /3–8 minutes/.test(t.note ?? ''));
    }
    if (t.kind === 'distributed-subnet') {
      assert.ok(t.ips.length >= 18);
      const nets = new Set(t.ips.map((ip) => ip.split('.').slice(0, 3).join('.')));
      assert.equal(nets.size, 1, 'one /24');
      assert.equal(t.perIpDetectable, /split=images/.test(t.note ?? ''));
      assert.equal(new Set(lines.map((l) => l.ua)).size, 1, 'one UA');
    }
    if (t.kind === 'distributed-unrelated') {
      assert.ok(t.ips.length >= 18);
      assert.ok(new Set(t.ips.map((ip) => ip.split('.').slice(0, 3).join('.'))).size >= 15, 'unrelated subnets');
      assert.equal(t.perIpDetectable, false);
      // Members split the work: no tile is fetched twice.
      const paths = lines.filter((l) => !/info\.json/.test(l.path)).map((l) => l.path);
      assert.equal(new Set(paths).size, paths.length);
    }
    if (t.kind === 'full-download') {
      assert.ok(lines.filter((l) => /\/full\/(full|max)\//.test(l.path)).length >= 1);
    }
    if (!t.kind.startsWith('distributed')) assert.equal(t.perIpDetectable, true, t.kind);
  }
  assert.equal(threats.filter((t) => t.kind === 'distributed-subnet' && t.perIpDetectable).length, 1);
});

test('row-major order of the raster actors', () => {
  for (const seed of ['test-seed-1', 'rm-2', 'rm-3']) {
    const run = smallRun({ seed });
    const ipLines = byIp(run.lines);
    for (const t of run.labels.filter((l) => l.kind === 'raster-1s' || l.kind === 'parallel-fast' || l.kind === 'jittered')) {
      const lines = t.ips.flatMap((ip) => ipLines.get(ip) ?? []);
      // (image, row key, column key) from any protocol.
      const cells = lines.flatMap((l) => {
        let m = /^\/iiif\/\d\/([^/]+)\/(\d+),(\d+),(\d+),\d+\//.exec(l.path);
        if (m) return [{ img: m[1] as string, y: Number(m[3]), x: Number(m[2]), step: Number(m[4]) }];
        m = /^\/dz\/(.+)_files\/\d+\/(\d+)_(\d+)\.jpg$/.exec(l.path) ?? /^\/zoomify\/([^/]+)\/TileGroup\d+\/\d+-(\d+)-(\d+)\.jpg$/.exec(l.path);
        if (m) return [{ img: m[1] as string, y: Number(m[3]), x: Number(m[2]), step: 1 }];
        m = /^\/tiles\/([^/]+)\/\d+\/(\d+)\/(\d+)\.png$/.exec(l.path);
        if (m) return [{ img: m[1] as string, y: Number(m[3]), x: Number(m[2]), step: 1 }];
        return [];
      });
      assert.ok(cells.length > 20, `${t.actor}: ${cells.length} tiles`);
      for (let i = 1; i < cells.length; i++) {
        const a = cells[i - 1] as (typeof cells)[number];
        const b = cells[i] as (typeof cells)[number];
        if (a.img !== b.img) continue;
        const sameRowNext = b.y === a.y && b.x > a.x && (b.x - a.x === a.step || b.x - a.x === 1);
        const nextRowStart = b.y > a.y && (b.x === 0 || b.x === cells.filter((c) => c.img === b.img).reduce((mn, c) => Math.min(mn, c.x), Infinity));
        assert.ok(sameRowNext || nextRowStart, `${t.kind} not row-major at ${i}: ${JSON.stringify(a)} → ${JSON.stringify(b)}`);
      }
    }
  }
});

test('humans: descriptor before tiles, coarse levels first, Referer = viewer page, browser UA', () => {
  const run = smallRun();
  const ipLines = byIp(run.lines);
  const humans = run.labels.filter((l) => l.kind === 'human');
  assert.ok(humans.length >= 10);
  let checked = 0;
  for (const h of humans) {
    const lines = ipLines.get(h.ips[0] ?? '') ?? [];
    assert.match(h.userAgent, /^Mozilla\/5\.0/);
    const seenDesc = new Set<string>();
    const firstTile = new Set<string>();
    for (const l of lines) {
      const d = /^\/iiif\/\d\/([^/]+)\/info\.json$|^\/dz\/(.+)\.dzi$|^\/zoomify\/([^/]+)\/ImageProperties\.xml$/.exec(l.path);
      if (d) seenDesc.add(d[1] ?? d[2] ?? d[3] ?? '');
      const tile = /^\/iiif\/\d\/([^/]+)\/(?!info)|^\/dz\/(.+)_files\/|^\/zoomify\/([^/]+)\/TileGroup/.exec(l.path);
      if (tile) {
        const id = tile[1] ?? tile[2] ?? tile[3] ?? '';
        assert.ok(seenDesc.has(id), `${h.actor}: tile before descriptor ${l.raw}`);
        assert.match(l.referer, /^https:\/\/collections\.example-museum\.org\/collection\/item\/\d+$/);
        if (!firstTile.has(id)) {
          firstTile.add(id);
          // The first tile of an image is a coarse one (s ≤ ¼): viewers start with the home view.
          const im = run.catalog.find((i) => i.id === id);
          assert.ok(im);
          assert.ok(scaleOf(l.path, im) <= 0.25, `${h.actor}: first tile too fine: ${l.path}`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 10);
});

test('benign bots: monitors every 60 s exactly, staff on the internal CIDR, crawlers from their ranges', () => {
  const run = smallRun();
  const ipLines = byIp(run.lines);
  for (const m of run.labels.filter((l) => l.kind === 'monitor')) {
    const lines = ipLines.get(m.ips[0] ?? '') ?? [];
    assert.ok(lines.length >= 59);
    assert.equal(new Set(lines.map((l) => l.path)).size, 1, 'one URL');
    for (let i = 1; i < lines.length; i++) assert.equal((lines[i] as Line).ts - (lines[i - 1] as Line).ts, 60_000);
  }
  for (const s of run.labels.filter((l) => l.kind === 'staff')) for (const ip of s.ips) assert.ok(ipv4InCidr(ip, RANGES.internalStaff), ip);
  for (const c of run.labels.filter((l) => l.kind === 'crawler')) {
    for (const ip of c.ips) assert.ok([...RANGES.googlebot, ...RANGES.bingbot].some((r) => ipv4InCidr(ip, r)), ip);
  }
  const nat = run.labels.filter((l) => l.kind === 'nat');
  assert.ok(nat.every((n) => n.ips.length === 1 && (n.userAgents?.length ?? 1) >= 2), 'NAT: one IP, several UAs');
});

test('scale multiplies human volume', () => {
  const humans = (scale: number): number => {
    const sim = createSimulation({ seed: 'scale', hours: 2, images: 40, scale });
    for (const _ of sim.events());
    return sim.labels().filter((l) => l.kind === 'human').length;
  };
  const h1 = humans(1);
  const h4 = humans(4);
  assert.ok(h4 > 2.5 * h1, `scale 4: ${h4} humans vs ${h1}`);
});

test('writeSimulation writes log, labels, catalog, allow-list and README', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tilewatch-sim-'));
  try {
    const r = await writeSimulation({ seed: 'w', hours: 0.5, out: dir, images: 40 });
    const log = (await readFile(join(dir, 'access.log'), 'utf8')).split('\n');
    assert.equal(log.pop(), '');
    assert.equal(log.length, r.lines);
    log.forEach((l, i) => parseLine(l, i));
    const labels = (await readFile(join(dir, 'labels.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { actor: string });
    assert.equal(labels.length, r.actors);
    const catalog = JSON.parse(await readFile(join(dir, 'catalog.json'), 'utf8')) as { id: string; protocol: string; width: number }[];
    assert.equal(catalog.length, 41);
    assert.ok(catalog.every((c) => c.id && c.protocol && c.width > 0));
    const allow = JSON.parse(await readFile(join(dir, 'allowlist.json'), 'utf8')) as { cidrs: string[] };
    assert.deepEqual(allow.cidrs, ['10.20.0.0/16']);
    assert.match(await readFile(join(dir, 'README.md'), 'utf8'), /10\.20\.0\.0\/16/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

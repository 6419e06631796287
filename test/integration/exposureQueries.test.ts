/**
 * The image-first incident queries against an independent reference: random requests of every
 * geometry (aligned tiles at several bands, unaligned multi-cell regions, thumbnails, repeats,
 * errors, non-image kinds, rows outside the period) are stored in real chDB, and image exposure /
 * the incident report must equal what a plain JavaScript walk over the same rows computes; and the
 * image-ordered copy they read (image_requests) must hold exactly the image rows of tile_requests.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bandGrid, cellsNeeded, MAX_BAND, MAX_CELLS_PER_REQUEST } from '../../services/incidents/bands.ts';
import { imageExposure, imageExposures, type BandExposure } from '../../services/incidents/exposure.ts';
import { incidentReport, reportImage } from '../../services/incidents/report.ts';
import { Rng } from '../../services/sim/rng.ts';
import { loadMigrations, migrate } from '../../services/store/migrate.ts';
import { jsonEachRow, openStore, type Store } from '../../services/store/openStore.ts';
import { tempDir } from '../support/cli.ts';

interface Req {
  ts: number;
  ip: string;
  image: string;
  kind: string;
  status: number;
  scale: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

const T0 = Date.UTC(2026, 4, 1);
const HOUR = 3_600_000;
const RANGE = { from: T0 + 2 * HOUR, to: T0 + 40 * HOUR };
/** Catalogued sizes; `learned` has no catalogue row (its size comes from the stored rectangles). */
const IMAGES: Record<string, { width: number; height: number } | null> = {
  'museum/big': { width: 6000, height: 4000 },
  'museum/tall': { width: 2500, height: 3100 },
  'museum/small': { width: 700, height: 500 },
  'museum/learned': null,
};
const CLIENTS = ['198.51.100.7', '198.51.100.8', '203.0.113.66', '2001:db8::1', '2001:db8:0:1::9', '192.0.2.200', '192.0.2.201', '100.64.3.4'];

function generate(rng: Rng): Req[] {
  const out: Req[] = [];
  const at = (): number => T0 + Math.floor(rng.range(0, 44 * HOUR));
  const extent = (image: string): { width: number; height: number } => IMAGES[image] ?? { width: 3000, height: 2000 };
  for (const image of Object.keys(IMAGES)) {
    const { width, height } = extent(image);
    // Sweeps: some clients take every tile of a band (some from the period's start, some straddling it).
    for (const [i, ip] of CLIENTS.entries()) {
      if (!rng.chance(0.45)) continue;
      const band = rng.int(0, 3);
      const cs = 256 * 2 ** band;
      const start = at();
      let n = 0;
      for (let y = 0; y < height; y += cs)
        for (let x = 0; x < width; x += cs) {
          if (rng.chance(0.04 * (i % 3))) continue; // some sweeps have gaps
          out.push({ ts: start + n++ * rng.int(200, 90_000), ip, image, kind: 'tile', status: 200, scale: 2 ** -band, x, y, w: Math.min(cs, width - x), h: Math.min(cs, height - y) });
        }
    }
    // Browsing noise: unaligned regions of every size, thumbnails, repeats, errors, info requests.
    for (let k = 0; k < 400; k++) {
      const ip = rng.pick(CLIENTS);
      const scale = rng.pick([1, 0.5, 0.25, 0.125, 0.7, 0.3, 0.04, 1 / 64, 2]);
      const w = rng.int(1, Math.min(width, 3000));
      const h = rng.int(1, Math.min(height, 3000));
      const x = rng.int(0, width - 1);
      const y = rng.int(0, height - 1);
      const kind = rng.pick(['tile', 'tile', 'region', 'full', 'thumbnail', 'info', 'other']);
      const status = rng.pick([200, 200, 200, 206, 304, 404, 500]);
      out.push({ ts: at(), ip, image, kind, status, scale, x, y, w: Math.min(w, width - x), h: Math.min(h, height - y) });
    }
  }
  return out;
}

const v6 = (ip: string): string => (ip.includes(':') ? ip : `::ffff:${ip}`);

/** tile_requests rows as JSONEachRow, numbered from `firstLine`; `imageOf` may blank some images. */
function encode(part: readonly Req[], firstLine: number, imageOf: (r: Req, i: number) => string = (r) => r.image): Buffer {
  return jsonEachRow(
    part.map((r, i) => ({
      ts: new Date(r.ts).toISOString().replace('T', ' ').replace('Z', ''), client: v6(r.ip), client_key: r.ip, method: 'GET', status: r.status, bytes: 1000, host: 'img.test', path: '/x',
      referer: '', user_agent: 'test', protocol: 'iiif2', kind: r.kind, image_id: imageOf(r, i), level: -1, tile_x: -1, tile_y: -1,
      rect_x: r.x, rect_y: r.y, rect_w: r.w, rect_h: r.h, scale: r.scale, source: 'gen', partition: -1, line: firstLine + i,
    })),
  );
}

async function store(t: TestContext, rows: Req[]): Promise<Store> {
  const s = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'exposure'), 'data') });
  t.after(() => s.close());
  await migrate(s.client);
  // Two inserts: two parts, as a real store has many.
  const half = Math.floor(rows.length / 2);
  await s.insertRaw({ table: 'tile_requests', format: 'JSONEachRow', body: encode(rows.slice(0, half), 1) });
  await s.insertRaw({ table: 'tile_requests', format: 'JSONEachRow', body: encode(rows.slice(half), half + 1) });
  for (const [id, size] of Object.entries(IMAGES))
    if (size)
      await s.client.command({
        query: `INSERT INTO images SELECT 'iiif2', {id:String}, {w:UInt32}, {h:UInt32}, 256, 0, -1, 0, 'catalog', now64(3)`,
        query_params: { id, w: size.width, h: size.height },
      });
  return s;
}

interface RefBand {
  cells: number;
  total: number;
  first: number;
  last: number;
  reached: number | null;
}

/** The reference: every qualifying request's cells, walked in JavaScript. */
function reference(rows: readonly Req[], image: string, width: number, height: number, coverage: number): { union: Map<number, RefBand>; clients: Map<string, Map<number, RefBand>> } {
  const perClient = new Map<string, Map<number, Map<string, number>>>();
  const union = new Map<number, Map<string, number>>();
  const note = (m: Map<number, Map<string, number>>, band: number, cell: string, ts: number): void => {
    let cells = m.get(band);
    if (!cells) m.set(band, (cells = new Map()));
    cells.set(cell, Math.min(cells.get(cell) ?? Infinity, ts));
  };
  for (const r of rows) {
    if (r.image !== image || r.ts < RANGE.from || r.ts >= RANGE.to) continue;
    if (!['tile', 'region', 'full', 'thumbnail'].includes(r.kind) || r.status >= 400 || r.w <= 0 || r.h <= 0) continue;
    const scale = Math.fround(r.scale);
    const band = Math.min(MAX_BAND, Math.max(0, Math.round(-Math.log2(scale))));
    const cs = 256 * 2 ** band;
    const c0 = Math.max(0, Math.ceil(r.x / cs - 0.5));
    const c1 = Math.max(0, Math.ceil((r.x + r.w) / cs - 0.5));
    const r0 = Math.max(0, Math.ceil(r.y / cs - 0.5));
    const r1 = Math.max(0, Math.ceil((r.y + r.h) / cs - 0.5));
    if (c1 <= c0 || r1 <= r0 || (c1 - c0) * (r1 - r0) > MAX_CELLS_PER_REQUEST) continue;
    let mine = perClient.get(r.ip);
    if (!mine) perClient.set(r.ip, (mine = new Map()));
    for (let cy = r0; cy < r1; cy++)
      for (let cx = c0; cx < c1; cx++) {
        note(mine, band, `${cx},${cy}`, r.ts);
        note(union, band, `${cx},${cy}`, r.ts);
      }
  }
  const summarise = (m: Map<number, Map<string, number>>): Map<number, RefBand> =>
    new Map(
      [...m].map(([band, cells]) => {
        const times = [...cells.values()].sort((a, b) => a - b);
        const grid = bandGrid(width, height, band);
        const need = cellsNeeded(grid, coverage);
        return [band, { cells: times.length, total: grid.cells, first: times[0]!, last: times.at(-1)!, reached: times.length >= need ? times[need - 1]! : null }];
      }),
    );
  return { union: summarise(union), clients: new Map([...perClient].map(([ip, m]) => [ip, summarise(m)])) };
}

function assertBands(actual: readonly BandExposure[], expected: Map<number, RefBand>, what: string): void {
  assert.deepEqual(
    actual.map((b) => [b.band, b.cells, b.totalCells, b.firstRevealAt, b.lastRevealAt, b.reachedAt]),
    [...expected]
      .sort((a, b) => a[0] - b[0])
      .map(([band, r]) => [band, r.cells, r.total, new Date(r.first).toISOString(), new Date(r.last).toISOString(), r.reached === null ? null : new Date(r.reached).toISOString()]),
    what,
  );
}

test('image exposure and the incident report equal a JavaScript walk over the same rows', async (t) => {
  const rows = generate(new Rng('exposure-reference'));
  const s = await store(t, rows);
  const ids = Object.keys(IMAGES);
  for (const coverage of [0.9, 0.5]) {
    const batch = await imageExposures(s, { imageIds: ids, range: RANGE, minCoverage: coverage, maxClients: 100 });
    for (const [i, image] of ids.entries()) {
      const e = await imageExposure(s, { imageId: image, range: RANGE, minCoverage: coverage, maxClients: 100 });
      assert.deepEqual(batch[i], e, `${image}: one pass for several images equals one image at a time`);
      const size = IMAGES[image] ?? {
        width: Math.max(...rows.filter((r) => r.image === image && r.w > 0 && r.scale > 0).map((r) => r.x + r.w)),
        height: Math.max(...rows.filter((r) => r.image === image && r.w > 0 && r.scale > 0).map((r) => r.y + r.h)),
      };
      assert.deepEqual([e.size?.width, e.size?.height], [size.width, size.height], `${image}: size`);
      const ref = reference(rows, image, size.width, size.height, coverage);
      assertBands(e.union.bands, ref.union, `${image} union at ${coverage}`);
      assert.equal(e.clientCount, ref.clients.size, `${image}: clients`);
      assert.ok(e.clientCount >= 4, `${image}: the generator gives several clients`);
      for (const c of e.clients) assertBands(c.bands, ref.clients.get(c.ip)!, `${image} ${c.ip} at ${coverage}`);
      // Requests and evidence come from every row of the client on the image in the period.
      for (const c of e.clients) {
        const mine = rows.filter((r) => r.image === image && r.ip === c.ip && r.ts >= RANGE.from && r.ts < RANGE.to);
        assert.equal(c.requests, mine.length, `${image} ${c.ip}: requests`);
        assert.equal(c.firstSeen, new Date(Math.min(...mine.map((r) => r.ts))).toISOString());
      }
    }
    // The report reads only clients that reached coverage, and says the same as the full exposure.
    for (const minLongEdge of [0, 2000]) {
      const report = await incidentReport(s, { imageIds: ids, range: RANGE, minCoverage: coverage, minLongEdge, maxClients: 100 });
      assert.deepEqual(report.images, batch.map((e) => reportImage(e, minLongEdge)), `report at ${coverage}, ≥ ${minLongEdge} px`);
    }
  }
  const report = await incidentReport(s, { imageIds: ids, range: RANGE, minCoverage: 0.9, minLongEdge: 0, maxClients: 100 });
  assert.ok(report.images.some((i) => i.clients.length > 0), 'some client reconstructs some image (the test exercises the reached path)');
});

test('image_requests holds exactly the image rows of tile_requests: backfilled, then kept by the view, once per batch', async (t) => {
  const rows = generate(new Rng('image-requests'));
  const s = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'image-requests'), 'data') });
  t.after(() => s.close());
  // A store from before migration 006 holds requests (and some non-image ones) …
  await migrate(s.client, loadMigrations().filter((m) => m.version < 6));
  // Every ninth request has no image (it must not be copied).
  const imageOf = (r: Req, i: number): string => (i % 9 === 0 ? '' : r.image);
  const half = Math.floor(rows.length / 2);
  await s.insertRaw({ table: 'tile_requests', format: 'JSONEachRow', body: encode(rows.slice(0, half), 1, imageOf) });
  // … then migrates (the copy), and stores more (the view), one batch twice with its insert token.
  await migrate(s.client);
  const later = { table: 'tile_requests', format: 'JSONEachRow' as const, body: encode(rows.slice(half), half + 1, imageOf), settings: { insert_deduplication_token: 'batch-2', insert_deduplicate: 1, deduplicate_blocks_in_dependent_materialized_views: 1 } };
  await s.insertRaw(later);
  await s.insertRaw(later);
  const cols = 'image_id, ts, client, kind, status, scale, rect_x, rect_y, rect_w, rect_h, source, partition, line';
  const read = async (sql: string): Promise<string[]> => (await (await s.client.query({ query: sql, format: 'TabSeparated' })).text()).split('\n');
  const expected = await read(`SELECT ${cols} FROM tile_requests WHERE image_id != '' ORDER BY line`);
  const copied = await read(`SELECT ${cols} FROM image_requests ORDER BY line`);
  assert.ok(expected.length > 1000, `${expected.length} image rows`);
  assert.equal(copied.length, expected.length, 'same number of rows (none doubled, none lost)');
  assert.deepEqual(copied, expected);
  const [empty] = await read("SELECT count() FROM image_requests WHERE image_id = ''");
  assert.equal(empty, '0', 'requests without an image are not copied');
});

/**
 * Property tests: for random images, the tiles of any level partition the image exactly, every
 * tile maps inside it, and URL → geometry → URL round-trips.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { dziLevelGrid, dziMaxLevel, dziTileAt, dziTilePlacement } from '../../../services/core/protocols/dzi.ts';
import { resolve } from '../../../services/core/protocols/geometry.ts';
import { iiifRegionRect, iiifTileGrid, iiifTileRegion } from '../../../services/core/protocols/iiif.ts';
import { iipResolutionCount, iipResolutionGrid } from '../../../services/core/protocols/iip.ts';
import { recognise } from '../../../services/core/protocols/recognise.ts';
import type { Rect } from '../../../services/core/types.ts';
import {
  arcgisTileUrl,
  dziTileUrl,
  iiifRectUrl,
  iiifTileUrl,
  iipDeepZoomUrl,
  iipTileUrl,
  tmsTileUrl,
  wmtsKvpTileUrl,
  wmtsRestTileUrl,
  xyzTileUrl,
  zoomifyTileUrl,
} from '../../../services/core/protocols/urls.ts';
import { xyzTileAt } from '../../../services/core/protocols/xyz.ts';
import { zoomifyTileAt, zoomifyTiers } from '../../../services/core/protocols/zoomify.ts';
import { assertPartition, geom } from './helpers.ts';

const RUNS = { numRuns: 150 };
const side = fc.integer({ min: 1, max: 6000 });
const tile = fc.integer({ min: 64, max: 1024 });

describe('DZI properties', () => {
  it('core cells of any level partition the image; overlap rects contain them; URL round-trips', () => {
    fc.assert(
      fc.property(side, side, tile, fc.integer({ min: 0, max: 3 }), fc.nat(), fc.constantFrom('/d/img', '/a/b c', '/x.y'), (w, h, t, o, lpick, id) => {
        const g = geom(w, h, t, o);
        const lmax = dziMaxLevel(w, h);
        const level = lpick % (lmax + 1);
        const grid = dziLevelGrid(g, level);
        assert.ok(grid !== undefined);
        const cells: Rect[] = [];
        for (let row = 0; row < grid.rows; row++) {
          for (let col = 0; col < grid.cols; col++) {
            const core = dziTilePlacement(g, level, col, row, false);
            assert.ok(core.rect !== null);
            cells.push(core.rect);
            const url = dziTileUrl(id, level, col, row);
            const req = resolve(recognise(url), g);
            assert.equal(req.scale, 2 ** -(lmax - level));
            assert.ok(req.rect !== null);
            assert.ok(req.rect.x0 <= core.rect.x0 && req.rect.y0 <= core.rect.y0 && req.rect.x1 >= core.rect.x1 && req.rect.y1 >= core.rect.y1);
            // overlap rect: [c·T − (c>0 ? O : 0), min((c+1)·T + O, LW)) at level L, × 2^k, clipped to W
            const f: number = 2 ** grid.k;
            assert.deepEqual(req.rect, {
              x0: (col * t - (col > 0 ? o : 0)) * f,
              y0: (row * t - (row > 0 ? o : 0)) * f,
              x1: Math.min(Math.min((col + 1) * t + o, grid.width) * f, w),
              y1: Math.min(Math.min((row + 1) * t + o, grid.height) * f, h),
            });
            const back = dziTileAt(g, req.rect, req.scale);
            assert.ok(back !== undefined);
            assert.equal(dziTileUrl(id, back.level, back.col, back.row), url);
          }
        }
        assertPartition(cells, w, h);
      }),
      RUNS,
    );
  });
});

describe('Zoomify properties', () => {
  it('tiles of any tier partition the image; URL round-trips with TileGroup', () => {
    fc.assert(
      fc.property(side, side, tile, fc.nat(), (w, h, t, zpick) => {
        const g = geom(w, h, t);
        const tiers = zoomifyTiers(w, h, t);
        const z = zpick % tiers.length;
        const tier = tiers[z];
        assert.ok(tier !== undefined);
        const rects: Rect[] = [];
        for (let y = 0; y < tier.rows; y++) {
          for (let x = 0; x < tier.cols; x++) {
            const url = zoomifyTileUrl('/zoom/img', tiers, z, x, y);
            assert.ok(url !== undefined);
            const req = resolve(recognise(url), g);
            assert.ok(req.rect !== null, url);
            assert.equal(req.scale, 2 ** -(tiers.length - 1 - z));
            rects.push(req.rect);
            const back = zoomifyTileAt(g, req.rect, req.scale);
            assert.ok(back !== undefined);
            assert.equal(zoomifyTileUrl('/zoom/img', tiers, back.level, back.col, back.row), url);
          }
        }
        assertPartition(rects, w, h);
        assert.equal(resolve(recognise(`/zoom/img/TileGroup0/${z}-${tier.cols}-0.jpg`), g).rect, null);
      }),
      RUNS,
    );
  });
});

describe('IIIF properties', () => {
  it('the tile formula partitions the image at every scale factor; s = ⌈w/sf⌉/w; rect URL round-trips', () => {
    fc.assert(
      fc.property(
        side,
        side,
        fc.integer({ min: 64, max: 1024 }),
        fc.integer({ min: 0, max: 6 }),
        fc.string({ unit: fc.constantFrom('a', 'b', '/', '%', ' ', '.', '-', '_', '~', ':', '+'), minLength: 1, maxLength: 10 }),
        fc.constantFrom('iiif2' as const, 'iiif3' as const),
        (w, h, tw, e, id, version) => {
          const sf = 2 ** e;
          const g = geom(w, h, tw);
          const { cols, rows } = iiifTileGrid(w, h, tw, tw, sf);
          const rects: Rect[] = [];
          for (let m = 0; m < rows; m++) {
            for (let n = 0; n < cols; n++) {
              const t = iiifTileRegion(w, h, tw, tw, sf, n, m);
              assert.ok(t !== undefined);
              const url = iiifTileUrl('/iiif', id, t, version);
              const a = recognise(url);
              assert.equal(a.imageId, id);
              // 3.0 `w,h` tiles are always 'tile'; a 2.x `w,` sliver keeps its aspect ratio and may exceed tileMaxEdge
              if (version === 'iiif3') assert.equal(a.kind, 'tile', url);
              else assert.ok(a.kind === 'tile' || a.kind === 'region');
              const req = resolve(a, g);
              assert.ok(req.rect !== null);
              rects.push(req.rect);
              const rw = req.rect.x1 - req.rect.x0;
              assert.ok(req.scale >= 1 / sf - 1e-12 && req.scale <= 1);
              if (version === 'iiif2') {
                assert.ok(Math.abs(req.scale * rw - Math.ceil(rw / sf)) < 1e-9);
                assert.equal(iiifRectUrl('/iiif', id, req.rect, req.scale), url);
              }
            }
          }
          assertPartition(rects, w, h);
          assert.equal(iiifTileRegion(w, h, tw, tw, sf, cols, 0), undefined);
        },
      ),
      RUNS,
    );
  });
  it('any region maps inside the image with 0 < s ≤ 1', () => {
    const pct = fc.integer({ min: 0, max: 12000 }).map((v) => v / 100);
    fc.assert(
      fc.property(side, side, pct, pct, pct, pct, fc.integer({ min: 1, max: 5000 }), (w, h, x, y, rw, rh, out) => {
        fc.pre(rw > 0 && rh > 0);
        const a = recognise(`/iiif/id/pct:${x},${y},${rw},${rh}/${out},/0/default.jpg`);
        const req = resolve(a, geom(w, h, 256));
        const rect = iiifRegionRect({ type: 'pct', x, y, w: rw, h: rh }, w, h);
        assert.deepEqual(req.rect, rect);
        if (req.rect !== null) {
          assert.ok(req.rect.x0 >= 0 && req.rect.y0 >= 0 && req.rect.x1 <= w && req.rect.y1 <= h);
          assert.ok(req.scale > 0 && req.scale <= 1);
        } else {
          assert.equal(req.scale, 0);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('XYZ / TMS / WMTS properties', () => {
  it('tiles of any zoom partition the layer extent; every URL form round-trips to the same tile', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.nat(), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true }), (zmax, zpick, fw, fh) => {
        const full = 2 ** zmax * 256;
        const w = Math.max(1, Math.round(full * fw));
        const h = Math.max(1, Math.round(full * fh));
        const g = geom(w, h, 256, 0, zmax);
        const z = zpick % (zmax + 1);
        const rects: Rect[] = [];
        for (let y = 0; y < 2 ** z; y++) {
          for (let x = 0; x < 2 ** z; x++) {
            const forms = [
              xyzTileUrl('/osm', z, x, y),
              tmsTileUrl('/tms/1.0.0/osm', z, x, y),
              wmtsKvpTileUrl('/wmts', 'osm', 'WebMercatorQuad', `EPSG:3857:${z}`, y, x),
              wmtsRestTileUrl('/wmts/osm/default/WebMercatorQuad', z, y, x),
              arcgisTileUrl('/arcgis/rest/services/osm/MapServer', z, y, x),
            ];
            const reqs = forms.map((u) => resolve(recognise(u), g));
            for (const q of reqs) {
              assert.deepEqual([q.level, q.col, q.row], [z, x, y]);
              assert.deepEqual(q.rect, reqs[0]?.rect);
              assert.equal(q.scale, reqs[0]?.scale);
            }
            const q0 = reqs[0];
            if (q0 === undefined || q0.rect === null) continue;
            rects.push(q0.rect);
            assert.equal(q0.scale, 2 ** -(zmax - z));
            const back = xyzTileAt(g, q0.rect, q0.scale);
            assert.deepEqual(back, { level: z, col: x, row: y });
          }
        }
        assertPartition(rects, w, h);
      }),
      RUNS,
    );
  });
});

describe('IIP properties', () => {
  it('JTL tiles of any resolution partition the image and round-trip via the tile index', () => {
    fc.assert(
      fc.property(side, side, fc.integer({ min: 128, max: 512 }), fc.nat(), (w, h, t, rpick) => {
        const g = geom(w, h, t);
        const n = iipResolutionCount(w, h, t);
        const res = rpick % n;
        const grid = iipResolutionGrid(g, res);
        assert.ok(grid !== undefined);
        const rects: Rect[] = [];
        for (let i = 0; i < grid.cols * grid.rows; i++) {
          const url = iipTileUrl('/iipsrv.fcgi', '/data/img.tif', res, i);
          const req = resolve(recognise(url), g);
          assert.ok(req.rect !== null);
          assert.equal(req.scale, 2 ** -(n - 1 - res));
          rects.push(req.rect);
          assert.equal(iipTileUrl('/iipsrv.fcgi', '/data/img.tif', req.level, req.row * grid.cols + req.col), url);
        }
        assertPartition(rects, w, h);
      }),
      RUNS,
    );
  });
  it('DeepZoom mode (overlap 0) equals native DZI geometry', () => {
    fc.assert(
      fc.property(side, side, fc.nat(), fc.nat(), fc.nat(), (w, h, lp, cp, rp) => {
        const g = geom(w, h, 256, 0);
        const level = lp % (dziMaxLevel(w, h) + 1);
        const grid = dziLevelGrid(g, level);
        assert.ok(grid !== undefined);
        const col = cp % grid.cols;
        const row = rp % grid.rows;
        const viaIip = resolve(recognise(iipDeepZoomUrl('/iipsrv.fcgi', '/img.tif', level, col, row)), g);
        const native = resolve(recognise(dziTileUrl('/img.tif', level, col, row)), g);
        assert.deepEqual(viaIip, native);
      }),
      RUNS,
    );
  });
});

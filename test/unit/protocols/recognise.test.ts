import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolve } from '../../../services/core/protocols/geometry.ts';
import { compileOptions } from '../../../services/core/protocols/options.ts';
import { recognise } from '../../../services/core/protocols/recognise.ts';
import { splitTarget } from '../../../services/core/protocols/target.ts';
import type { Protocol, RequestKind } from '../../../services/core/types.ts';
import { assertPlacement, geom, r } from './helpers.ts';

describe('pages, assets, other', () => {
  const cases: Array<[string, RequestKind]> = [
    ['/', 'page'],
    ['/viewer/', 'page'],
    ['/items/1234', 'page'],
    ['/items/1234.html?x=1', 'page'],
    ['/index.HTM', 'page'],
    ['/static/osd.min.js', 'asset'],
    ['/static/app.css?v=3', 'asset'],
    ['/fonts/a.woff2', 'asset'],
    ['/fonts/a.woff', 'asset'],
    ['/fonts/a.ttf', 'asset'],
    ['/img/icon.svg', 'asset'],
    ['/favicon.ico', 'asset'],
    ['/static/osd.min.js.map', 'asset'],
    ['/images/logo.png', 'other'],
    ['/robots.txt', 'other'],
    ['/api/data.json', 'other'],
    ['', 'page'],
  ];
  for (const [u, kind] of cases) {
    it(`${JSON.stringify(u)} → ${kind}`, () => {
      const a = recognise(u);
      assert.deepEqual(a, { protocol: 'none', imageId: '', kind, level: -1, col: -1, row: -1 });
      assertPlacement(resolve(a, geom(100, 100, 256)), null, 0);
    });
  }
});

describe('target handling', () => {
  it('splits query and drops fragments; absolute-form targets', () => {
    assert.deepEqual(splitTarget('/a/b?c=d#e'), { path: '/a/b', query: 'c=d' });
    assert.deepEqual(splitTarget('/a/b#e?c=d'), { path: '/a/b', query: '' });
    assert.deepEqual(splitTarget('http://h.example:8080/a?x'), { path: '/a', query: 'x' });
    assert.deepEqual(splitTarget('https://h.example?x=1'), { path: '/', query: 'x=1' });
    assert.equal(recognise('http://tiles.example/img_files/14/10_5.jpg').imageId, '/img');
  });
  it('ignores query strings on path protocols and unrelated queries', () => {
    assert.equal(recognise('/img_files/14/10_5.jpg?service=x').protocol, 'dzi');
    assert.equal(recognise('/img_files/14/10_5.jpg?request=foo&service=WMS').protocol, 'dzi');
    assert.equal(recognise('/img_files/14/10_5.jpg#x').protocol, 'dzi');
    assert.equal(recognise('/geoserver/wms?SERVICE=WMS&REQUEST=GetMap&LAYERS=x&BBOX=0,0,1,1').kind, 'other');
    assert.equal(recognise('/search?q=tiles&page=2').kind, 'page');
  });
});

describe('custom patterns', () => {
  const opts = compileOptions({
    patterns: [
      { name: 'odd', pattern: '^/img/(?<image>[^/]+)/z(?<level>\\d+)/(?<col>\\d+)-(?<row>\\d+)\\.jpg$', protocol: 'dzi' },
      { name: 'odd-info', pattern: '^/img/(?<image>[^/]+)/meta\\.xml$', protocol: 'dzi', kind: 'info' },
      { name: 'tms', pattern: '^/maps/(?<image>\\w+)/(?<level>\\d+)/(?<col>\\d+)/(?<row>\\d+)\\.jpe?g$', protocol: 'tms', flags: 'i' },
      { name: 'zoomify', pattern: '^/zz/(?<image>.+)/t(?<level>\\d+)_(?<col>\\d+)_(?<row>\\d+)$', protocol: 'zoomify' },
    ],
  });
  it('maps named groups to addresses', () => {
    assert.deepEqual(recognise('/img/abc/z12/3-4.jpg', opts), { protocol: 'dzi', imageId: 'abc', kind: 'tile', level: 12, col: 3, row: 4 });
    assert.deepEqual(recognise('/img/abc/meta.xml', opts), { protocol: 'dzi', imageId: 'abc', kind: 'info', level: -1, col: -1, row: -1 });
    assert.deepEqual(recognise('/MAPS/topo/14/8185/10935.JPG?x=1', opts), { protocol: 'tms', imageId: 'topo', kind: 'tile', level: 14, col: 8185, row: 5448 });
    assert.deepEqual(recognise('/zz/a/b/t5_3_2', opts), { protocol: 'zoomify', imageId: 'a/b', kind: 'tile', level: 5, col: 3, row: 2 });
  });
  it('falls through to built-ins when no pattern matches or values are out of range', () => {
    assert.equal(recognise('/img/abc/z12/3-4.png', opts).protocol, 'none');
    assert.equal(recognise('/maps/topo/2/0/4.jpg', opts).protocol, 'none');
    assert.equal(recognise('/img/abc/z99/3-4.jpg', opts).protocol, 'none');
    assert.equal(recognise('/img_files/1/0_0.jpg', opts).protocol, 'dzi');
  });
  it('rejects bad configuration at compile time', () => {
    assert.throws(() => compileOptions({ patterns: [{ name: 'x', pattern: '(', protocol: 'dzi' }] }), /invalid RegExp/);
    assert.throws(() => compileOptions({ patterns: [{ name: 'x', pattern: '^/(?<image>a)$', protocol: 'dzi' }] }), /missing named group 'level'/);
    assert.throws(() => compileOptions({ patterns: [{ name: 'x', pattern: '^/(?<image>a)$', protocol: 'dzi', kind: 'info', flags: 'g' }] }), /flags/);
    assert.throws(() => compileOptions({ thumbnailMaxEdge: 0 }), /thumbnailMaxEdge/);
  });
});

describe('recognise never throws (property)', () => {
  const protocols: ReadonlySet<Protocol> = new Set(['iiif2', 'iiif3', 'dzi', 'zoomify', 'xyz', 'tms', 'wmts', 'iip', 'none']);
  const piece = fc.constantFrom('/', '?', '&', '=', '%', '%2F', '%E0%A4%A', '#', ',', '!', '^', 'pct:', 'full', 'max', '_files', 'TileGroup1', 'info.json', 'default.jpg', 'FIF=', 'JTL=', 'IIIF=', 'DeepZoom=', 'Zoomify=', 'SERVICE=WMTS', 'REQUEST=GetTile', 'TILEMATRIX=', 'wmts', 'tms', 'tile', 'MapServer', '.dzi', '.png', '0', '12', '99999999999', '-1', '1.5', 'a');
  it('returns a well-formed address for arbitrary targets', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(piece, { maxLength: 24 }).map((p) => p.join(''))), (t) => {
        const a = recognise(t);
        assert.ok(protocols.has(a.protocol));
        assert.ok(Number.isInteger(a.level) && Number.isInteger(a.col) && Number.isInteger(a.row));
        const q = resolve(a, geom(5000, 4000, 256, 1));
        assert.ok(q.scale >= 0 && q.scale <= 1);
        if (q.rect !== null) assert.ok(q.rect.x1 > q.rect.x0 && q.rect.y1 > q.rect.y0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('learned vs catalogue examples through resolve', () => {
  it('same DZI tile under two prefixes has two image ids', () => {
    assert.notEqual(recognise('/a/img_files/1/0_0.jpg').imageId, recognise('/b/img_files/1/0_0.jpg').imageId);
    assertPlacement(resolve(recognise('/a/img_files/0/0_0.jpg'), geom(1, 1, 254, 1)), r(0, 0, 1, 1), 1);
  });
});

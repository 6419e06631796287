import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from '../../../services/core/protocols/geometry.ts';
import { formatIiifRegion, formatIiifSize, iiifKind, parseIiifRegion, parseIiifSize } from '../../../services/core/protocols/iiif.ts';
import { compileOptions } from '../../../services/core/protocols/options.ts';
import { recognise } from '../../../services/core/protocols/recognise.ts';
import { assertPlacement, geom, r } from './helpers.ts';

const G = geom(6000, 4000, 512);

describe('IIIF worked examples (6000×4000, tiles 512)', () => {
  it('edge tile 4096,2048,1904,1952/476,488 → [4096,2048,6000,4000], s=0.25', () => {
    const a = recognise('/iiif/abcd/4096,2048,1904,1952/476,488/0/default.jpg');
    assert.equal(a.imageId, 'abcd');
    assert.equal(a.kind, 'tile');
    assertPlacement(resolve(a, G), r(4096, 2048, 6000, 4000), 0.25);
  });
  it('1024,512,512,512/512, → [1024,512,1536,1024], s=1', () => {
    const a = recognise('/iiif/abcd/1024,512,512,512/512,/0/default.jpg');
    assert.equal(a.kind, 'tile');
    assertPlacement(resolve(a, G), r(1024, 512, 1536, 1024), 1);
  });
  it('pct:10,20,30,40/pct:50 gray.png → [600,800,2400,2400], s=0.5', () => {
    const a = recognise('/iiif/abcd/pct:10,20,30,40/pct:50/0/gray.png');
    assert.equal(a.kind, 'region');
    assertPlacement(resolve(a, G), r(600, 800, 2400, 2400), 0.5);
  });
  it('full/!1000,1000 → whole image, s=1/6', () => {
    const a = recognise('/iiif/abcd/full/!1000,1000/0/default.jpg');
    assert.equal(a.kind, 'full');
    assertPlacement(resolve(a, G), r(0, 0, 6000, 4000), 1 / 6);
  });
  it('full/full (2.x) and full/max (3.0) → whole image at s=1', () => {
    const a2 = recognise('/iiif/abcd/full/full/0/default.jpg');
    const a3 = recognise('/iiif/abcd/full/max/0/default.jpg');
    assert.equal(a2.protocol, 'iiif2');
    assert.equal(a3.protocol, 'iiif3');
    for (const a of [a2, a3]) {
      assert.equal(a.kind, 'full');
      assertPlacement(resolve(a, G), r(0, 0, 6000, 4000), 1);
    }
  });
});

describe('IIIF recognition', () => {
  it('parses from the right whatever the prefix depth', () => {
    for (const prefix of ['', '/iiif', '/a/b/c/iiif/2', '/cantaloupe/iiif/3']) {
      const a = recognise(`${prefix}/img1/0,0,512,512/512,/0/default.jpg`);
      assert.equal(a.imageId, 'img1', prefix);
      assert.equal(a.kind, 'tile');
      assert.deepEqual(a.iiif?.region, { type: 'px', x: 0, y: 0, w: 512, h: 512 });
    }
  });
  it('decodes %2F identifiers once', () => {
    assert.equal(recognise('/iiif/2/books%2Fms1%2Fp001.jp2/full/full/0/default.jpg').imageId, 'books/ms1/p001.jp2');
    assert.equal(recognise('/iiif/a%252Fb/info.json').imageId, 'a%2Fb');
  });
  it('info.json → info', () => {
    const a = recognise('/iiif/3/abcd/info.json?x=1');
    assert.equal(a.kind, 'info');
    assert.equal(a.protocol, 'iiif3');
    assert.equal(a.imageId, 'abcd');
    assert.equal(resolve(a, G).rect, null);
    assert.equal(resolve(a, G).scale, 0);
  });
  it('version: ^ → 3, full → 2, path hint, max → 3, fallback option', () => {
    assert.equal(recognise('/iiif/x/full/^max/0/default.jpg').protocol, 'iiif3');
    assert.equal(recognise('/iiif/x/0,0,10,10/^20,/0/default.jpg').protocol, 'iiif3');
    assert.equal(recognise('/iiif/x/0,0,10,10/full/0/default.jpg').protocol, 'iiif2');
    assert.equal(recognise('/iiif/x/0,0,10,10/10,/0/native.jpg').protocol, 'iiif2');
    assert.equal(recognise('/iiif/3/x/0,0,10,10/10,/0/default.jpg').protocol, 'iiif3');
    assert.equal(recognise('/iiif/2/x/full/max/0/default.jpg').protocol, 'iiif2');
    assert.equal(recognise('/iiif/x/0,0,10,10/10,/0/default.jpg').protocol, 'iiif2');
    assert.equal(recognise('/iiif/x/0,0,10,10/10,/0/default.jpg', compileOptions({ iiifVersion: 'iiif3' })).protocol, 'iiif3');
  });
  it('all quality and format values, rotation forms, query string stripped, encoded size', () => {
    for (const q of ['default', 'color', 'gray', 'bitonal', 'native', 'grey']) {
      for (const f of ['jpg', 'tif', 'png', 'gif', 'jp2', 'pdf', 'webp']) {
        assert.equal(recognise(`/i/x/full/full/!90/${q}.${f}?t=5#frag`).kind, 'full', `${q}.${f}`);
      }
    }
    assert.equal(recognise('/i/x/full/%21200%2C200/0/default.jpg').kind, 'thumbnail');
    assert.equal(recognise('/i/x/full/full/0/sepia.jpg').protocol, 'none');
    assert.equal(recognise('/i/x/full/full/abc/default.jpg').protocol, 'none');
  });
  it('kinds: thumbnail vs full, tile vs region, square', () => {
    const k = (u: string): string => recognise(u).kind;
    assert.equal(k('/i/x/full/200,/0/default.jpg'), 'thumbnail');
    assert.equal(k('/i/x/full/,150/0/default.jpg'), 'thumbnail');
    assert.equal(k('/i/x/full/400,300/0/default.jpg'), 'thumbnail');
    assert.equal(k('/i/x/full/401,/0/default.jpg'), 'full');
    assert.equal(k('/i/x/full/pct:5/0/default.jpg'), 'full');
    assert.equal(k('/i/x/square/200,/0/default.jpg'), 'thumbnail');
    assert.equal(k('/i/x/square/full/0/default.jpg'), 'region');
    assert.equal(k('/i/x/0,0,1024,1024/full/0/default.jpg'), 'tile');
    assert.equal(k('/i/x/0,0,3000,3000/full/0/default.jpg'), 'region');
    assert.equal(k('/i/x/0,0,4096,4096/512,/0/default.jpg'), 'tile');
    assert.equal(k('/i/x/0,0,4096,8192/512,/0/default.jpg'), 'tile');
    assert.equal(k('/i/x/0,0,1000,4000/512,/0/default.jpg'), 'region');
    assert.equal(k('/i/x/pct:0,0,50,50/512,512/0/default.jpg'), 'tile');
    assert.equal(k('/i/x/pct:0,0,50,50/max/0/default.jpg'), 'region');
    assert.equal(iiifKind({ type: 'full' }, { type: 'w', w: 300, upscale: false }, compileOptions({ thumbnailMaxEdge: 200 })), 'full');
  });
  it('invalid values → kind other, never throws', () => {
    for (const u of ['/i/x/0,0,0,10/10,/0/default.jpg', '/i/x/full/0,/0/default.jpg', '/i/x/full/pct:0/0/default.jpg', '/i/x/full/full/400/default.jpg']) {
      const a = recognise(u);
      assert.equal(a.kind, 'other', u);
      assert.equal(a.imageId, 'x');
      assert.equal(a.iiif, undefined);
    }
    for (const u of ['/full/full/0/default.jpg', '/i/x/full/^full/0/default.jpg', '/i/x/1,2,3/full/0/default.jpg', '/i/x/pct:a,0,1,1/full/0/default.jpg']) {
      assert.equal(recognise(u).protocol, 'none', u);
    }
  });
  it('parse/format region and size round-trip', () => {
    for (const s of ['full', 'square', '0,0,512,512', 'pct:10,20.5,30,40']) assert.equal(formatIiifRegion(parseIiifRegion(s) ?? { type: 'full' }), s);
    for (const s of ['full', 'max', '^max', '512,', ',512', 'pct:50', '^pct:150', '512,256', '!1000,1000', '^!2000,2000', '^512,']) {
      const p = parseIiifSize(s);
      assert.ok(p !== undefined, s);
      assert.equal(formatIiifSize(p), s);
    }
  });
});

describe('IIIF geometry', () => {
  it('square region is the centred min(W,H) square', () => {
    assertPlacement(resolve(recognise('/i/x/square/500,/0/default.jpg'), G), r(1000, 0, 5000, 4000), 500 / 4000);
  });
  it('w,h and !w,h use min(w/rw, h/rh); !w,h and ^ sizes cap at 1', () => {
    assertPlacement(resolve(recognise('/i/x/0,0,1000,500/100,100/0/default.jpg'), G), r(0, 0, 1000, 500), 0.1);
    assertPlacement(resolve(recognise('/i/x/0,0,1000,500/!5000,5000/0/default.jpg'), G), r(0, 0, 1000, 500), 1);
    assertPlacement(resolve(recognise('/i/x/0,0,100,100/^400,/0/default.jpg'), G), r(0, 0, 100, 100), 1);
    assertPlacement(resolve(recognise('/i/x/0,0,1000,1000/,250/0/default.jpg'), G), r(0, 0, 1000, 1000), 0.25);
  });
  it('regions outside the image reveal nothing', () => {
    assertPlacement(resolve(recognise('/i/x/6000,0,512,512/512,/0/default.jpg'), G), null, 0);
    assertPlacement(resolve(recognise('/i/x/pct:100,0,10,10/512,/0/default.jpg'), G), null, 0);
  });
  it('without geometry: px regions unclipped with implied scale; full sizes s=1; unknown → 0', () => {
    assertPlacement(resolve(recognise('/iiif/abcd/4096,2048,1904,1952/476,488/0/default.jpg'), undefined), r(4096, 2048, 6000, 4000), 0.25);
    assertPlacement(resolve(recognise('/iiif/abcd/4096,2048,2048,2048/512,/0/default.jpg'), undefined), r(4096, 2048, 6144, 4096), 0.25);
    assertPlacement(resolve(recognise('/iiif/abcd/full/full/0/default.jpg'), undefined), null, 1);
    assertPlacement(resolve(recognise('/iiif/abcd/full/max/0/default.jpg'), undefined), null, 1);
    assertPlacement(resolve(recognise('/iiif/abcd/full/pct:25/0/default.jpg'), undefined), null, 0.25);
    assertPlacement(resolve(recognise('/iiif/abcd/full/!1000,1000/0/default.jpg'), undefined), null, 0);
  });
});

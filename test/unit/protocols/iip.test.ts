import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from '../../../services/core/protocols/geometry.ts';
import { iipResolutionCount } from '../../../services/core/protocols/iip.ts';
import { recognise } from '../../../services/core/protocols/recognise.ts';
import { assertPlacement, geom, r } from './helpers.ts';

const G = geom(10000, 8000, 256);

describe('IIP worked examples (10000×8000, 256, 7 resolutions)', () => {
  it('has 7 resolutions', () => assert.equal(iipResolutionCount(10000, 8000, 256), 7));
  it('JTL=5,37 → [8704,512,9216,1024], s=0.5', () => {
    const a = recognise('/fcgi-bin/iipsrv.fcgi?FIF=/img.tif&JTL=5,37');
    assert.deepEqual(a, { protocol: 'iip', imageId: '/img.tif', kind: 'tile', level: 5, col: 37, row: -1 });
    const t = resolve(a, G);
    assertPlacement(t, r(8704, 512, 9216, 1024), 0.5);
    assert.deepEqual([t.level, t.col, t.row], [5, 17, 1]);
  });
  it('JTL=6,0 → [0,0,256,256], s=1', () => {
    assertPlacement(resolve(recognise('/iipsrv.fcgi?FIF=/img.tif&JTL=6,0'), G), r(0, 0, 256, 256), 1);
  });
  it('WID=800&RGN=0.25,0.25,0.5,0.5&CVT=jpeg → [2500,2000,7500,6000], s=0.16', () => {
    const a = recognise('/iipsrv.fcgi?FIF=/img.tif&WID=800&RGN=0.25,0.25,0.5,0.5&CVT=jpeg');
    assert.equal(a.kind, 'region');
    assert.deepEqual(a.iipRegion, { x: 0.25, y: 0.25, w: 0.5, h: 0.5, outW: 800, outH: 0 });
    assertPlacement(resolve(a, G), r(2500, 2000, 7500, 6000), 0.16);
  });
});

describe('IIP recognition', () => {
  it('commands are case-insensitive and order-free; FIF decoded once', () => {
    for (const q of ['fif=/img.tif&jtl=5,37', 'SDS=0,90&CNT=1.0&JTL=5,37&FIF=/img.tif', 'Fif=%2Fimg.tif&Jtl=5%2C37', 'FIF=/img.tif&PTL=5,37', 'FIF=/img.tif&WTL=5,37']) {
      const a = recognise(`/iip?${q}`);
      assert.deepEqual([a.protocol, a.imageId, a.kind, a.level, a.col], ['iip', '/img.tif', 'tile', 5, 37], q);
    }
  });
  it('OBJ → info; whole-image exports are thumbnail/full; junk → other', () => {
    assert.equal(recognise('/iip?FIF=/a.tif&obj=IIP,1.0&obj=Max-size').kind, 'info');
    assert.equal(recognise('/iip?FIF=/a.tif&WID=200&CVT=jpeg').kind, 'thumbnail');
    assert.equal(recognise('/iip?FIF=/a.tif&WID=3000&CVT=jpeg').kind, 'full');
    assert.equal(recognise('/iip?FIF=/a.tif&CVT=jpeg&RGN=0,0,1,1').kind, 'full');
    assert.equal(recognise('/iip?FIF=/a.tif&JTL=x').kind, 'other');
    assert.equal(recognise('/iip?FIF=/a.tif&RGN=0,0,1&CVT=jpeg').kind, 'other');
    assert.equal(recognise('/iip?FIF=/a.tif').kind, 'other');
  });
  it('export scales: HEI, WID+HEI, none', () => {
    assertPlacement(resolve(recognise('/iip?FIF=/a.tif&HEI=400&CVT=jpeg'), G), r(0, 0, 10000, 8000), 0.05);
    assertPlacement(resolve(recognise('/iip?FIF=/a.tif&WID=1000&HEI=400&CVT=jpeg'), G), r(0, 0, 10000, 8000), 0.05);
    assertPlacement(resolve(recognise('/iip?FIF=/a.tif&RGN=0.5,0.5,0.1,0.1&CVT=jpeg'), G), r(5000, 4000, 6000, 4800), 1);
    assertPlacement(resolve(recognise('/iip?FIF=/a.tif&RGN=0.5,0.5,0.1,0.1&CVT=jpeg'), undefined), null, 1);
    assertPlacement(resolve(recognise('/iip?FIF=/a.tif&WID=800&CVT=jpeg'), undefined), null, 0);
  });
  it('IIIF mode → IIIF semantics with the FIF path as id', () => {
    const a = recognise('/fcgi-bin/iipsrv.fcgi?IIIF=/images/img.tif/1024,512,512,512/512,/0/default.jpg');
    assert.deepEqual([a.protocol, a.imageId, a.kind], ['iiif2', '/images/img.tif', 'tile']);
    assertPlacement(resolve(a, geom(6000, 4000, 512)), r(1024, 512, 1536, 1024), 1);
    assert.equal(recognise('/iipsrv.fcgi?IIIF=/img.tif/info.json').kind, 'info');
    assert.equal(recognise('/iipsrv.fcgi?IIIF=/img.tif/info.json').imageId, '/img.tif');
    assert.equal(recognise('/iipsrv.fcgi?IIIF=/img.tif/full/max/0/default.jpg').protocol, 'iiif3');
  });
  it('DeepZoom and Zoomify modes', () => {
    const d = recognise('/iipsrv.fcgi?DeepZoom=/img.tif_files/14/10_5.jpg');
    assert.deepEqual(d, { protocol: 'dzi', imageId: '/img.tif', kind: 'tile', level: 14, col: 10, row: 5 });
    assertPlacement(resolve(d, geom(10000, 8000, 256, 0)), r(2560, 1280, 2816, 1536), 1);
    assert.equal(recognise('/iipsrv.fcgi?DeepZoom=/img.tif.dzi').kind, 'info');
    assert.equal(recognise('/iipsrv.fcgi?DeepZoom=/img.tif.dzi').imageId, '/img.tif');
    const z = recognise('/iipsrv.fcgi?Zoomify=/img.tif/TileGroup0/5-3-2.jpg');
    assert.deepEqual(z, { protocol: 'zoomify', imageId: '/img.tif', kind: 'tile', level: 5, col: 3, row: 2 });
    assert.equal(recognise('/iipsrv.fcgi?Zoomify=/img.tif/ImageProperties.xml').kind, 'info');
    assert.deepEqual([recognise('/iipsrv.fcgi?DeepZoom=garbage').protocol, recognise('/iipsrv.fcgi?DeepZoom=garbage').kind], ['iip', 'other']);
  });
  it('JTL without geometry keeps the index; out-of-range index reveals nothing', () => {
    const t = resolve(recognise('/iip?FIF=/img.tif&JTL=5,37'), undefined);
    assert.deepEqual([t.col, t.row, t.rect, t.scale], [37, -1, null, 0]);
    assertPlacement(resolve(recognise('/iip?FIF=/img.tif&JTL=6,1280'), G), null, 0);
    assertPlacement(resolve(recognise('/iip?FIF=/img.tif&JTL=7,0'), G), null, 0);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from '../../../services/core/protocols/geometry.ts';
import { recognise } from '../../../services/core/protocols/recognise.ts';
import { tmsToXyzRow, xyzDeepestCells } from '../../../services/core/protocols/xyz.ts';
import { assertPlacement, geom, r } from './helpers.ts';

const WORLD18 = geom(2 ** 18 * 256, 2 ** 18 * 256, 256, 0, 18);

describe('XYZ / TMS / WMTS worked example (Zmax = 18)', () => {
  const urls = {
    xyz: '/14/8185/5448.png',
    tms: '/tms/1.0.0/osm/14/8185/10935.png',
    wmtsKvp: '/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=osm&STYLE=default&TILEMATRIXSET=GoogleMapsCompatible&TILEMATRIX=14&TILEROW=5448&TILECOL=8185&FORMAT=image/png',
    wmtsRest: '/geoserver/gwc/service/wmts/rest/osm/default/EPSG:3857/EPSG:3857:14/5448/8185?format=image/png',
    arcgis: '/arcgis/rest/services/World_Imagery/MapServer/tile/14/5448/8185',
  };
  for (const [name, url] of Object.entries(urls)) {
    it(`${name}: z14 x8185 y5448 → deepest columns 130960–130975, rows 87168–87183, s = 1/16`, () => {
      const a = recognise(url);
      assert.equal(a.kind, 'tile');
      assert.deepEqual([a.level, a.col, a.row], [14, 8185, 5448]);
      const c = xyzDeepestCells(a.level, a.col, a.row, 18);
      assert.deepEqual([c.col0, c.col1 - 1, c.row0, c.row1 - 1], [130960, 130975, 87168, 87183]);
      assertPlacement(resolve(a, WORLD18), r(130960 * 256, 87168 * 256, 130976 * 256, 87184 * 256), 1 / 16);
    });
  }
  it('protocols and image ids', () => {
    assert.equal(recognise(urls.xyz).protocol, 'xyz');
    assert.equal(recognise(urls.xyz).imageId, '/');
    assert.equal(recognise(urls.tms).protocol, 'tms');
    assert.equal(recognise(urls.tms).imageId, '/tms/1.0.0/osm');
    assert.equal(recognise(urls.wmtsKvp).protocol, 'wmts');
    assert.equal(recognise(urls.wmtsKvp).imageId, 'osm');
    assert.equal(recognise(urls.wmtsRest).imageId, '/geoserver/gwc/service/wmts/rest/osm/default/EPSG:3857');
    assert.equal(recognise(urls.arcgis).imageId, '/arcgis/rest/services/World_Imagery/MapServer');
    assert.equal(tmsToXyzRow(14, 10935), 5448);
  });
});

describe('XYZ recognition', () => {
  it('layer prefixes, retina suffix, vector tiles, case-insensitive WMTS KVP', () => {
    assert.deepEqual(recognise('/tiles/osm/bright/3/2/5@2x.png'), { protocol: 'xyz', imageId: '/tiles/osm/bright', kind: 'tile', level: 3, col: 2, row: 5 });
    assert.equal(recognise('/v/12/1/2.pbf').protocol, 'xyz');
    assert.equal(recognise('/v/12/1/2.MVT').protocol, 'xyz');
    const a = recognise('/service?layer=sat&tilematrix=EPSG:3857:7&TileRow=3&tilecol=9&request=gettile&service=wmts');
    assert.deepEqual([a.protocol, a.imageId, a.level, a.col, a.row], ['wmts', 'sat', 7, 9, 3]);
    assert.equal(recognise('/wmts?SERVICE=WMTS&REQUEST=GetCapabilities').kind, 'info');
    assert.equal(recognise('/wmts/1.0.0/WMTSCapabilities.xml').kind, 'info');
    assert.equal(recognise('/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=x&TILEMATRIX=a').kind, 'other');
  });
  it('out-of-range numbers are not map tiles', () => {
    assert.equal(recognise('/photos/2019/12/25.jpg').protocol, 'none');
    assert.equal(recognise('/t/2/4/0.png').protocol, 'none');
    assert.equal(recognise('/tms/2/0/4.png').protocol, 'none');
  });
  it('geometry: clipped to the layer extent, unknown without geometry, overzoom s=1', () => {
    const g = geom(1000, 600, 256, 0, 2);
    assertPlacement(resolve(recognise('/l/2/3/2.png'), g), r(768, 512, 1000, 600), 1);
    assertPlacement(resolve(recognise('/l/1/1/1.png'), g), r(512, 512, 1000, 600), 0.5);
    assertPlacement(resolve(recognise('/l/0/0/0.png'), g), r(0, 0, 1000, 600), 0.25);
    assertPlacement(resolve(recognise('/l/3/0/0.png'), g), r(0, 0, 128, 128), 1);
    assertPlacement(resolve(recognise('/l/2/3/3.png'), g), null, 0);
    assertPlacement(resolve(recognise('/l/2/3/2.png'), undefined), null, 0);
    assertPlacement(resolve(recognise('/l/2/3/2.png'), geom(1000, 600, 256)), null, 0);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from '../../../services/core/protocols/geometry.ts';
import { recognise } from '../../../services/core/protocols/recognise.ts';
import { zoomifyTierCount, zoomifyTiers, zoomifyTiersFromNumTiles, zoomifyTileGroup } from '../../../services/core/protocols/zoomify.ts';
import { assertPlacement, geom, r } from './helpers.ts';

describe('Zoomify worked examples', () => {
  it('4000×2559 has 5 tiers; TileGroup0/4-10-3.jpg → [2560,768,2816,1024], s=1', () => {
    assert.equal(zoomifyTierCount(4000, 2559, 256), 5);
    assertPlacement(resolve(recognise('/z/img/TileGroup0/4-10-3.jpg'), geom(4000, 2559, 256)), r(2560, 768, 2816, 1024), 1);
  });
  it('10000×8000 has 7 tiers; TileGroup4/6-20-15.jpg → [5120,3840,5376,4096], s=1', () => {
    assert.equal(zoomifyTierCount(10000, 8000, 256), 7);
    assertPlacement(resolve(recognise('/z/img/TileGroup4/6-20-15.jpg'), geom(10000, 8000, 256)), r(5120, 3840, 5376, 4096), 1);
  });
  it('10000×8000: TileGroup0/5-3-2.jpg → [1536,1024,2048,1536], s=0.5', () => {
    assertPlacement(resolve(recognise('/z/img/TileGroup0/5-3-2.jpg'), geom(10000, 8000, 256)), r(1536, 1024, 2048, 1536), 0.5);
  });
});

describe('Zoomify recognition and tiers', () => {
  it('image id = folder; ImageProperties.xml → info; TileGroup ignored', () => {
    assert.deepEqual(recognise('/zoom/maps/big/TileGroup12/6-20-15.jpg'), { protocol: 'zoomify', imageId: '/zoom/maps/big', kind: 'tile', level: 6, col: 20, row: 15 });
    assert.deepEqual(recognise('/zoom/maps/big/ImageProperties.xml?v=2'), { protocol: 'zoomify', imageId: '/zoom/maps/big', kind: 'info', level: -1, col: -1, row: -1 });
    assert.equal(recognise('/TileGroup0/0-0-0.jpg').imageId, '/');
    assert.equal(recognise('/z/tilegroup0/0-0-0.JPG').protocol, 'zoomify');
    assert.equal(recognise('/z/TileGroupX/0-0-0.jpg').protocol, 'none');
  });
  it('rounding variants and NUMTILES', () => {
    assert.equal(zoomifyTierCount(513, 100, 256, 'ceil'), 3);
    assert.equal(zoomifyTierCount(513, 100, 256, 'floor'), 2);
    assert.equal(zoomifyTierCount(256, 256, 256), 1);
    const tiers = zoomifyTiers(10000, 8000, 256);
    const total = tiers.reduce((a, t) => a + t.cols * t.rows, 0);
    assert.equal(zoomifyTiersFromNumTiles(10000, 8000, 256, total)?.length, 7);
    assert.equal(zoomifyTiersFromNumTiles(10000, 8000, 256, total + 1), undefined);
  });
  it('TileGroup numbers follow the tile order', () => {
    const tiers = zoomifyTiers(10000, 8000, 256);
    // tiers 0..5 hold 1+2+6+20+80+320 = 429 tiles; tier 6 has 40 columns
    assert.equal(zoomifyTileGroup(tiers, 6, 20, 15), Math.floor((429 + 15 * 40 + 20) / 256));
    assert.equal(zoomifyTileGroup(tiers, 6, 20, 15), 4);
    assert.equal(zoomifyTileGroup(tiers, 5, 3, 2), 0);
    assert.equal(zoomifyTileGroup(tiers, 7, 0, 0), undefined);
  });
  it('tiers beyond N or tiles outside reveal nothing; maxLevel from geometry wins', () => {
    const g = geom(10000, 8000, 256);
    assertPlacement(resolve(recognise('/z/img/TileGroup0/7-0-0.jpg'), g), null, 0);
    assertPlacement(resolve(recognise('/z/img/TileGroup0/6-40-0.jpg'), g), null, 0);
    assertPlacement(resolve(recognise('/z/img/TileGroup0/5-3-2.jpg'), geom(10000, 8000, 256, 0, 5)), r(768, 512, 1024, 768), 1);
  });
});

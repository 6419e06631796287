import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from '../../../services/core/protocols/geometry.ts';
import { LearnedExtents, protocolFamily } from '../../../services/core/protocols/learnedExtents.ts';
import { recognise } from '../../../services/core/protocols/recognise.ts';

function feed(le: LearnedExtents, urls: readonly string[]): void {
  for (const u of urls) le.observe(recognise(u));
}

describe('LearnedExtents', () => {
  it('pyramid: deepest level and largest col/row, converting coarse levels by doubling', () => {
    const le = new LearnedExtents({ maxImages: 10 });
    feed(le, ['/img_files/10/3_2.jpg', '/img_files/12/5_1.jpg', '/img_files/11/6_7.jpg']);
    // at level 12: cols max(3·4, 5, 6·2) = 12, rows max(2·4, 1, 7·2) = 14
    assert.deepEqual(le.geometry('dzi', '/img'), { width: 13 * 256, height: 15 * 256, tileSize: 256, overlap: 0, maxLevel: 12, source: 'learned' });
    feed(le, ['/img_files/13/30_1.jpg']);
    // re-based to level 13: cols max(12·2, 30) = 30, rows 14·2 = 28
    assert.deepEqual(le.geometry('dzi', '/img'), { width: 31 * 256, height: 29 * 256, tileSize: 256, overlap: 0, maxLevel: 13, source: 'learned' });
  });
  it('learned geometry makes the deepest level s = 1 and places tiles', () => {
    const le = new LearnedExtents({ maxImages: 10, tileSize: { zoomify: 256 } });
    feed(le, ['/z/a/TileGroup0/4-10-3.jpg', '/z/a/TileGroup0/3-1-1.jpg']);
    const g = le.geometry('zoomify', '/z/a');
    assert.ok(g !== undefined);
    assert.equal(g.maxLevel, 4);
    const t = resolve(recognise('/z/a/TileGroup0/4-10-3.jpg'), g);
    assert.deepEqual(t.rect, { x0: 2560, y0: 768, x1: 2816, y1: 1024 });
    assert.equal(t.scale, 1);
    assert.equal(resolve(recognise('/z/a/TileGroup0/3-1-1.jpg'), g).scale, 0.5);
  });
  it('xyz/tms/wmts share a family; protocols are kept apart otherwise', () => {
    const le = new LearnedExtents({ maxImages: 10 });
    feed(le, ['/osm/3/5/6.png', '/x/img_files/3/5_6.jpg']);
    assert.equal(le.geometry('tms', '/osm')?.maxLevel, 3);
    assert.equal(le.geometry('dzi', '/osm'), undefined);
    assert.equal(protocolFamily('iiif3'), 'iiif');
    assert.equal(protocolFamily('none'), undefined);
  });
  it('IIIF: max x+w, y+h of px regions and the most common output width', () => {
    const le = new LearnedExtents({ maxImages: 10 });
    feed(le, [
      '/iiif/abcd/0,0,512,512/512,/0/default.jpg',
      '/iiif/abcd/512,0,512,512/512,/0/default.jpg',
      '/iiif/abcd/4096,2048,1904,1952/476,488/0/default.jpg',
      '/iiif/abcd/0,0,2048,2048/512,512/0/default.jpg',
      '/iiif/abcd/full/full/0/default.jpg',
      '/iiif/abcd/pct:0,0,100,100/max/0/default.jpg',
    ]);
    assert.deepEqual(le.geometry('iiif2', 'abcd'), { width: 6000, height: 4000, tileSize: 512, overlap: 0, maxLevel: -1, source: 'learned' });
    const le2 = new LearnedExtents({ maxImages: 10 });
    feed(le2, ['/iiif/x/full/full/0/default.jpg']);
    assert.equal(le2.geometry('iiif2', 'x'), undefined);
  });
  it('ignores pages, info, IIP and unknown images', () => {
    const le = new LearnedExtents({ maxImages: 10 });
    feed(le, ['/', '/img.dzi', '/iip?FIF=/a.tif&JTL=3,4', '/app.js']);
    assert.equal(le.size, 0);
    assert.equal(le.geometry('iip', '/a.tif'), undefined);
    assert.equal(le.geometry('dzi', '/img'), undefined);
  });
  it('evicts the least recently observed image beyond maxImages', () => {
    const le = new LearnedExtents({ maxImages: 2 });
    feed(le, ['/a_files/1/0_0.jpg', '/b_files/1/0_0.jpg', '/a_files/1/1_0.jpg', '/c_files/1/0_0.jpg']);
    assert.equal(le.size, 2);
    assert.notEqual(le.geometry('dzi', '/a'), undefined);
    assert.equal(le.geometry('dzi', '/b'), undefined);
    assert.notEqual(le.geometry('dzi', '/c'), undefined);
    assert.throws(() => new LearnedExtents({ maxImages: 0 }), /maxImages/);
  });
  it('version changes whenever an answer of geometry() may change, and only then', () => {
    const le = new LearnedExtents({ maxImages: 2 });
    const v0 = le.version;
    feed(le, ['/a_files/2/1_1.jpg']);
    const v1 = le.version;
    assert.notEqual(v1, v0); // learned
    const g = le.geometry('dzi', '/a');
    feed(le, ['/a_files/2/0_0.jpg', '/a_files/1/0_0.jpg']);
    assert.equal(le.version, v1); // nothing grew: the same geometry object
    assert.equal(le.geometry('dzi', '/a'), g);
    feed(le, ['/a_files/2/3_1.jpg']);
    assert.notEqual(le.version, v1); // grown
    assert.notEqual(le.geometry('dzi', '/a'), g);
    feed(le, ['/b_files/1/0_0.jpg', '/a_files/1/0_0.jpg', '/c_files/1/0_0.jpg']);
    // b was the least recently observed (a was observed after it): evicted, and found neither way
    assert.equal(le.geometry('dzi', '/b'), undefined);
    assert.notEqual(le.geometry('dzi', '/a'), undefined);
    feed(le, ['/b_files/1/0_0.jpg']);
    assert.notEqual(le.geometry('dzi', '/b'), undefined);
    assert.equal(le.geometry('dzi', '/a'), undefined);
    assert.equal(le.size, 2);
  });
});

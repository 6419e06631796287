import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dziLevelGrid, dziMaxLevel, dziTilePlacement } from '../../../services/core/protocols/dzi.ts';
import { resolve } from '../../../services/core/protocols/geometry.ts';
import { recognise } from '../../../services/core/protocols/recognise.ts';
import { assertPlacement, geom, r } from './helpers.ts';

const G = geom(10000, 8000, 254, 1);

describe('DZI worked examples (10000×8000, T=254, O=1, Lmax=14)', () => {
  it('Lmax = ⌈log2 10000⌉ = 14', () => {
    assert.equal(dziMaxLevel(10000, 8000), 14);
    assert.equal(dziMaxLevel(1, 1), 0);
    assert.equal(dziMaxLevel(8192, 100), 13);
    assert.equal(dziMaxLevel(8193, 100), 14);
  });
  it('img_files/14/10_5.jpg → [2539,1269,2795,1525], s=1', () => {
    assertPlacement(resolve(recognise('/img_files/14/10_5.jpg'), G), r(2539, 1269, 2795, 1525), 1);
  });
  it('img_files/12/3_2.jpg → [3044,2028,4068,3052], s=0.25', () => {
    assertPlacement(resolve(recognise('/img_files/12/3_2.jpg'), G), r(3044, 2028, 4068, 3052), 0.25);
  });
  it('img_files/8/0_0.jpg → whole image, s=1/64', () => {
    assertPlacement(resolve(recognise('/img_files/8/0_0.jpg'), G), r(0, 0, 10000, 8000), 1 / 64);
  });
});

describe('DZI recognition', () => {
  it('tile anywhere in the path; id = descriptor path without .dzi', () => {
    const a = recognise('/tiles/img_files/14/10_5.jpg');
    assert.deepEqual(a, { protocol: 'dzi', imageId: '/tiles/img', kind: 'tile', level: 14, col: 10, row: 5 });
    const d = recognise('/tiles/img.dzi');
    assert.deepEqual(d, { protocol: 'dzi', imageId: '/tiles/img', kind: 'info', level: -1, col: -1, row: -1 });
    assert.equal(recognise('/a/b/c/scan.v2_files/3/0_1.png?cache=1').imageId, '/a/b/c/scan.v2');
    assert.equal(recognise('/x_files/0/0_0.webp').imageId, '/x');
  });
  it('non-DZI lookalikes fall through', () => {
    assert.equal(recognise('/_files/1/0_0.jpg').protocol, 'none');
    assert.equal(recognise('/img_files/a/0_0.jpg').protocol, 'none');
    assert.equal(recognise('/img_files/1/0-0.jpg').protocol, 'none');
    assert.equal(recognise('/img_files/99/0_0.jpg').kind, 'other');
  });
  it('uses geom.maxLevel when given and rejects levels beyond it', () => {
    const g = geom(10000, 8000, 254, 1, 14);
    assertPlacement(resolve(recognise('/img_files/14/10_5.jpg'), g), r(2539, 1269, 2795, 1525), 1);
    assertPlacement(resolve(recognise('/img_files/15/0_0.jpg'), g), null, 0);
    assertPlacement(resolve(recognise('/img_files/14/40_0.jpg'), g), null, 0);
    assertPlacement(resolve(recognise('/img_files/14/10_5.jpg'), undefined), null, 0);
  });
  it('overlap only on interior edges: 14/0_0 → [0,0,255,255], 14/39_31 (last) → [9905,7873,10000,8000]', () => {
    assertPlacement(resolve(recognise('/img_files/14/0_0.jpg'), G), r(0, 0, 255, 255), 1);
    assertPlacement(resolve(recognise('/img_files/14/39_31.jpg'), G), r(9905, 7873, 10000, 8000), 1);
  });
  it('level grid and no-overlap core cell', () => {
    assert.deepEqual(dziLevelGrid(G, 12), { width: 2500, height: 2000, cols: 10, rows: 8, k: 2 });
    assert.deepEqual(dziTilePlacement(G, 12, 3, 2, false).rect, r(3048, 2032, 4064, 3048));
  });
});

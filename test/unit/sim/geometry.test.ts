import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type CatalogImage, computeMaxK, tileUrl, zoomifyTileGroup } from '../../../services/sim/catalog.ts';
import { smallRun } from './helpers.ts';

function img(protocol: CatalogImage['protocol'], width: number, height: number, tileSize: number, extra: Partial<CatalogImage> = {}): CatalogImage {
  return {
    id: 'abcd',
    protocol,
    width,
    height,
    tileSize,
    overlap: protocol === 'dzi' ? 1 : 0,
    openDataLongEdge: Math.ceil(Math.max(width, height) / 4),
    item: 1,
    maxK: computeMaxK(protocol, width, height, tileSize, extra.zmax, extra.zmin),
    bytesPerPixel: 0.2,
    salient: [],
    ...extra,
  };
}

test('worked examples of docs/tile-protocols.md', () => {
  // IIIF 6000×4000, tiles 512: sf 4 edge tile is clipped, size ⌈w/sf⌉.
  const i3 = img('iiif3', 6000, 4000, 512);
  assert.equal(tileUrl(i3, 2, 2, 1), '/iiif/3/abcd/4096,2048,1904,1952/476,488/0/default.jpg');
  const i2 = img('iiif2', 6000, 4000, 512);
  assert.equal(tileUrl(i2, 0, 2, 1), '/iiif/2/abcd/1024,512,512,512/512,/0/default.jpg');
  // DZI 10000×8000: Lmax 14.
  const d = img('dzi', 10000, 8000, 254);
  assert.equal(d.maxK, 14);
  assert.equal(tileUrl(d, 0, 10, 5), '/dz/abcd_files/14/10_5.jpg');
  assert.equal(tileUrl(d, 2, 3, 2), '/dz/abcd_files/12/3_2.jpg');
  // Zoomify: 4000×2559 has 5 tiers, 10000×8000 has 7; TileGroup numbers as in the doc.
  const z1 = img('zoomify', 4000, 2559, 256);
  assert.equal(z1.maxK + 1, 5);
  assert.equal(tileUrl(z1, 0, 10, 3), '/zoomify/abcd/TileGroup0/4-10-3.jpg'); // (1+4+12+40 + 3·16 + 10) / 256 < 1
  const z2 = img('zoomify', 10000, 8000, 256);
  assert.equal(z2.maxK + 1, 7);
  assert.equal(tileUrl(z2, 0, 20, 15), '/zoomify/abcd/TileGroup4/6-20-15.jpg');
  assert.equal(zoomifyTileGroup(z2, 0, 20, 15), 4);
  assert.equal(tileUrl(z2, 1, 3, 2), '/zoomify/abcd/TileGroup0/5-3-2.jpg');
  // XYZ, Zmax 18: the deepest columns 130960–130975 are tile 8185 at z14.
  const x = img('xyz', 16 * 256, 16 * 256, 256, { zmax: 18, zmin: 10, originX: 130960, originY: 87168 });
  assert.equal(tileUrl(x, 4, 0, 0), '/tiles/abcd/14/8185/5448.png');
});

/** Independent check of one generated URL against the doc's grid formulas; returns an error or null. */
function checkUrl(path: string, ua: string, cat: Map<string, CatalogImage>): string | null {
  let m = /^\/iiif\/(2|3)\/([^/]+)\/([^/]+)\/([^/]+)\/0\/default\.jpg$/.exec(path);
  if (m) {
    const v = Number(m[1]);
    const im = cat.get(m[2] as string);
    if (!im || im.protocol !== (v === 2 ? 'iiif2' : 'iiif3')) return 'unknown IIIF image';
    const [W, H, T] = [im.width, im.height, im.tileSize];
    const region = m[3] as string;
    const size = m[4] as string;
    if (region === 'full') {
      if (size === (v === 2 ? 'full' : 'max') || size === '!200,200' || size === '200,') return null;
      // Viewer form of a level that fits in one tile.
      const sm = /^(\d+),(\d*)$/.exec(size);
      if (!sm) return `bad full size ${size}`;
      for (let sf = 2; sf <= 2 ** 10; sf *= 2) {
        const lw = Math.ceil(W / sf);
        const lh = Math.ceil(H / sf);
        if (Number(sm[1]) === lw && (v === 2 ? sm[2] === '' : Number(sm[2]) === lh)) {
          return lw <= T && lh <= T ? null : `full/${size} is not a single-tile level`;
        }
      }
      return `full/${size} matches no level`;
    }
    const rm = /^(\d+),(\d+),(\d+),(\d+)$/.exec(region);
    if (!rm) return `bad region ${region}`;
    const [x, y, w, h] = [Number(rm[1]), Number(rm[2]), Number(rm[3]), Number(rm[4])];
    const sm = /^(\d+),(\d*)$/.exec(size);
    if (!sm) return `bad size ${size}`;
    const ws = Number(sm[1]);
    if (ua.startsWith('iiif-dl')) {
      // 1024-px regions at full size, clipped.
      if (x % 1024 || y % 1024 || w !== Math.min(1024, W - x) || h !== Math.min(1024, H - y) || ws !== w) return 'bad iiif-dl region';
      return null;
    }
    const sf = 2 ** Math.round(Math.log2(w / ws));
    const t = T * sf;
    if (x % t !== 0 || y % t !== 0) return `region origin off-grid for sf ${sf}`;
    if (x >= W || y >= H) return 'tile outside image';
    if (w !== Math.min(t, W - x) || h !== Math.min(t, H - y)) return `edge not clipped: ${region} (W ${W}, H ${H}, sf ${sf})`;
    if (ws !== Math.ceil(w / sf)) return 'size ≠ ⌈w/sf⌉';
    if (v === 3 && Number(sm[2]) !== Math.ceil(h / sf)) return 'height ≠ ⌈h/sf⌉';
    if (v === 2 && sm[2] !== '') return '2.1 tiles use w,';
    if (2 ** im.maxK < sf) return 'scale factor beyond the pyramid';
    return null;
  }
  m = /^\/dz\/([^/]+)_files\/(\d+)\/(\d+)_(\d+)\.jpg$/.exec(path);
  if (m) {
    const im = cat.get(m[1] as string);
    if (!im || im.protocol !== 'dzi') return 'unknown DZI';
    const lmax = Math.ceil(Math.log2(Math.max(im.width, im.height)));
    const L = Number(m[2]);
    if (L > lmax) return 'level above Lmax';
    const lw = Math.ceil(im.width / 2 ** (lmax - L));
    const lh = Math.ceil(im.height / 2 ** (lmax - L));
    if (Number(m[3]) >= Math.ceil(lw / 254) || Number(m[4]) >= Math.ceil(lh / 254)) return 'DZI tile outside grid';
    return null;
  }
  m = /^\/zoomify\/([^/]+)\/TileGroup(\d+)\/(\d+)-(\d+)-(\d+)\.jpg$/.exec(path);
  if (m) {
    const im = cat.get(m[1] as string);
    if (!im || im.protocol !== 'zoomify') return 'unknown Zoomify';
    // Tiers as OpenLayers computes them: full size down until both fit one tile; tier 0 smallest.
    const tiers: [number, number][] = [];
    let ts = im.tileSize;
    tiers.push([Math.ceil(im.width / ts), Math.ceil(im.height / ts)]);
    while (im.width > ts || im.height > ts) {
      ts *= 2;
      tiers.push([Math.ceil(im.width / ts), Math.ceil(im.height / ts)]);
    }
    tiers.reverse();
    const [z, x, y] = [Number(m[3]), Number(m[4]), Number(m[5])];
    const tier = tiers[z];
    if (!tier) return 'tier out of range';
    if (x >= tier[0] || y >= tier[1]) return 'Zoomify tile outside grid';
    let before = 0;
    for (let i = 0; i < z; i++) before += (tiers[i] as [number, number])[0] * (tiers[i] as [number, number])[1];
    if (Number(m[2]) !== Math.floor((before + y * tier[0] + x) / 256)) return 'wrong TileGroup';
    return null;
  }
  m = /^\/tiles\/([^/]+)\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(path);
  if (m) {
    const im = cat.get(m[1] as string);
    if (!im || im.protocol !== 'xyz') return 'unknown layer';
    const [z, x, y] = [Number(m[2]), Number(m[3]), Number(m[4])];
    const zmax = im.zmax ?? 18;
    if (z > zmax || z < (im.zmin ?? 0)) return 'zoom out of range';
    const k = zmax - z;
    const ox = im.originX ?? 0;
    const oy = im.originY ?? 0;
    const cx = im.width / 256;
    const cy = im.height / 256;
    if (x < Math.floor(ox / 2 ** k) || x > Math.floor((ox + cx - 1) / 2 ** k)) return 'XYZ column outside layer';
    if (y < Math.floor(oy / 2 ** k) || y > Math.floor((oy + cy - 1) / 2 ** k)) return 'XYZ row outside layer';
    return null;
  }
  return 'not an image URL';
}

test('every generated tile URL is inside its image grid (IIIF edges clipped, DZI/Zoomify/XYZ in range)', () => {
  for (const seed of ['test-seed-1', 'geo-2']) {
    const run = smallRun({ seed, xyz: true });
    const cat = new Map(run.catalog.map((i) => [i.id, i]));
    const kinds = new Set<string>();
    let checked = 0;
    for (const l of run.lines) {
      if (!/^\/(iiif|dz|zoomify|tiles)\//.test(l.path) || /info\.json$|\.dzi$|ImageProperties\.xml$/.test(l.path)) continue;
      const err = checkUrl(l.path, l.ua, cat);
      assert.equal(err, null, `${err ?? ''}: ${l.raw}`);
      kinds.add(l.path.split('/')[1] ?? '');
      checked++;
    }
    assert.ok(checked > 10_000, `checked ${checked}`);
    assert.deepEqual([...kinds].sort(), ['dz', 'iiif', 'zoomify'].concat(kinds.has('tiles') ? ['tiles'] : []).sort());
  }
});

test('the checker itself rejects a wrong clip and an off-grid tile', () => {
  const im = img('iiif2', 6000, 4000, 512);
  const cat = new Map([[im.id, im]]);
  assert.equal(checkUrl('/iiif/2/abcd/5632,3584,512,512/512,/0/default.jpg', 'x', cat), 'edge not clipped: 5632,3584,512,512 (W 6000, H 4000, sf 1)');
  assert.match(checkUrl('/iiif/2/abcd/100,0,512,512/512,/0/default.jpg', 'x', cat) ?? '', /off-grid/);
  assert.equal(checkUrl('/iiif/2/abcd/5632,3584,368,416/368,/0/default.jpg', 'x', cat), null);
});

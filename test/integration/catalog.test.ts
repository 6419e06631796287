import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCatalog } from '../../services/ingest/catalog.ts';

const dir = mkdtempSync(join(tmpdir(), 'tw-catalog-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('image catalogue', () => {
  it('loads JSON with per-protocol defaults (DZI Lmax from the size)', async () => {
    const p = join(dir, 'c.json');
    writeFileSync(p, JSON.stringify({ images: [{ id: '/dz/img', protocol: 'dzi', width: 10000, height: 8000, tileSize: 254, overlap: 1 }, { id: 'abcd', protocol: 'iiif3', width: 6000, height: 4000, openDataLongEdge: 1600 }] }));
    const c = await loadCatalog(p);
    assert.equal(c.size, 2);
    assert.deepEqual(c.get('dzi', '/dz/img')?.geometry, { width: 10000, height: 8000, tileSize: 254, overlap: 1, maxLevel: 14, source: 'catalog' });
    // IIIF 2 and 3 share one image: the family, not the version, keys the catalogue.
    assert.equal(c.get('iiif2', 'abcd')?.openDataLongEdge, 1600);
  });

  it('loads CSV with snake_case headers', async () => {
    const p = join(dir, 'c.csv');
    writeFileSync(p, 'id,protocol,width,height,tile_size,open_data_long_edge\n/zoomify/a,zoomify,4000,2559,256,1024\n');
    const e = (await loadCatalog(p)).get('zoomify', '/zoomify/a');
    assert.equal(e?.geometry.maxLevel, 4);
    assert.equal(e?.openDataLongEdge, 1024);
  });

  it('names the file, entry and field in errors', async () => {
    const p = join(dir, 'bad.json');
    writeFileSync(p, JSON.stringify([{ id: 'x', protocol: 'iiif2', width: 10 }]));
    await assert.rejects(loadCatalog(p), /bad\.json entry 1: missing height/);
    writeFileSync(p, JSON.stringify([{ id: 'x', protocol: 'gopher', width: 10, height: 10 }]));
    await assert.rejects(loadCatalog(p), /unknown protocol "gopher"/);
    writeFileSync(p, '{ not json');
    await assert.rejects(loadCatalog(p), /not valid JSON/);
    await assert.rejects(loadCatalog(join(dir, 'nope.json')), /no such file/);
  });
});

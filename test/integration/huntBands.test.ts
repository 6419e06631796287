/**
 * The hunts' SQL and the incident queries' SQL put a stored request in the same band
 * (round(log2(1/scale)): 0 = full resolution, 1 = half, 2 = quarter), and the hunt row's long edge
 * and the alert's scale are those of that band. One client takes every tile of a 2048 × 2048 image
 * at scale 1, 1/2 and 1/4 (no table stores a band: both compute it from `scale`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { bandOfScale, scaleOfBand } from '../../services/core/hunts/findings.ts';
import { clientImageCoverage } from '../../services/hunts/huntQueries.ts';
import { bandGrid, revealedCellsSql } from '../../services/incidents/bands.ts';
import { migrate } from '../../services/store/migrate.ts';
import { jsonEachRow, openStore } from '../../services/store/openStore.ts';
import { tempDir } from '../support/cli.ts';

const T = Date.UTC(2026, 2, 10);
const SIZE = 2048;
const SCALES = [1, 0.5, 0.25];

test('hunt SQL and incident SQL agree on the band of a scale', { timeout: 60_000 }, async (t) => {
  const store = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'hunt-bands'), 'data') });
  try {
    await migrate(store.client);
    const rows: object[] = [];
    for (const scale of SCALES) {
      const cs = 256 / scale;
      for (let y = 0; y < SIZE; y += cs)
        for (let x = 0; x < SIZE; x += cs)
          rows.push({
            ts: new Date(T + rows.length * 1000).toISOString().replace('T', ' ').replace('Z', ''), client: '::ffff:192.0.2.7', client_key: '192.0.2.7', method: 'GET', status: 200, bytes: 1,
            host: 'img.test', path: `/iiif/2/img/${x},${y},${cs},${cs}/256,/0/default.jpg`, referer: '', user_agent: 'curl/8', protocol: 'iiif2', kind: 'tile', image_id: 'img',
            level: -1, tile_x: x / cs, tile_y: y / cs, rect_x: x, rect_y: y, rect_w: cs, rect_h: cs, scale, source: 't.log', partition: -1, line: rows.length + 1,
          });
    }
    await store.insertRaw({ table: 'tile_requests', format: 'JSONEachRow', body: jsonEachRow(rows) });
    await store.client.command({ query: `INSERT INTO images SELECT 'iiif2', 'img', ${SIZE}, ${SIZE}, 256, 0, 4, 256, 'catalog', now64(3)` });

    // Incident queries: bands of the revealed cells.
    const rs = await store.client.query({
      query: `SELECT band, count() AS cells FROM (${revealedCellsSql('client = {ip:IPv6}', [], 'tile_requests')}) GROUP BY band ORDER BY band`,
      query_params: { ip: '::ffff:192.0.2.7' },
      format: 'JSONEachRow',
    });
    const incident = (await rs.json<{ band: number; cells: string | number }>()).map((r) => [Number(r.band), Number(r.cells)]);
    assert.deepEqual(incident, SCALES.map((s) => [bandOfScale(s), bandGrid(SIZE, SIZE, bandOfScale(s)).cells]));

    // Hunts: every band protected (protectedScale 0.25 → bands 0, 1, 2), each wholly covered.
    const hunt = await clientImageCoverage(store.client, { from: T, to: T + 3_600_000 }, { cidrs: [], userAgentPatterns: [] }, { protectedScale: 0.25, openDataLongEdge: 256 }, ['192.0.2.7']);
    assert.deepEqual(
      hunt.sort((a, b) => a.band - b.band).map((r) => [r.band, scaleOfBand(r.band), r.coverage, r.longEdge, r.revealedPixels]),
      SCALES.map((s) => [bandOfScale(s), s, 1, bandGrid(SIZE, SIZE, bandOfScale(s)).longEdge, SIZE * SIZE * s * s]),
    );

    // protectedScale 0.5: bands 0 and 1 only.
    const half = await clientImageCoverage(store.client, { from: T, to: T + 3_600_000 }, { cidrs: [], userAgentPatterns: [] }, { protectedScale: 0.5, openDataLongEdge: 256 }, ['192.0.2.7']);
    assert.deepEqual(half.map((r) => r.band).sort(), [0, 1]);
  } finally {
    await store.close();
  }
});

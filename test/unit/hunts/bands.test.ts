/**
 * One meaning of "band" (round(log2(1/scale)): 0 = full resolution, 1 = half …): the hunts' findings,
 * the incident queries and the detector's cells agree on the band of a scale and the scale of a band.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bandOfScale as huntBand, imageExposureFindings, scaleOfBand } from '../../../services/core/hunts/findings.ts';
import { DEFAULT_HUNT_CONFIG } from '../../../services/core/hunts/huntConfig.ts';
import { IIIF_RES_BASE, cellsOf, resGrid } from '../../../services/core/detect/cells.ts';
import { bandGrid, bandOfScale as incidentBand } from '../../../services/incidents/bands.ts';

const CASES: ReadonlyArray<readonly [scale: number, band: number]> = [
  [1, 0],
  [0.5, 1],
  [0.25, 2],
  [0.125, 3],
  [0.9, 0],
  [0.3, 2],
];

test('findings, incident bands and detector cells give a scale the same band (1 → 0, 0.5 → 1, 0.25 → 2)', () => {
  for (const [scale, band] of CASES) {
    assert.equal(huntBand(scale), band, `hunts: scale ${scale}`);
    assert.equal(incidentBand(scale), band, `incidents: scale ${scale}`);
    const mark = cellsOf({ protocol: 'iiif2', imageId: 'i', kind: 'region', level: -1, col: -1, row: -1, rect: { x0: 0, y0: 0, x1: 512, y1: 512 }, scale }, undefined);
    assert.equal(mark && IIIF_RES_BASE - mark.res, band, `detector cells: scale ${scale}`);
  }
  assert.ok(Object.is(huntBand(1), 0), 'full resolution is band +0');
});

test('and a band the same scale: 2^-band', () => {
  for (const band of [0, 1, 2, 3]) {
    const scale = scaleOfBand(band);
    assert.equal(scale, 2 ** -band);
    assert.equal(bandGrid(4096, 4096, band).scale, scale);
    assert.equal(resGrid('iiif2', IIIF_RES_BASE - band, { width: 4096, height: 4096, tileSize: 256, overlap: 0, maxLevel: -1, source: 'catalog' })?.scale, scale);
    assert.equal(huntBand(scale), band);
    assert.equal(incidentBand(scale), band);
  }
  // Upscaled requests: the hunts keep a negative band; the incident grid clamps to full resolution.
  assert.equal(huntBand(2), -1);
  assert.equal(scaleOfBand(-1), 2);
  assert.equal(incidentBand(2), 0);
});

test('a hunt alert names the scale of its band: band 1 is scale 1/2', () => {
  const area = 8192 * 8192;
  const row = { imageId: 'img', band: 1, unionCoverage: 0.95, imageArea: area, longEdge: 4096, openDataLongEdge: 1024, clients: 2, firstTs: 0, lastTs: 1 };
  const scripted = ['198.51.100.1', '198.51.100.2'].map((client) => ({ imageId: 'img', client, userAgent: 'curl/8', deepFraction: 1, bandSpan: 0, coveredArea: 0.45 * area }));
  const [f] = imageExposureFindings([row, { ...row, band: 0, longEdge: 8192, unionCoverage: 0.5 }], scripted, new Set(), DEFAULT_HUNT_CONFIG);
  assert.ok(f);
  assert.deepEqual(f.images.map((i) => [i.scale, i.longEdge]), [[0.5, 4096]]);
  assert.equal(bandGrid(8192, 8192, row.band).longEdge, row.longEdge, 'the band the incident queries would show for it');
});

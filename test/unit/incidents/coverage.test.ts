import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bandGrid, cellsNeeded } from '../../../services/incidents/bands.ts';
import { colourAt, renderCoverageSvg } from '../../../services/incidents/coverageSvg.ts';
import { reconstructLongEdge, type BandExposure } from '../../../services/incidents/exposure.ts';

test('band grids follow the detector: cells whose centre lies inside the image', () => {
  assert.deepEqual(bandGrid(6000, 4000, 0), { band: 0, scale: 1, cellPx: 256, cols: 23, rows: 16, cells: 368, longEdge: 6000 });
  const b2 = bandGrid(6000, 4000, 2);
  assert.deepEqual([b2.cellPx, b2.cols, b2.rows, b2.longEdge], [1024, 6, 4, 1500]);
  assert.equal(bandGrid(100, 100, 5).cells, 1, 'a tiny image is one cell');
  assert.equal(cellsNeeded(bandGrid(6000, 4000, 0), 0.9), 332);
  assert.equal(cellsNeeded(bandGrid(6000, 4000, 0), 1), 368);
});

const band = (b: number, longEdge: number, reachedAt: string | null): BandExposure => ({
  band: b, scale: 2 ** -b, longEdge, cells: 1, totalCells: 1, coverage: 1, firstRevealAt: '', lastRevealAt: '', reachedAt,
});

test('reconstructable long edge: the best band that reached coverage, since its earliest time', () => {
  const bands = [band(0, 6000, null), band(1, 3000, '2026-03-02T15:00:00.000Z'), band(3, 750, '2026-03-02T14:00:00.000Z')];
  assert.deepEqual(reconstructLongEdge(bands), { longEdge: 3000, since: '2026-03-02T14:00:00.000Z' });
  assert.deepEqual(reconstructLongEdge(bands, 1000), { longEdge: 3000, since: '2026-03-02T15:00:00.000Z' });
  assert.deepEqual(reconstructLongEdge(bands, 3001), { longEdge: 0, since: null });
});

test('coverage SVG: one rect per revealed cell, blue first and red last, text escaped', () => {
  const svg = renderCoverageSvg({
    imageId: '<img&"x">',
    client: '203.0.113.7',
    band: 0,
    longEdge: 1024,
    cols: 4,
    rows: 4,
    cells: [
      { cx: 0, cy: 0, t: 1000 },
      { cx: 1, cy: 0, t: 2000 },
      { cx: 3, cy: 3, t: 3000 },
      { cx: 9, cy: 9, t: 4000 },
    ],
  });
  assert.equal((svg.match(/class="cell"/g) ?? []).length, 3, 'cells outside the grid are not drawn');
  assert.match(svg, /fill="hsl\(240,80%,50%\)"/);
  assert.doesNotMatch(svg, /<img&/);
  assert.match(svg, /&#60;img&#38;&#34;x&#34;&#62;/);
  assert.match(svg, /3 of 16 cells revealed \(18\.8 %\)/);
  assert.equal(colourAt(5, 5, 5), 'hsl(240,80%,50%)');
  assert.equal(colourAt(10, 0, 10), 'hsl(0,80%,50%)');
});

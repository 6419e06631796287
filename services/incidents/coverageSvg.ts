/**
 * Coverage map as SVG (pure): the image's grid of full-resolution cells at one band, each revealed
 * cell filled with a colour for when it was first revealed (blue = early … red = late).
 */
export interface CoverageMapData {
  readonly imageId: string;
  readonly client: string;
  readonly band: number;
  readonly longEdge: number;
  readonly cols: number;
  readonly rows: number;
  /** Column, row and first-reveal epoch ms of each revealed cell. */
  readonly cells: ReadonlyArray<{ readonly cx: number; readonly cy: number; readonly t: number }>;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Hue from 240 (blue, earliest) to 0 (red, latest). */
export function colourAt(t: number, from: number, to: number): string {
  const f = to > from ? (t - from) / (to - from) : 0;
  return `hsl(${Math.round(240 * (1 - Math.min(1, Math.max(0, f))))},80%,50%)`;
}

export function renderCoverageSvg(d: CoverageMapData, maxPx = 720): string {
  const cell = Math.max(2, Math.floor(maxPx / Math.max(d.cols, d.rows)));
  const w = d.cols * cell;
  const h = d.rows * cell;
  const head = 40;
  const legend = 28;
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const c of d.cells) {
    if (c.t < from) from = c.t;
    if (c.t > to) to = c.t;
  }
  const inGrid = d.cells.filter((c) => c.cx < d.cols && c.cy < d.rows);
  const pct = ((inGrid.length / Math.max(1, d.cols * d.rows)) * 100).toFixed(1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h + head + legend}" viewBox="0 0 ${w} ${h + head + legend}" role="img" aria-label="coverage map">`,
    `<title>${esc(`${d.client} on ${d.imageId}: band ${d.band}, ${inGrid.length}/${d.cols * d.rows} cells (${pct} %)`)}</title>`,
    `<text x="4" y="16" font-family="sans-serif" font-size="13">${esc(d.imageId)} · ${esc(d.client)}</text>`,
    `<text x="4" y="33" font-family="sans-serif" font-size="12">band ${d.band} (long edge ${d.longEdge} px): ${inGrid.length} of ${d.cols * d.rows} cells revealed (${pct} %)</text>`,
    `<g transform="translate(0,${head})"><rect width="${w}" height="${h}" fill="#eee"/>`,
  ];
  for (const c of inGrid) {
    parts.push(`<rect class="cell" x="${c.cx * cell}" y="${c.cy * cell}" width="${cell}" height="${cell}" fill="${colourAt(c.t, from, to)}"/>`);
  }
  parts.push(`<rect width="${w}" height="${h}" fill="none" stroke="#555"/></g>`);
  if (inGrid.length > 0) {
    const y = head + h + 18;
    parts.push(
      `<text x="4" y="${y}" font-family="sans-serif" font-size="11" fill="hsl(240,80%,45%)">${esc(new Date(from).toISOString())}</text>`,
      `<text x="${w - 4}" y="${y}" text-anchor="end" font-family="sans-serif" font-size="11" fill="hsl(0,80%,45%)">${esc(new Date(to).toISOString())}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

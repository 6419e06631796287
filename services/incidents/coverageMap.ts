/** Revealed cells of one client on one image at one band, for the coverage map. */
import type { Store } from '../store/openStore.ts';
import { fromIpv6Text } from '../store/clientIp.ts';
import { bandGrid, revealedCellsSql } from './bands.ts';
import type { CoverageMapData } from './coverageSvg.ts';
import { imageSize } from './images.ts';
import type { ClientIp, TimeRange } from './inputs.ts';
import { readRows } from '../store/sql.ts';

const RANGE = 'ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})';

/**
 * Without `band`, the finest band at which the client revealed at least a quarter of the cells it
 * revealed at its best-covered band (so one stray deep tile does not hide a whole-image sweep).
 * null when the image is unknown or the client revealed nothing of it.
 */
export async function coverageMap(store: Store, q: { ip: ClientIp; imageId: string; range: TimeRange; band?: number }): Promise<CoverageMapData | null> {
  const size = await imageSize(store, q.imageId);
  if (size === null) return null;
  const cells = await readRows<{ band: number; cx: number; cy: number; t: number }>(
    store.client,
    `SELECT band, cx, cy, toUnixTimestamp64Milli(first_ts) AS t FROM (${revealedCellsSql(`client = {ip:IPv6} AND image_id = {image:String} AND ${RANGE}`, [], 'image_requests')})
     WHERE {band:Int16} < 0 OR band = {band:Int16}
     ORDER BY band, cy, cx LIMIT 200000`,
    { ip: q.ip.v6, image: q.imageId, from: q.range.from, to: q.range.to, band: q.band ?? -1 },
  );
  if (cells.length === 0) return null;
  let band = q.band;
  if (band === undefined) {
    const perBand = new Map<number, number>();
    for (const c of cells) perBand.set(c.band, (perBand.get(c.band) ?? 0) + 1);
    const coverage = [...perBand].map(([b, n]) => ({ b, f: n / bandGrid(size.width, size.height, b).cells }));
    const best = Math.max(...coverage.map((c) => c.f));
    band = Math.min(...coverage.filter((c) => c.f >= best / 4).map((c) => c.b));
  }
  const g = bandGrid(size.width, size.height, band);
  return {
    imageId: q.imageId,
    client: fromIpv6Text(q.ip.v6),
    band,
    longEdge: g.longEdge,
    cols: g.cols,
    rows: g.rows,
    cells: cells.filter((c) => c.band === band).map((c) => ({ cx: c.cx, cy: c.cy, t: c.t })),
  };
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Alert } from '../../../services/core/alert.ts';
import { CELL_PX, IIIF_RES_BASE, cellsOf, resGrid } from '../../../services/core/detect/cells.ts';
import { DEFAULT_DETECTOR_CONFIG } from '../../../services/core/detect/detectorConfig.ts';
import { newClientState, observe, type DetectorEvent } from '../../../services/core/detect/clientState.ts';
import { measure, type Features } from '../../../services/core/detect/features.ts';
import { scoreFullDownloads, scoreHarvest, severityOf } from '../../../services/core/detect/score.ts';
import { classifyUserAgent } from '../../../services/core/detect/userAgent.ts';
import type { ImageGeometry, TileRequest } from '../../../services/core/types.ts';
import { StreamingDetector } from '../../../services/detector/streamingDetector.ts';
import { alertId } from '../../../services/core/alert.ts';

const cfg = DEFAULT_DETECTOR_CONFIG;
const dzi: ImageGeometry = { width: 10000, height: 8000, tileSize: 254, overlap: 1, maxLevel: 14, source: 'catalog' };
const iiif: ImageGeometry = { width: 6000, height: 4000, tileSize: 512, overlap: 0, maxLevel: -1, source: 'catalog' };

function tile(over: Partial<TileRequest>): TileRequest {
  return { protocol: 'dzi', imageId: 'img', kind: 'tile', level: 14, col: 0, row: 0, rect: null, scale: 1, ...over };
}

describe('coverage cells', () => {
  it('pyramid tiles are cells of their own level, linearised row-major with the level grid', () => {
    const m = cellsOf(tile({ level: 14, col: 10, row: 5 }), dzi);
    assert.ok(m && m.cells !== 'whole');
    assert.equal(m.res, 14);
    assert.equal(m.cells.length, 1);
    const g = resGrid('dzi', 14, dzi)!;
    assert.equal(g.cols, Math.ceil(10000 / 254));
    assert.equal(m.order, 5 * g.cols + 10);
  });

  it('a DZI level k below the deepest has scale 2^-k and the level size as long edge', () => {
    const g = resGrid('dzi', 12, dzi)!;
    assert.equal(g.scale, 0.25);
    assert.equal(g.longEdge, 2500);
    assert.equal(g.pixels, 2500 * 2000);
  });

  it('IIIF regions mark the cells whose centre they contain, at the band of their scale', () => {
    // A 512 tile at s = 1 covers 2×2 cells of 256 px.
    const m = cellsOf(tile({ protocol: 'iiif2', level: -1, col: -1, row: -1, rect: { x0: 1024, y0: 512, x1: 1536, y1: 1024 }, scale: 1 }), iiif);
    assert.ok(m && m.cells !== 'whole');
    assert.equal(m.res, IIIF_RES_BASE);
    assert.equal(m.cells.length, 4);
    // The same area at s = 0.25 is band 2: one cell of 1024 px has its centre (1536, 512) outside [1024,1536).
    const q = cellsOf(tile({ protocol: 'iiif2', level: -1, col: -1, row: -1, rect: { x0: 0, y0: 0, x1: 2048, y1: 2048 }, scale: 0.25 }), iiif);
    assert.ok(q && q.cells !== 'whole');
    assert.equal(q.res, IIIF_RES_BASE - 2);
    assert.equal(q.cells.length, (2048 / (CELL_PX * 4)) ** 2);
  });

  it('the tiles of a whole IIIF image cover every cell of the band', () => {
    const seen = new Set<number>();
    for (let y = 0; y < 4000; y += 512)
      for (let x = 0; x < 6000; x += 512) {
        const m = cellsOf(tile({ protocol: 'iiif2', level: -1, col: -1, row: -1, rect: { x0: x, y0: y, x1: Math.min(6000, x + 512), y1: Math.min(4000, y + 512) }, scale: 1 }), iiif);
        assert.ok(m && m.cells !== 'whole');
        for (const c of m.cells) seen.add(c);
      }
    const g = resGrid('iiif2', IIIF_RES_BASE, iiif)!;
    assert.equal(seen.size, g.cols * g.rows);
  });

  it('a whole-image request of unknown size marks its band whole; pages and descriptors mark nothing', () => {
    const full = cellsOf(tile({ protocol: 'iiif3', kind: 'full', level: -1, col: -1, row: -1, rect: null, scale: 1 }), undefined);
    assert.deepEqual(full, { res: IIIF_RES_BASE, cells: 'whole', order: 0 });
    assert.equal(cellsOf(tile({ kind: 'info' }), dzi), null);
    assert.equal(cellsOf(tile({ kind: 'page', protocol: 'none' }), undefined), null);
  });
});

describe('user agents', () => {
  it('classifies libraries, crawlers, monitors and browsers', () => {
    assert.equal(classifyUserAgent('python-requests/2.31.0'), 'library');
    assert.equal(classifyUserAgent('iiif-dl/0.3.1'), 'library');
    assert.equal(classifyUserAgent('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'), 'crawler');
    assert.equal(classifyUserAgent('Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)'), 'monitor');
    assert.equal(classifyUserAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'), 'browser');
    assert.equal(classifyUserAgent(''), 'empty');
  });
});

const quiet: Features = {
  tiles: 100,
  protectedTiles: 100,
  exposures: [],
  fullyExposed: 0,
  fullyExposedBeyondViewing: 0,
  bestCoverage: 0,
  excessScreens: 0,
  sweptImages: 0,
  fullDownloads: 0,
  rasterFraction: 0,
  transitions: 100,
  depthOnlyFraction: 0.5,
  coarseLevels: true,
  minuteCv: 2,
  activeMinutes: 30,
  medianGapMs: 0,
  madGapMs: 0,
  tilesPerMinute: 3,
  noDescriptorFraction: 0,
  refererNoneFraction: 0,
  refererProtocolFraction: 0,
  uaClass: 'browser',
  notModified: 3,
  pages: 2,
  assets: 5,
  openImages: 1,
  userAgents: 1,
  shared: false,
  volumeZ: 0,
  hourTiles: 100,
};

describe('scoring', () => {
  it('gives a viewer-like client no points and no severity', () => {
    const v = scoreHarvest(quiet, cfg);
    assert.ok(v);
    assert.equal(v.score, 0);
    assert.equal(v.severity, null);
    assert.deepEqual(v.reasons, []);
  });

  it('does not score clients below the protected-tile gate', () => {
    assert.equal(scoreHarvest({ ...quiet, protectedTiles: cfg.minProtectedTiles - 1, excessScreens: 50 }, cfg), null);
  });

  it('never alerts on one pattern signal alone', () => {
    const single: Partial<Features>[] = [
      { rasterFraction: 1 },
      { depthOnlyFraction: 1, coarseLevels: false },
      { minuteCv: 0 },
      { uaClass: 'library', refererNoneFraction: 1, noDescriptorFraction: 1, notModified: 0, pages: 0, assets: 0 },
      { volumeZ: 100 },
    ];
    for (const s of single) {
      const v = scoreHarvest({ ...quiet, ...s }, cfg)!;
      assert.equal(v.severity, null, JSON.stringify(s));
      assert.equal(v.reasons.length, 1, `exactly the one signal is reported: ${JSON.stringify(s)}`);
    }
  });

  it('does not accuse on exposure and volume alone (a crowd behind one address, a researcher), and says why in the reasons', () => {
    const v = scoreHarvest({ ...quiet, excessScreens: cfg.exposureScreens * 3, volumeZ: 50, minuteCv: 0.1 }, cfg)!;
    assert.ok(v.score >= cfg.alertScore, 'the evidence adds up …');
    assert.equal(v.severity, null, '… but no method signal: no alert');
    const r = v.reasons.find((x) => x.signal === 'exposure');
    assert.ok(r);
    assert.equal(r.value, cfg.exposureScreens * 3);
    assert.equal(r.threshold, cfg.exposureScreens);
  });

  it('the same exposure fetched like a script alerts; conclusive evidence is critical from the first notification', () => {
    const panning = scoreHarvest({ ...quiet, excessScreens: cfg.exposureScreens * 3, rasterFraction: 0.55, transitions: 400, volumeZ: 20 }, cfg)!;
    assert.ok(panning.reasons.some((r) => r.signal === 'raster-order'), 'reported …');
    assert.equal(panning.severity, null, '… but a person panning methodically (raster just over half) is not a script');
    const scripted = { ...quiet, excessScreens: cfg.exposureScreens * 3, depthOnlyFraction: 1, coarseLevels: false };
    const one = scoreHarvest(scripted, cfg)!;
    assert.ok(one.severity, 'one method signal with the exposure alerts');
    const sweep = { ...scripted, excessScreens: 1, rasterFraction: 0.98, transitions: 200, sweptImages: 1, fullyExposed: 1 };
    assert.equal(severityOf(scoreHarvest(sweep, cfg)!.score, cfg), 'low', 'by its score alone a first notification would be low');
    assert.equal(scoreHarvest(sweep, cfg)!.severity, 'critical', 'two method signals and a whole image: a confirmed harvest');
    assert.equal(one.severity, severityOf(one.score, cfg), 'one method signal: by the score');
  });

  it('raster order or a sweep alone accuses only with an image revealed whole beyond what viewing shows; depth-only or a script context alone do', () => {
    const reading = { ...quiet, excessScreens: cfg.exposureScreens * 1.2, rasterFraction: 0.8, transitions: 400 };
    const v = scoreHarvest(reading, cfg)!;
    assert.deepEqual(v.reasons.filter((r) => r.signal === 'raster-order').length, 1, 'the raster order is reported …');
    assert.equal(v.severity, null, '… but a person reading part of a manuscript row by row is not accused');
    assert.equal(scoreHarvest({ ...reading, fullyExposed: 1 }, cfg)!.severity, null, 'an image of a screen or two seen whole is still viewing');
    assert.ok(scoreHarvest({ ...reading, fullyExposed: 1, fullyExposedBeyondViewing: 1 }, cfg)!.severity, 'a large image revealed whole in raster order is a harvest');
    const swept = { ...quiet, excessScreens: cfg.exposureScreens, sweptImages: 1, fullyExposed: 1 };
    assert.equal(scoreHarvest(swept, cfg)!.severity, null, 'a small image fetched whole, one method signal');
    assert.ok(scoreHarvest({ ...swept, fullyExposedBeyondViewing: 1 }, cfg)!.severity);
    const deepOnly = scoreHarvest({ ...quiet, excessScreens: cfg.exposureScreens * 3, depthOnlyFraction: 1, coarseLevels: false }, cfg)!;
    assert.ok(deepOnly.severity, 'deepest level only: no viewer does that, even in part');
  });

  it('does not accuse a client that fetches like a script but gathered no protected content (a CDN warming coarse levels)', () => {
    const warmer = { ...quiet, rasterFraction: 1, transitions: 5000, minuteCv: 0.1, uaClass: 'other' as const, refererNoneFraction: 1, noDescriptorFraction: 0.5, notModified: 0, pages: 0, assets: 0, volumeZ: 50 };
    const low = { ...cfg, alertScore: 45 };
    const v = scoreHarvest({ ...warmer, excessScreens: 0.5 }, low)!;
    assert.ok(v.score >= low.alertScore, `it scores (${v.score}) …`);
    assert.deepEqual(v.reasons.map((r) => r.signal).sort(), ['context', 'raster-order', 'regular-timing', 'volume']);
    assert.equal(v.severity, null, '… but less than a screen of protected content beyond viewing is nothing harvested');
    assert.ok(scoreHarvest({ ...warmer, excessScreens: 2 }, low)!.severity, 'the same client gathering protected screens is accused');
  });

  it('judges a shared address on what one session does: no volume or timing points, two method signals needed, and says so', () => {
    const crowd = { ...quiet, shared: true, openImages: 12, userAgents: 9, excessScreens: cfg.exposureScreens * 3, volumeZ: 80, minuteCv: 0.2 };
    const one = scoreHarvest({ ...crowd, sweptImages: 1, fullyExposed: 1, fullyExposedBeyondViewing: 1 }, cfg)!;
    assert.equal(one.severity, null, 'one method signal behind a shared address: the union of its sessions');
    const signals = one.reasons.map((r) => r.signal);
    assert.ok(signals.includes('shared-address'));
    assert.ok(!signals.includes('volume') && !signals.includes('regular-timing'), 'the crowd\'s volume and cadence are not evidence');
    const shared = one.reasons.find((r) => r.signal === 'shared-address')!;
    assert.equal(shared.value, 12);
    const scripted = scoreHarvest({ ...crowd, depthOnlyFraction: 1, coarseLevels: false, rasterFraction: 0.99, transitions: 500 }, cfg)!;
    assert.ok(scripted.severity, 'a script behind the same address, fetching like a script, is accused');
    assert.equal(scoreHarvest({ ...crowd, depthOnlyFraction: 1, coarseLevels: false }, cfg)!.severity, null, 'depth-only alone is not enough behind a shared address');
  });

  it('alerts on a scripted raster sweep even when it exposes little (one slice of a distributed harvest)', () => {
    const v = scoreHarvest(
      { ...quiet, rasterFraction: 0.98, depthOnlyFraction: 1, coarseLevels: false, minuteCv: 0.1, uaClass: 'library', refererNoneFraction: 1, noDescriptorFraction: 1, notModified: 0, pages: 0, assets: 0, volumeZ: 10 },
      cfg,
    )!;
    assert.ok(v.severity);
    assert.deepEqual(v.reasons.map((r) => r.signal).sort(), ['context', 'depth-only', 'raster-order', 'regular-timing', 'volume']);
  });

  it('maps scores to severities monotonically', () => {
    assert.equal(severityOf(cfg.alertScore - 1, cfg), null);
    assert.equal(severityOf(cfg.alertScore, cfg), 'low');
    assert.equal(severityOf(70, cfg), 'medium');
    assert.equal(severityOf(85, cfg), 'high');
    assert.equal(severityOf(95, cfg), 'critical');
  });

  it('raises full-download alerts from the configured number of whole images', () => {
    assert.equal(scoreFullDownloads({ ...quiet, fullDownloads: cfg.fullDownloadImages - 1 }, cfg), null);
    const v = scoreFullDownloads({ ...quiet, fullDownloads: cfg.fullDownloadImages }, cfg)!;
    assert.equal(v.kind, 'full-download');
    assert.ok(v.severity);
  });
});

describe('measuring a client', () => {
  const T0 = Date.UTC(2026, 2, 2, 10);
  const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';
  const ev = (ts: number, image: string, col: number, row: number, ua = CHROME, level = 14): DetectorEvent => ({
    ts,
    ip: '198.51.100.9',
    userAgent: ua,
    referer: 'https://museum.example/art',
    status: 200,
    request: tile({ imageId: image, level, col, row }),
    refererKind: 'page',
    lineage: { source: 'test.log', line: 1, partition: -1 },
  });
  const measured = (events: DetectorEvent[]): Features => {
    const st = newClientState(events[0]!.ip, events[0]!);
    for (const e of events) observe(st, e, dzi, cfg);
    return measure(st, () => dzi, undefined, cfg);
  };

  it('one person looking at images one after another is one session', () => {
    const events: DetectorEvent[] = [];
    for (let i = 0; i < 6; i++) for (let k = 0; k < 10; k++) events.push(ev(T0 + i * 120_000 + k * 5_000, `img-${i}`, k, 0));
    const f = measured(events);
    assert.equal(f.openImages, 1);
    assert.equal(f.userAgents, 1);
    assert.equal(f.shared, false);
  });

  it('recognises a crowd behind one address from images open at once, or from its browsers', () => {
    const interleaved: DetectorEvent[] = [];
    // Four people, each on their own image, their requests interleaved over ten minutes.
    for (let k = 0; k < 40; k++) for (let p = 0; p < 4; p++) interleaved.push(ev(T0 + k * 15_000 + p * 1_000, `img-${p}`, k % 20, Math.floor(k / 20)));
    const crowd = measured(interleaved);
    assert.equal(crowd.openImages, 4);
    assert.equal(crowd.shared, true);
    const browsers = ['Firefox/128.0', 'Chrome/124.0', 'Safari/605.1.15', 'Edg/124.0'];
    const oneImage = Array.from({ length: 40 }, (_, k) => ev(T0 + k * 10_000, 'img', k, 0, `Mozilla/5.0 ${browsers[k % 4]}`));
    const byUa = measured(oneImage);
    assert.equal(byUa.userAgents, 4);
    assert.equal(byUa.shared, true);
    // User agents last used more than the window ago no longer count.
    const late = measured([...oneImage, ev(T0 + 3 * 3600_000, 'img-late', 0, 0, 'Mozilla/5.0 Firefox/128.0')]);
    assert.equal(late.userAgents, 1);
  });

  it('an image covered over many separate visits is not a sweep; the same tiles in one pass are', () => {
    const g = resGrid('dzi', 14, dzi)!;
    const cells: Array<[number, number]> = [];
    for (let row = 0; row < g.rows; row++) for (let col = 0; col < g.cols; col++) cells.push([col, row]);
    const pass = cells.map(([c, r], i) => ev(T0 + i * 1000, 'img', c, r));
    assert.equal(measured(pass).sweptImages, 1);
    // The same tiles in four visits an hour apart (people coming back through a shared cache).
    const quarter = Math.ceil(cells.length / 4);
    const visits = cells.map(([c, r], i) => ev(T0 + Math.floor(i / quarter) * 3600_000 + (i % quarter) * 1000, 'img', c, r));
    assert.equal(measured(visits).sweptImages, 0);
  });
});

describe('streaming detector', () => {
  const T0 = Date.UTC(2026, 2, 2, 10);
  /** A script sweeping the deepest level of a DZI image row by row at one tile per second. */
  function* sweep(ip: string, start: number, image = 'img'): Generator<Parameters<StreamingDetector['push']>[0]> {
    const g = resGrid('dzi', 14, dzi)!;
    let i = 0;
    for (let row = 0; row < g.rows; row++)
      for (let col = 0; col < g.cols; col++, i++)
        yield {
          ts: start + i * 1000,
          ip,
          userAgent: 'python-requests/2.31.0',
          referer: '',
          status: 200,
          request: tile({ imageId: image, col, row }),
          refererKind: 'none',
          lineage: { source: 'test.log', line: i + 1, partition: -1 },
        };
  }

  function run(events: Iterable<Parameters<StreamingDetector['push']>[0]>, over: Partial<typeof cfg> = {}): { alerts: Alert[]; d: StreamingDetector } {
    const alerts: Alert[] = [];
    const d = new StreamingDetector({ config: { ...cfg, ...over }, geometryOf: () => dzi, onAlert: (a) => alerts.push(a) });
    for (const e of events) d.push(e);
    d.flush();
    return { alerts, d };
  }

  it('alerts on a 1 tile/s raster sweep of one large image, once, with deterministic ids and event-time detection', () => {
    const { alerts } = run(sweep('203.0.113.7', T0));
    const firsts = alerts.filter((a) => a.version === 1);
    assert.equal(firsts.length, 1);
    const a = firsts[0]!;
    assert.equal(a.kind, 'bulk-harvest');
    assert.equal(a.client.ip, '203.0.113.7');
    assert.equal(a.client.subnet, '203.0.113.0/24');
    assert.equal(a.id, alertId('bulk-harvest', '203.0.113.7', T0));
    assert.equal(a.firstSeen, new Date(T0).toISOString());
    // Detected while the sweep is in progress (event time), long before it ends.
    const end = T0 + resGrid('dzi', 14, dzi)!.cols * resGrid('dzi', 14, dzi)!.rows * 1000;
    assert.ok(Date.parse(a.detectedAt) < end);
    assert.deepEqual(a.evidence, { source: 'test.log', firstLine: 1, lastLine: a.evidence.lastLine });
  });

  it('does not score allow-listed clients', () => {
    const alerts: Alert[] = [];
    const d = new StreamingDetector({ config: cfg, geometryOf: () => dzi, isAllowed: (ip) => ip.startsWith('10.20.'), onAlert: (a) => alerts.push(a) });
    for (const e of sweep('10.20.0.5', T0)) d.push(e);
    d.flush();
    assert.deepEqual(alerts, []);
  });

  it('honours a per-image open-data long edge from the catalogue: content published openly is not exposure', () => {
    const alerts: Alert[] = [];
    const d = new StreamingDetector({ config: cfg, geometryOf: () => dzi, openDataOf: () => 20_000, onAlert: (a) => alerts.push(a) });
    for (const e of sweep('203.0.113.8', T0)) d.push(e);
    d.flush();
    assert.deepEqual(alerts, []);
  });

  it('a crowd behind one address re-fetching the same details is not a whole-image sweep; one fetch per tile is', () => {
    const g = resGrid('dzi', 14, dzi)!;
    const crowd = (fetchesPerTile: number): Array<Parameters<StreamingDetector['push']>[0]> => {
      const out: Array<Parameters<StreamingDetector['push']>[0]> = [];
      let t = T0;
      const push = (level: number, col: number, row: number) =>
        out.push({ ts: (t += 400), ip: '198.51.100.200', userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36', referer: 'https://museum.example/art/img', status: 200, request: tile({ level, col, row }), refererKind: 'page', lineage: { source: 'test.log', line: out.length + 1, partition: -1 } });
      // Each viewer's home view, then the details: the people behind the address look at the same
      // tiles at about the same time (column-major from the bottom right: not raster order).
      for (let person = 0; person < fetchesPerTile; person++) for (let c = 0; c < 4; c++) push(8, c, 0);
      for (let col = g.cols - 1; col >= 0; col--) for (let row = g.rows - 1; row >= 0; row--) for (let person = 0; person < fetchesPerTile; person++) push(14, col, row);
      return out;
    };
    const sweepSignal = (alerts: Alert[]): boolean => alerts.some((a) => a.reasons.some((r) => r.signal === 'whole-image-sweep'));
    assert.ok(sweepSignal(run(crowd(1)).alerts), 'one fetch per tile over the whole image is a sweep (the premise)');
    const many = run(crowd(3)).alerts;
    assert.equal(sweepSignal(many), false, 'three fetches per tile: a crowd');
    assert.deepEqual(many, [], 'and without a method signal nobody is accused');
  });

  it('evicts idle clients in event time and bounds the number held', () => {
    const { d } = run([...sweep('198.51.100.1', T0)].slice(0, 50).concat([...sweep('198.51.100.2', T0 + 3 * 3600_000)].slice(0, 50)));
    assert.equal(d.stats().clients, 1, 'the first client was idle for longer than idleMs');
    const many = Array.from({ length: 30 }, (_, i) => [...sweep(`192.0.2.${i + 1}`, T0 + i * 1000)][0]!);
    const bounded = run(many, { maxClients: 10 });
    assert.equal(bounded.d.stats().clients, 10);
    assert.equal(bounded.d.stats().evicted, 20);
  });

  it('a new episode after eviction gets a new id; the same episode replayed keeps its id', () => {
    const first = run(sweep('203.0.113.9', T0)).alerts[0]!;
    const again = run(sweep('203.0.113.9', T0)).alerts[0]!;
    assert.equal(first.id, again.id);
    const later = run(sweep('203.0.113.9', T0 + 86_400_000)).alerts[0]!;
    assert.notEqual(later.id, first.id);
  });

  /** The events of `events` as if read from Kafka partition `partition`. */
  function onPartition(events: Iterable<DetectorEvent>, partition: number): DetectorEvent[] {
    return [...events].map((e) => ({ ...e, lineage: { ...e.lineage, source: 'kafka:tiles', partition } }));
  }

  it('event time is the lowest partition\'s: a partition running ahead does not evict the clients of one behind', () => {
    const alerts: Alert[] = [];
    const d = new StreamingDetector({ config: cfg, geometryOf: () => dzi, onAlert: (a) => alerts.push(a) });
    const behind = onPartition([...sweep('198.51.100.10', T0)].slice(0, 40), 0);
    for (const e of behind.slice(0, 20)) d.push(e);
    // Partition 1 is three hours ahead (a backlog read unevenly): partition 0's client is not idle in its own time.
    for (const e of onPartition([...sweep('198.51.100.11', T0 + 3 * 3600_000)].slice(0, 20), 1)) d.push(e);
    for (const e of behind.slice(20)) d.push(e);
    assert.equal(d.stats().clients, 2, 'both clients held');
    assert.equal(d.stats().evicted, 0);
    assert.deepEqual(alerts.filter((a) => a.status === 'resolved'), []);
    // A partition silent for longer than idlePartitionEvents requests stops holding the watermark.
    const quiet: Alert[] = [];
    const q = new StreamingDetector({ config: cfg, geometryOf: () => dzi, onAlert: (a) => quiet.push(a), idlePartitionEvents: 50 });
    for (const e of behind.slice(0, 20)) q.push(e);
    for (const e of onPartition([...sweep('198.51.100.11', T0 + 3 * 3600_000)].slice(0, 100), 1)) q.push(e);
    assert.equal(q.stats().evicted, 1, 'the silent partition\'s idle client is evicted');
    // With one input (a file, partition -1) the newest event time is the watermark, as before.
    const single = run([...sweep('198.51.100.12', T0)].slice(0, 20).concat([...sweep('198.51.100.13', T0 + 3 * 3600_000)].slice(0, 20)));
    assert.equal(single.d.stats().evicted, 1);
  });

  it('forgets the clients of revoked partitions without resolving their alerts', () => {
    const alerts: Alert[] = [];
    const d = new StreamingDetector({ config: cfg, geometryOf: () => dzi, onAlert: (a) => alerts.push(a) });
    for (const e of onPartition(sweep('203.0.113.20', T0), 3)) d.push(e);
    for (const e of onPartition([...sweep('198.51.100.21', T0)].slice(0, 30), 4)) d.push(e);
    assert.ok(alerts.some((a) => a.client.ip === '203.0.113.20'), 'the scrape on partition 3 is alerted');
    const before = alerts.length;
    assert.equal(d.forgetPartitions(new Set([3])), 1);
    assert.equal(d.stats().clients, 1);
    d.flush();
    for (const e of onPartition([...sweep('198.51.100.21', T0 + 6 * 3600_000)].slice(0, 5), 4)) d.push(e);
    assert.deepEqual(alerts.slice(before).filter((a) => a.client.ip === '203.0.113.20'), [], 'no resolution, no update of a client this member no longer owns');
  });

  it('a restore that reads only the last part of a long scrape continues its open alert: same id, next version', () => {
    const events = onPartition(sweep('203.0.113.30', T0), 2);
    const whole = run(events);
    const first = whole.alerts.find((a) => a.version === 1)!;
    assert.equal(first.id, alertId('bulk-harvest', '203.0.113.30', T0));
    // A new owner: the alerts table holds the alert's versions so far; the restore reads only the
    // requests of the last idle window, which start hours after the scrape did.
    const half = Math.floor(events.length / 2);
    const stored = whole.alerts.filter((a) => a.status === 'open' && Date.parse(a.detectedAt) <= events[half]!.ts);
    const newest = stored.reduce((m, a) => (a.version > m.version ? a : m));
    const restart = events.slice(half - 600);
    const alerts: Alert[] = [];
    const d = new StreamingDetector({ config: cfg, geometryOf: () => dzi, onAlert: (a) => alerts.push(a) });
    d.beginResume([newest]);
    for (const e of restart.slice(0, 600)) d.push(e);
    d.endResume();
    for (const e of restart.slice(600)) d.push(e);
    // Another client three hours later: the scraper is idle, its episode ends and its alert resolves.
    for (const e of onPartition([...sweep('198.51.100.31', events[events.length - 1]!.ts + 3 * 3600_000)].slice(0, 3), 2)) d.push(e);
    const mine = alerts.filter((a) => a.client.ip === '203.0.113.30');
    assert.ok(mine.some((a) => a.status === 'resolved'), `the restored alert resolves: ${mine.map((a) => `${a.version}:${a.status}`).join(',')}`);
    assert.deepEqual([...new Set(mine.map((a) => a.id))], [first.id], 'one id across the restore');
    assert.ok(mine.every((a) => a.version > newest.version), `versions continue after ${newest.version}: ${mine.map((a) => a.version).join(',')}`);
    assert.ok(mine.every((a) => a.firstSeen === new Date(T0).toISOString()));
    // Without the stored alert the same restore starts a new episode: a second id.
    const cold = run(restart);
    assert.notEqual(cold.alerts[0]!.id, first.id);
  });
});

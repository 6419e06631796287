/**
 * The materialized views keep traffic_minute, client_minute and client_image_hour consistent with
 * tile_requests — after one replay, and after re-replays that ClickHouse deduplicates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describeRun, parseSummary, runCli, tempDir } from '../support/cli.ts';
import { combined, iiifInfo, iiifTile, rng, T0, type Req } from '../support/logs.ts';
import { withStore, type Reader } from '../support/store.ts';

/** A mixed log: 6 clients over ~3 hours; tiles, info.json, pages, whole images; 200/304/404/500. */
function mixedLog(): { reqs: Req[]; kinds: Record<string, number> } {
  const rand = rng(7);
  const reqs: Req[] = [];
  const kinds: Record<string, number> = { tile: 0, info: 0, page: 0, full: 0, thumbnail: 0 };
  for (let i = 0; i < 400; i++) {
    const ip = `198.51.100.${20 + (i % 6)}`;
    const ts = T0 + i * 27_000 + Math.floor(rand() * 1000);
    const img = `agg-${i % 3}`;
    const r = rand();
    let path: string;
    let kind: string;
    if (r < 0.7) {
      path = iiifTile(img, 5000, 3000, Math.floor(rand() * 19), Math.floor(rand() * 11));
      kind = 'tile';
    } else if (r < 0.8) {
      path = iiifInfo(img);
      kind = 'info';
    } else if (r < 0.9) {
      path = `/objects/${img}`;
      kind = 'page';
    } else if (r < 0.95) {
      path = `/iiif/2/${img}/full/200,/0/default.jpg`;
      kind = 'thumbnail';
    } else {
      path = `/iiif/2/${img}/full/full/0/default.jpg`;
      kind = 'full';
    }
    const s = rand();
    const status = s < 0.8 ? 200 : s < 0.9 ? 304 : s < 0.97 ? 404 : 500;
    kinds[kind]!++;
    reqs.push({ ip, ts, path, status, bytes: status === 304 ? 0 : 100 + Math.floor(rand() * 50_000) });
  }
  return { reqs, kinds };
}

/** Rows where an aggregate disagrees with the same aggregation computed from tile_requests. */
const MISMATCH_SQL = {
  client_minute: `
    SELECT count() AS n FROM
      (SELECT client, toStartOfMinute(ts) AS minute, count() AS requests, countIf(kind IN ('tile', 'region', 'full')) AS tiles,
              sum(bytes) AS bytes, countIf(status >= 400) AS errors
       FROM tile_requests GROUP BY client, minute) AS raw
    FULL OUTER JOIN
      (SELECT client, minute, sum(requests) AS requests, sum(tiles) AS tiles, sum(bytes) AS bytes, sum(errors) AS errors
       FROM client_minute GROUP BY client, minute) AS agg
    USING (client, minute)
    WHERE raw.requests != agg.requests OR raw.tiles != agg.tiles OR raw.bytes != agg.bytes OR raw.errors != agg.errors`,
  traffic_minute: `
    SELECT count() AS n FROM
      (SELECT toStartOfMinute(ts) AS minute, protocol, kind, status, count() AS requests, sum(bytes) AS bytes
       FROM tile_requests GROUP BY minute, protocol, kind, status) AS raw
    FULL OUTER JOIN
      (SELECT minute, protocol, kind, status, sum(requests) AS requests, sum(bytes) AS bytes
       FROM traffic_minute GROUP BY minute, protocol, kind, status) AS agg
    USING (minute, protocol, kind, status)
    WHERE raw.requests != agg.requests OR raw.bytes != agg.bytes`,
  client_image_hour: `
    SELECT count() AS n FROM
      (SELECT client, image_id, toStartOfHour(ts) AS hour, count() AS tiles, uniqExact(level, tile_x, tile_y) AS cells,
              min(ts) AS first_ts, max(ts) AS last_ts, max(scale) AS max_scale
       FROM tile_requests WHERE kind IN ('tile', 'region', 'full') AND status < 400 AND image_id != ''
       GROUP BY client, image_id, hour) AS raw
    FULL OUTER JOIN
      (SELECT client, image_id, hour, sum(tiles) AS tiles, uniqExactMerge(cells) AS cells,
              min(first_ts) AS first_ts, max(last_ts) AS last_ts, max(max_scale) AS max_scale
       FROM client_image_hour GROUP BY client, image_id, hour) AS agg
    USING (client, image_id, hour)
    WHERE raw.tiles != agg.tiles OR raw.cells != agg.cells OR raw.first_ts != agg.first_ts OR raw.last_ts != agg.last_ts
       OR raw.max_scale != agg.max_scale`,
} as const;

const TOTALS_SQL = `SELECT
  (SELECT toUInt32(count()) FROM tile_requests) AS requests,
  (SELECT toUInt32(sum(requests)) FROM client_minute) AS cm_requests,
  (SELECT toUInt32(sum(requests)) FROM traffic_minute) AS tm_requests,
  (SELECT toUInt64(sum(bytes)) FROM tile_requests) AS bytes,
  (SELECT toUInt64(sum(bytes)) FROM client_minute) AS cm_bytes,
  (SELECT toUInt64(sum(bytes)) FROM traffic_minute) AS tm_bytes,
  (SELECT toUInt32(sum(errors)) FROM client_minute) AS cm_errors,
  (SELECT toUInt32(sum(tiles)) FROM client_minute) AS cm_tiles,
  (SELECT toUInt32(countIf(kind IN ('tile', 'region', 'full') AND status < 400 AND image_id != '')) FROM tile_requests) AS revealing,
  (SELECT toUInt32(sum(tiles)) FROM client_image_hour) AS cih_tiles`;

interface Totals {
  requests: number;
  cm_requests: number;
  tm_requests: number;
  bytes: string | number;
  cm_bytes: string | number;
  tm_bytes: string | number;
  cm_errors: number;
  cm_tiles: number;
  revealing: number;
  cih_tiles: number;
}

async function check(r: Reader): Promise<{ totals: Totals; mismatches: Record<string, number> }> {
  const totals = await r.one<Totals>(TOTALS_SQL);
  const mismatches: Record<string, number> = {};
  for (const [name, sql] of Object.entries(MISMATCH_SQL)) mismatches[name] = Number((await r.one<{ n: number }>(sql)).n);
  return { totals, mismatches };
}

test('materialized views fill client_minute, traffic_minute and client_image_hour consistently with tile_requests', async (t) => {
  const dir = tempDir(t, 'agg');
  const data = join(dir, 'data');
  const log = join(dir, 'access.log');
  const { reqs, kinds } = mixedLog();
  writeFileSync(log, reqs.map((q) => `${combined(q)}\n`).join(''));

  // Several batches, so the views see several insert blocks.
  const run = await runCli(['replay', log, '--data', data, '--quiet', '--batch-lines', '50']);
  assert.equal(run.code, 0, describeRun(run));
  assert.equal(parseSummary(run.stdout).stored, reqs.length);

  const expectedBytes = reqs.reduce((a, q) => a + q.bytes!, 0);
  const expectedErrors = reqs.filter((q) => q.status! >= 400).length;
  const expectedRevealing = reqs.filter((q, i) => q.status! < 400 && ['tile', 'full'].includes(kindOf(i))).length;
  function kindOf(i: number): string {
    const p = reqs[i]!.path;
    return p.includes('/full/full/') ? 'full' : p.includes('/full/200,') ? 'thumbnail' : p.endsWith('info.json') ? 'info' : p.startsWith('/objects/') ? 'page' : 'tile';
  }

  const { totals, mismatches, kindCounts } = await withStore(data, async (r) => ({
    ...(await check(r)),
    kindCounts: await r.rows<{ kind: string; n: number }>('SELECT kind, toUInt32(count()) AS n FROM tile_requests GROUP BY kind ORDER BY kind'),
  }));
  // The recogniser classified the generated URLs as generated.
  assert.deepEqual(
    Object.fromEntries(kindCounts.map((k) => [k.kind, k.n])),
    Object.fromEntries(Object.entries(kinds).filter(([, n]) => n > 0).sort()),
  );
  assert.deepEqual(
    {
      requests: totals.requests,
      cm_requests: totals.cm_requests,
      tm_requests: totals.tm_requests,
      bytes: Number(totals.bytes),
      cm_bytes: Number(totals.cm_bytes),
      tm_bytes: Number(totals.tm_bytes),
      cm_errors: totals.cm_errors,
      cm_tiles: totals.cm_tiles,
      revealing: totals.revealing,
      cih_tiles: totals.cih_tiles,
    },
    {
      requests: reqs.length,
      cm_requests: reqs.length,
      tm_requests: reqs.length,
      bytes: expectedBytes,
      cm_bytes: expectedBytes,
      tm_bytes: expectedBytes,
      cm_errors: expectedErrors,
      cm_tiles: kinds.tile! + kinds.full!,
      revealing: expectedRevealing,
      cih_tiles: expectedRevealing,
    },
  );
  assert.deepEqual(mismatches, { client_minute: 0, traffic_minute: 0, client_image_hour: 0 });
});

test(
  'a deduplicated re-insert (same content replayed again, plain and gzipped) does not inflate the aggregates',
  async (t) => {
    const dir = tempDir(t, 'agg-dedup');
    const data = join(dir, 'data');
    const log = join(dir, 'small.log');
    const { reqs } = mixedLog();
    // Under 64 KiB: the re-replay re-sends every batch with the same tokens and ClickHouse drops them
    // (the same path a crash between an insert and its ledger row takes, ARCHITECTURE.md "Idempotency").
    const body = reqs.slice(0, 120).map((q) => `${combined(q)}\n`).join('');
    writeFileSync(log, body);
    writeFileSync(join(dir, 'small.log.1.gz'), gzipSync(body));
    for (const f of [log, join(dir, 'small.log.1.gz'), log]) {
      const run = await runCli(['replay', f, '--data', data, '--quiet']);
      assert.equal(run.code, 0, describeRun(run));
    }
    const { totals, mismatches } = await withStore(data, check);
    assert.equal(totals.requests, 120, 'tile_requests itself is deduplicated');
    assert.deepEqual([totals.cm_requests, totals.tm_requests], [120, 120]);
    assert.equal(totals.cih_tiles, totals.revealing);
    assert.deepEqual(mismatches, { client_minute: 0, traffic_minute: 0, client_image_hour: 0 });
  },
);

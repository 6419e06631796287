/**
 * One line path: the same log lines replayed from a file and consumed from Kafka (librdkafka's mock
 * cluster, the real `tilewatch ingest` as a child process) store the same tile_requests rows — every
 * column but the lineage (file and line vs topic, partition and offset) — and the same dead letters,
 * under each `--client-key`. Both sources turn a line into its row through services/ingest/processLine.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../services/store/openStore.ts';
import { runCliOk, tempDir } from '../support/cli.ts';
import { startIngest, stopGracefully, waitReady } from '../support/ingest.ts';
import { produceLines, startCluster, stopCluster, waitFor, type MockKafkaCluster } from '../support/kafka.ts';
import { BROWSER_UA, SCRAPER_UA, T0, combined, iiifInfo, iiifTile, writeLines, type Req } from '../support/logs.ts';

const COLUMNS =
  "ts, toString(client) AS client, client_key, method, status, bytes, host, path, referer, user_agent, protocol, kind, image_id, level, tile_x, tile_y, rect_x, rect_y, rect_w, rect_h, scale";

/** Clients sharing addresses with different browsers, every protocol, a descriptor, a page, and lines that are dead letters. */
function lines(): string[] {
  const reqs: Req[] = [];
  const at = (i: number): number => T0 + i * 1000;
  let i = 0;
  for (const [ip, ua] of [['203.0.113.5', SCRAPER_UA], ['203.0.113.5', BROWSER_UA], ['2001:db8::7', BROWSER_UA], ['198.51.100.20', 'Mozilla/5.0 (Macintosh) Safari/605.1.15']] as const) {
    reqs.push({ ip, ts: at(i++), path: iiifInfo('ms-17'), status: 200, bytes: 900, referer: 'https://museum.example/art/ms-17', ua });
    for (let c = 0; c < 3; c++) reqs.push({ ip, ts: at(i++), path: iiifTile('ms-17', 6000, 4000, c, 1), status: 200, bytes: 30_000 + c, referer: 'https://museum.example/art/ms-17', ua });
    for (const target of ['/dz/painting_files/14/3_4.jpg', '/zoomify/plate/TileGroup0/3-2-1.jpg', '/tiles/7/64/42.png', '/tms/1.0.0/base/7/64/85.png', '/iipsrv.fcgi?FIF=/im/plate.tif&JTL=3,5', '/art/ms-17'])
      reqs.push({ ip, ts: at(i++), path: target, status: 200, bytes: 12_345, referer: '', ua });
  }
  const good = reqs.map(combined);
  // Dead letters: an unparsable line and one out of range (a status of 1200).
  return [...good.slice(0, 10), 'this is not an access log line', ...good.slice(10, 20), combined({ ip: '192.0.2.1', ts: at(i), path: '/tiles/1/0/0.png', status: 1200, bytes: 10, referer: '', ua: BROWSER_UA }), ...good.slice(20)];
}

async function storedRows(data: string): Promise<{ rows: string[]; dead: string[] }> {
  const store = await openStore({ kind: 'embedded', dataDir: data });
  try {
    const rows = await (await store.client.query({ query: `SELECT ${COLUMNS} FROM tile_requests ORDER BY ts, client, path`, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    const dead = await (await store.client.query({ query: 'SELECT reason, raw FROM dead_letters ORDER BY raw', format: 'JSONEachRow' })).json<Record<string, unknown>>();
    return { rows: rows.map((r) => JSON.stringify(r)), dead: dead.map((r) => JSON.stringify(r)) };
  } finally {
    await store.close();
  }
}

describe('replay and Kafka ingest store the same rows for the same lines', { timeout: 240_000 }, () => {
  let cluster: MockKafkaCluster;
  before(() => {
    cluster = startCluster({ topics: { 'same-ip': 3, 'same-ipua': 3 } });
  });
  after(() => stopCluster(cluster));

  for (const key of ['ip', 'ip+ua'] as const) {
    it(`under --client-key ${key}`, async (t) => {
      const dir = tempDir(t, `same-rows-${key === 'ip' ? 'ip' : 'ipua'}`);
      const log = lines();
      const file = join(dir, 'access.log');
      writeLines(file, log);
      const replayData = join(dir, 'replay');
      await runCliOk(['replay', file, '--data', replayData, '--client-key', key, '--no-hunts', '--quiet']);

      const topic = key === 'ip' ? 'same-ip' : 'same-ipua';
      await produceLines(cluster.bootstrap, topic, log.map((value, n) => ({ key: String(n % 5), value })));
      const kafkaData = join(dir, 'kafka');
      const ing = await startIngest({ bootstrap: cluster.bootstrap, topic, group: `same-${topic}`, data: kafkaData, extra: ['--client-key', key, '--no-hunts'] });
      try {
        await waitReady(ing);
        await waitFor(
          async () => {
            const m = await fetch(`http://127.0.0.1:${ing.port}/metrics`).then((r) => r.text());
            const stored = /^tilewatch_ingest_rows_total(?:\{[^}]*\})? (\d+)/m.exec(m);
            // One series per reason category: their sum.
            const dead = [...m.matchAll(/^tilewatch_dead_letters_total(?:\{[^}]*\})? (\d+)/gm)].reduce((n, x) => n + Number(x[1]), 0);
            return Number(stored?.[1] ?? 0) + dead >= log.length;
          },
          60_000,
          'every message stored',
          200,
        );
      } finally {
        await stopGracefully(ing);
      }
      const fromFile = await storedRows(replayData);
      const fromKafka = await storedRows(kafkaData);
      assert.equal(fromFile.rows.length, log.length - 2, 'every good line is a row');
      assert.equal(fromFile.dead.length, 2, 'both bad lines are dead letters');
      assert.deepEqual(fromKafka.rows, fromFile.rows);
      assert.deepEqual(fromKafka.dead, fromFile.dead);
      const keys = new Set(fromFile.rows.map((r) => (JSON.parse(r) as { client_key: string }).client_key));
      if (key === 'ip') assert.ok(keys.has('203.0.113.5') && !keys.has(`203.0.113.5|${SCRAPER_UA}`));
      else assert.ok(keys.has(`203.0.113.5|${SCRAPER_UA}`) && keys.has(`203.0.113.5|${BROWSER_UA}`), 'two browsers behind one address are two keys');
    });
  }
});

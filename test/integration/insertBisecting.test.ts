/**
 * A batch the engine still rejects is bisected on the real engine (chDB): the good rows are stored,
 * each culprit becomes a dead letter with the engine's reason and its lineage, and a retry of the same
 * batch stores nothing twice. Used by replay (BatchWriter) and Kafka ingest alike.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { BatchWriter } from '../../services/store/batchWriter.ts';
import { insertBisecting, isRowRejection } from '../../services/store/insertBisecting.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';
import { writeTileRequestRow } from '../../services/store/tileRequestRows.ts';
import { TsvBuffer } from '../../services/store/tsvBuffer.ts';
import type { AccessRecord, TileRequest } from '../../services/core/types.ts';
import { tempDir } from '../support/cli.ts';

const T0 = Date.UTC(2026, 2, 2, 10);
const REQ: TileRequest = { protocol: 'dzi', imageId: 'img', kind: 'tile', level: 12, col: 1, row: 2, rect: { x0: 0, y0: 0, x1: 256, y1: 256 }, scale: 1 };

function rec(i: number): AccessRecord {
  return { ts: T0 + i * 1000, ip: `198.51.100.${i % 250}`, method: 'GET', target: `/dz/img_files/12/${i}_0.jpg`, status: 200, bytes: 1000, referer: '', userAgent: 'ua', host: '' };
}

/** 40 good rows, and at lines 7 and 31 rows the engine refuses (a year-9999 time, a size that is not a number). */
function batchBody(): { body: Buffer; good: number } {
  const out = new TsvBuffer();
  let good = 0;
  for (let line = 1; line <= 40; line++) {
    const lineage = { source: 'bad.log', partition: -1, line };
    if (line === 7) writeTileRequestRow(out, { ...rec(line), ts: Date.UTC(9999, 11, 31) }, REQ, lineage, 'k');
    else if (line === 31) out.line(`${Math.floor(T0 / 1000)}\t::ffff:1.2.3.4\tk\tGET\t200\tnot-a-number\t\t/p\t\tua\tdzi\ttile\timg\t12\t1\t2\t0\t0\t256\t256\t1\tbad.log\t-1\t31\n`);
    else {
      writeTileRequestRow(out, rec(line), REQ, lineage, 'k');
      good++;
    }
  }
  return { body: out.take(), good };
}

test('the engine rejects the whole batch; bisection stores the good rows and dead-letters the culprits with lineage', async (t) => {
  const store = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'bisect'), 'data') });
  t.after(() => store.close());
  await migrate(store.client);
  const { body, good } = batchBody();
  // The premise: without bisection the engine refuses the batch, storing nothing.
  const whole = await store.insertRaw({ table: 'tile_requests', columns: ['ts', 'client', 'client_key', 'method', 'status', 'bytes', 'host', 'path', 'referer', 'user_agent', 'protocol', 'kind', 'image_id', 'level', 'tile_x', 'tile_y', 'rect_x', 'rect_y', 'rect_w', 'rect_h', 'scale', 'source', 'partition', 'line'], body, format: 'TabSeparated' }).then(
    () => null,
    (err: unknown) => err,
  );
  assert.ok(whole !== null && isRowRejection(whole), `the engine rejects the batch as bad data: ${String(whole)}`);
  assert.equal(Number((await (await store.client.query({ query: 'SELECT count() AS n FROM tile_requests', format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n), 0);

  const writer = new BatchWriter({ store, sleep: async () => undefined });
  const batch = { sourceId: 'src-1', file: 'bad.log', partition: -1, firstLine: 1, lastLine: 40, rows: body, rowCount: 40, deadLetters: Buffer.alloc(0), deadLetterCount: 0 };
  await writer.write(batch);
  await writer.drain();
  assert.deepEqual({ rows: writer.stats.rows, dead: writer.stats.deadLetters, rejected: writer.stats.rejected }, { rows: good, dead: 2, rejected: 2 });
  // The same batch again (a retry after a crash): deduplicated, nothing stored twice.
  await writer.write(batch);
  await writer.drain();
  const stored = await (await store.client.query({ query: 'SELECT toUInt64(line) AS line FROM tile_requests ORDER BY line', format: 'JSONEachRow' })).json<{ line: string }>();
  assert.deepEqual(stored.map((r) => Number(r.line)), Array.from({ length: 40 }, (_, i) => i + 1).filter((l) => l !== 7 && l !== 31));
  const dead = await (await store.client.query({ query: 'SELECT source, partition, toUInt64(line) AS line, reason, raw FROM dead_letters ORDER BY line', format: 'JSONEachRow' })).json<{ source: string; partition: number; line: string; reason: string; raw: string }>();
  assert.deepEqual(dead.map((d) => [d.source, d.partition, Number(d.line)]), [['bad.log', -1, 7], ['bad.log', -1, 31]]);
  for (const d of dead) {
    assert.match(d.reason, /^rejected by the store: .*Code: \d+/);
    assert.ok(d.raw.includes('\t') && d.raw.endsWith(`\t${d.line}`), 'the raw evidence is the row as sent');
  }
});

test('bisection is deterministic and rethrows what is not bad data (an outage stays an outage)', async (t) => {
  const store = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'bisect2'), 'data') });
  t.after(() => store.close());
  await migrate(store.client);
  const { body } = batchBody();
  const tokens: string[] = [];
  const recording = { insertRaw: (i: Parameters<typeof store.insertRaw>[0]) => (tokens.push(String(i.settings?.insert_deduplication_token)), store.insertRaw(i)) };
  const columns = ['ts', 'client', 'client_key', 'method', 'status', 'bytes', 'host', 'path', 'referer', 'user_agent', 'protocol', 'kind', 'image_id', 'level', 'tile_x', 'tile_y', 'rect_x', 'rect_y', 'rect_w', 'rect_h', 'scale', 'source', 'partition', 'line'];
  const a = await insertBisecting(recording, { table: 'tile_requests', columns, body, token: 'tok', attempt: (fn) => fn() });
  const first = tokens.splice(0);
  const b = await insertBisecting(recording, { table: 'tile_requests', columns, body, token: 'tok', attempt: (fn) => fn() });
  assert.deepEqual(tokens, first, 'the same body splits the same way with the same tokens');
  assert.deepEqual(a.map((r) => r.row), b.map((r) => r.row));
  assert.ok(first.length <= 2 * 2 * Math.ceil(Math.log2(40)) + 1, `k bad rows cost O(k log n) inserts (${first.length})`);
  const outage = { insertRaw: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123')) };
  await assert.rejects(insertBisecting(outage, { table: 'tile_requests', columns, body, token: 't', attempt: (fn) => fn() }), /ECONNREFUSED/);
});

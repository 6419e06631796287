/**
 * Bench child: the insert-only rate. A fresh chDB directory opened with openStore (as replay opens it) and
 * migrated; pre-encoded TSV batches (written by stages.ts, cut where replay cuts them) are loaded into memory
 * (untimed), then timed while a BatchWriter inserts them, exactly as replay hands them over. Variants change
 * only the schema:
 *
 *   full          the migrated schema (materialized views, projections, skip indexes as declared)
 *   noimagecopy   the image_requests view dropped (the image-first copy's insert cost: full vs this)
 *   noviews       materialized views dropped
 *   plain    views, projections and data-skipping indexes dropped: tile_requests alone
 *
 *   node --import tsx test/bench/insertOnly.ts --data DIR --rows PREFIX --variant full|noimagecopy|noviews|plain
 */
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { BatchWriter } from '../../services/store/batchWriter.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';
import { emit, queryRows, requireArg } from './shared.ts';

const args = process.argv.slice(2);
const dataDir = resolve(requireArg(args, '--data'));
const prefix = resolve(requireArg(args, '--rows'));
const variant = requireArg(args, '--variant');
if (!['full', 'noimagecopy', 'noviews', 'plain'].includes(variant)) throw new Error(`unknown variant ${variant}`);

interface IndexEntry {
  offset: number;
  length: number;
  rows: number;
  firstLine: number;
  lastLine: number;
}
const index = JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as { file: string; batches: IndexEntry[] };
const data = readFileSync(`${prefix}.tsv`);
// One Buffer per batch, as replay hands BatchWriter what TsvBuffer.take() returns.
const batches = index.batches.map((b) => ({ ...b, payload: Buffer.from(data.subarray(b.offset, b.offset + b.length)) }));
const totalRows = batches.reduce((a, b) => a + b.rows, 0);

rmSync(dataDir, { recursive: true, force: true });
const store = await openStore({ kind: 'embedded', dataDir });
const client = store.client;
await migrate(client);
if (variant === 'noviews' || variant === 'plain') {
  const views = await queryRows<{ name: string }>(
    client,
    "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'",
  );
  for (const v of views) await client.command({ query: `DROP VIEW ${v.name}` });
}
if (variant === 'noimagecopy') await client.command({ query: 'DROP VIEW image_requests_mv' });
if (variant === 'plain') {
  // Whatever the current schema declares (it changes): drop every projection and data-skipping index.
  const projections = await queryRows<{ name: string }>(client, "SELECT name FROM system.projections WHERE database = currentDatabase() AND table = 'tile_requests'");
  for (const p of projections) await client.command({ query: `ALTER TABLE tile_requests DROP PROJECTION ${p.name}` });
  const indices = await queryRows<{ name: string }>(
    client,
    "SELECT name FROM system.data_skipping_indices WHERE database = currentDatabase() AND table = 'tile_requests'",
  );
  for (const ix of indices) await client.command({ query: `ALTER TABLE tile_requests DROP INDEX ${ix.name}` });
}
const [schema] = await queryRows<{ views: string; projections: string; indices: string }>(
  client,
  `SELECT (SELECT count() FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView') AS views,
          (SELECT count() FROM system.projections WHERE database = currentDatabase() AND table = 'tile_requests') AS projections,
          (SELECT count() FROM system.data_skipping_indices WHERE database = currentDatabase() AND table = 'tile_requests') AS indices`,
);

const sourceId = 'bench-insert-only';
const t0 = performance.now();
const writer = new BatchWriter({ store });
for (const b of batches) {
  await writer.write({
    sourceId,
    file: index.file,
    partition: -1,
    firstLine: b.firstLine,
    lastLine: b.lastLine,
    rows: b.payload,
    rowCount: b.rows,
    deadLetters: Buffer.alloc(0),
    deadLetterCount: 0,
  });
}
await writer.drain();
const insertMs = performance.now() - t0;
const [count] = await queryRows<{ n: string }>(client, 'SELECT count() AS n FROM tile_requests');
await store.close();
emit({
  variant,
  schema: { views: Number(schema?.views ?? 0), projections: Number(schema?.projections ?? 0), indices: Number(schema?.indices ?? 0) },
  batches: batches.length, rows: totalRows, stored: Number(count?.n ?? 0), bytes: data.length, insertMs });

/**
 * Migrations against the real engine: `tilewatch migrate` (child processes) and `migrate()` in this
 * process on its own data directory (chDB binds one directory per process; node's test runner gives
 * this file its own process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadMigrations, migrate, type Migration } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';
import { describeRun, runCli, tempDir } from '../support/cli.ts';
import { sqlRows } from '../support/store.ts';

const EXPECTED_TABLES = [
  'alerts',
  'client_image_hour',
  'client_minute',
  'dead_letters',
  'images',
  'ingest_batches',
  'schema_migrations',
  'tile_requests',
  'traffic_minute',
];
const EXPECTED_VIEWS = ['client_image_hour_mv', 'client_minute_mv', 'traffic_minute_mv'];

test('tilewatch migrate twice: first applies every migration, second applies nothing; all tables exist', async (t) => {
  const data = join(tempDir(t, 'mig'), 'data');
  const files = loadMigrations();
  assert.ok(files.length >= 3, `expected the shipped migrations, found ${files.length}`);

  const first = await runCli(['migrate', '--data', data]);
  assert.equal(first.code, 0, describeRun(first));
  assert.equal(first.stdout, `applied ${files.length} migration(s) to embedded chDB at ${data}: ${files.map((m) => m.name).join(', ')}\n`);

  const second = await runCli(['migrate', '--data', data]);
  assert.equal(second.code, 0, describeRun(second));
  assert.equal(second.stdout, `embedded chDB at ${data} is up to date (${files.length} migrations)\n`);

  const tables = await sqlRows<{ name: string; engine: string }>(
    data,
    'SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name',
  );
  const names = tables.map((r) => r.name);
  for (const tbl of [...EXPECTED_TABLES, ...EXPECTED_VIEWS]) assert.ok(names.includes(tbl), `table ${tbl} missing; have ${names.join(', ')}`);
  for (const v of EXPECTED_VIEWS) assert.equal(tables.find((r) => r.name === v)?.engine, 'MaterializedView', v);

  // Exactly one ledger row per migration file, with that file's checksum (the second run recorded nothing).
  const ledger = await sqlRows<{ version: number; name: string; checksum: string; n: string | number }>(
    data,
    'SELECT version, name, checksum, count() OVER (PARTITION BY version) AS n FROM schema_migrations ORDER BY version',
  );
  assert.deepEqual(
    ledger.map((r) => ({ version: Number(r.version), name: r.name, checksum: r.checksum, n: Number(r.n) })),
    files.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum, n: 1 })),
  );
});

test('migrate(): an applied migration whose contents changed is refused; new ones apply once; a failing one is not recorded', async (t) => {
  const data = join(tempDir(t, 'mig-inproc'), 'data');
  const store = await openStore({ kind: 'embedded', dataDir: data });
  t.after(() => store.close());
  const shipped = loadMigrations();

  const r1 = await migrate(store.client, shipped);
  assert.deepEqual(r1, { applied: shipped.map((m) => m.name), alreadyApplied: 0 });
  const r2 = await migrate(store.client, shipped);
  assert.deepEqual(r2, { applied: [], alreadyApplied: shipped.length });

  // Someone edits an applied migration (here: its checksum changes, as it would when the file is edited).
  const target = shipped[1]!;
  const edited: Migration[] = shipped.map((m) => (m.version === target.version ? { ...m, checksum: 'f'.repeat(64) } : m));
  await assert.rejects(migrate(store.client, edited), (err: Error) => {
    assert.match(err.message, new RegExp(`^Migration ${target.name} was applied with different contents`));
    assert.match(err.message, new RegExp(`checksum ${target.checksum.slice(0, 12)} ≠ ffffffffffff`));
    assert.match(err.message, /Never edit an applied migration; add a new numbered one\./);
    return true;
  });

  // A new numbered migration is the supported way: applied once, then a no-op.
  const added: Migration = {
    version: 900,
    name: '900_it_extra',
    statements: ['CREATE TABLE IF NOT EXISTS it_extra (x UInt8) ENGINE = MergeTree ORDER BY x'],
    checksum: 'a'.repeat(64),
  };
  assert.deepEqual(await migrate(store.client, [...shipped, added]), { applied: ['900_it_extra'], alreadyApplied: shipped.length });
  assert.deepEqual(await migrate(store.client, [...shipped, added]), { applied: [], alreadyApplied: shipped.length + 1 });

  // A statement that fails names its migration, and the migration is not recorded (the next run retries it).
  const broken: Migration = { version: 901, name: '901_it_broken', statements: ['CREATE TABLE it_broken ('], checksum: 'b'.repeat(64) };
  await assert.rejects(migrate(store.client, [...shipped, added, broken]), /^Error: Migration 901_it_broken failed: /);
  const rows = await (
    await store.client.query({ query: 'SELECT version, checksum FROM schema_migrations FINAL ORDER BY version', format: 'JSONEachRow' })
  ).json<{ version: number; checksum: string }>();
  assert.deepEqual(
    rows.map((r) => [Number(r.version), r.checksum]),
    [...shipped.map((m) => [m.version, m.checksum]), [900, 'a'.repeat(64)]],
    'the refused edit and the failed migration left the ledger as it was',
  );
});

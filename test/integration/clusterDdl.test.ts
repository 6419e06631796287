/**
 * The cluster variant of the schema (services/store/clusterDdl.ts), as `migrate()` issues it with
 * `cluster` set: every statement must parse with ClickHouse's own parser (chDB's formatQuery), every
 * MergeTree table must become a Replicated one with a Distributed twin, and the materialized views must
 * connect the local tables. chDB cannot run a cluster (no Keeper), so the DDL is parsed, not executed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { toClusterDdl } from '../../services/store/clusterDdl.ts';
import { loadMigrations, migrate } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';
import { describeRun, runCli, tempDir } from '../support/cli.ts';

/** A client that records what migrate() sends and reports an empty ledger. */
function recordingClient(): { client: ClickHouseClient; statements: string[] } {
  const statements: string[] = [];
  const client = {
    command: async ({ query }: { query: string }) => {
      statements.push(query);
      return {};
    },
    query: async () => ({ json: async () => [] }),
  };
  return { client: client as unknown as ClickHouseClient, statements };
}

const ddlOf = async (cluster: string): Promise<string[]> => {
  const { client, statements } = recordingClient();
  await migrate(client, loadMigrations(), { cluster });
  return statements.filter((s) => !/^INSERT/i.test(s));
};

test('cluster DDL: every statement migrate() issues parses with ClickHouse\'s parser', async (t) => {
  const statements = await ddlOf('{cluster}');
  const store = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'cluster'), 'data') });
  t.after(() => store.close());
  for (const q of statements) {
    const rs = await store.client.query({ query: 'SELECT formatQuery({q:String}) AS f', query_params: { q }, format: 'JSONEachRow' }).catch((err: Error) => {
      throw new Error(`ClickHouse cannot parse:\n${q}\n${err.message}`);
    });
    const [row] = await rs.json<{ f: string }>();
    assert.match(row!.f, /ON CLUSTER [`']\{cluster\}[`']/, `formatted statement lost ON CLUSTER:\n${row!.f}`);
  }
  // A statement the parser rejects fails this way too (the check can fail).
  await assert.rejects(store.client.query({ query: 'SELECT formatQuery({q:String})', query_params: { q: 'CREATE TABLE x ON CLUSTER (a' }, format: 'JSONEachRow' }));
});

test('cluster DDL: every MergeTree table is Replicated with a Distributed twin; views join the local tables', async () => {
  const statements = await ddlOf('tilewatch');
  const single = loadMigrations().flatMap((m) => m.statements);
  const tables = single.map((s) => /^CREATE TABLE IF NOT EXISTS (\w+)/.exec(s)?.[1]).filter((n): n is string => n !== undefined);
  const views = single.map((s) => /^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+)/.exec(s)).filter((m): m is RegExpExecArray => m !== null);
  assert.ok(tables.length >= 9 && views.length >= 3, `expected the shipped tables and views, found ${tables.length} and ${views.length}`);

  for (const s of statements) assert.match(s, / ON CLUSTER 'tilewatch'/, `no ON CLUSTER in: ${s.slice(0, 100)}`);
  for (const s of statements.filter((x) => /ENGINE\s*=/.test(x))) {
    assert.doesNotMatch(s, /ENGINE\s*=\s*(?!Replicated|Distributed)\w*MergeTree/, `a MergeTree stayed unreplicated: ${s.slice(0, 120)}`);
    assert.doesNotMatch(s, /non_replicated_deduplication_window/, 'replicated tables use replicated_deduplication_window');
  }
  for (const name of [...tables, 'schema_migrations']) {
    const local = statements.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${name}_local ON CLUSTER`));
    assert.ok(local, `no local table for ${name}`);
    assert.match(local, new RegExp(`ENGINE = Replicated\\w*MergeTree\\('/clickhouse/tables/\\{shard\\}/\\{database\\}/${name}_local', '\\{replica\\}'`), `${name}_local engine`);
    const dist = statements.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${name} ON CLUSTER`));
    assert.ok(dist, `no Distributed table for ${name}`);
    assert.match(dist, new RegExp(`AS ${name}_local\\nENGINE = Distributed\\('tilewatch', currentDatabase\\(\\), ${name}_local, cityHash64\\(\\w+\\)\\)`));
    assert.ok(statements.indexOf(local) < statements.indexOf(dist), `${name}: the local table must exist before its Distributed table`);
  }
  // ReplacingMergeTree keeps its version column after the replication arguments.
  assert.match(statements.find((s) => s.startsWith('CREATE TABLE IF NOT EXISTS alerts_local'))!, /ReplicatedReplacingMergeTree\('[^']+', '\{replica\}', version\)/);
  // Requests and their per-client aggregates shard by client, so aggregates stay whole per shard.
  for (const name of ['tile_requests', 'client_minute', 'client_image_hour'])
    assert.match(statements.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${name} ON CLUSTER`))!, /cityHash64\(client\)\)$/);
  for (const [, view, target] of views) {
    const mv = statements.find((s) => s.startsWith(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${view} ON CLUSTER`));
    assert.ok(mv, `no view ${view}`);
    assert.match(mv, new RegExp(`TO ${target}_local AS`));
    // Each view reads its source's local table (tile_requests for the rollups, alerts for the alert outbox).
    assert.match(mv, /FROM \w+_local\b/);
    assert.doesNotMatch(mv, /FROM (?!\w+_local\b)\w+/, `${view} reads a Distributed table`);
  }
  assert.match(statements.find((s) => s.startsWith('CREATE MATERIALIZED VIEW IF NOT EXISTS alert_outbox_mv ON CLUSTER'))!, /FROM alerts_local\b/);
});

test('cluster DDL: ALTERs reach local (and, for columns, Distributed) tables; unknown statements are refused', () => {
  assert.deepEqual(toClusterDdl('ALTER TABLE alerts ADD COLUMN note String', { cluster: 'c' }), [
    "ALTER TABLE alerts_local ON CLUSTER 'c' ADD COLUMN note String",
    "ALTER TABLE alerts ON CLUSTER 'c' ADD COLUMN note String",
  ]);
  assert.deepEqual(toClusterDdl('ALTER TABLE alerts MODIFY TTL toDateTime(detected_at) + INTERVAL 1 YEAR', { cluster: 'c' }), [
    "ALTER TABLE alerts_local ON CLUSTER 'c' MODIFY TTL toDateTime(detected_at) + INTERVAL 1 YEAR",
  ]);
  // A backfill runs once through the Distributed tables.
  assert.deepEqual(toClusterDdl('INSERT INTO image_requests SELECT image_id FROM tile_requests', { cluster: 'c' }), ['INSERT INTO image_requests SELECT image_id FROM tile_requests']);
  assert.throws(() => toClusterDdl('CREATE VIEW v AS SELECT 1', { cluster: 'c' }), /no cluster form/);
  assert.throws(() => toClusterDdl('CREATE TABLE t (a UInt8) ENGINE = Memory', { cluster: 'c' }), /no MergeTree-family engine/);
});

test('--clickhouse-cluster without a server is a configuration error (exit 2)', async (t) => {
  const r = await runCli(['migrate', '--data', join(tempDir(t, 'cluster-cli'), 'data'), '--clickhouse-cluster', 'tilewatch']);
  assert.equal(r.code, 2, describeRun(r));
  assert.match(r.stderr, /--clickhouse-cluster needs a ClickHouse server/);
});

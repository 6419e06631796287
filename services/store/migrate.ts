import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { toClusterDdl } from './clusterDdl.ts';
import type { Store } from './openStore.ts';

/** schemas/clickhouse/ in this checkout. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../schemas/clickhouse/', import.meta.url));

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
  readonly checksum: string;
}

export interface MigrateOptions {
  /**
   * Apply the cluster form of every statement (services/store/clusterDdl.ts): replicated local tables,
   * Distributed tables over them, ON CLUSTER. The cluster name or a macro such as `{cluster}`.
   * Default: none (single node, the statements as written).
   */
  readonly cluster?: string;
}

/** The cluster a store's migrations take, if any. */
export function clusterOf(store: Pick<Store, 'target'>): string | undefined {
  return store.target.kind === 'server' ? store.target.cluster : undefined;
}

export interface MigrationResult {
  readonly applied: readonly string[];
  readonly alreadyApplied: number;
}

/** Reads `NNN_name.sql` files in order. Statements are separated by `;` at the end of a line. */
export function loadMigrations(dir = DEFAULT_MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  return files.map((file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    return {
      version: Number(file.slice(0, 3)),
      name: file.replace(/\.sql$/, ''),
      statements: splitStatements(text),
      checksum: createHash('sha256').update(text).digest('hex'),
    };
  });
}

/** Splits a migration into statements: `;` at end of line ends one; `--` comment lines are dropped. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Applies every migration not yet recorded in `schema_migrations`, in order. Idempotent: statements use
 * IF NOT EXISTS, and an applied migration whose file changed is an error (never silently re-run).
 */
export async function migrate(client: ClickHouseClient, migrations = loadMigrations(), options: MigrateOptions = {}): Promise<MigrationResult> {
  const { cluster } = options;
  const form = (statement: string): string[] => (cluster ? toClusterDdl(statement, { cluster }) : [statement]);
  for (const query of form(`CREATE TABLE IF NOT EXISTS schema_migrations
            (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC'))
            ENGINE = ReplacingMergeTree ORDER BY version`)) {
    await client.command({ query });
  }
  const rows = await (
    await client.query({ query: 'SELECT version, name, checksum FROM schema_migrations FINAL', format: 'JSONEachRow' })
  ).json<{ version: number; name: string; checksum: string }>();
  const done = new Map(rows.map((r) => [Number(r.version), r]));
  const applied: string[] = [];
  for (const m of migrations) {
    const prior = done.get(m.version);
    if (prior) {
      if (prior.checksum !== m.checksum) {
        throw new Error(
          `Migration ${m.name} was applied with different contents (checksum ${prior.checksum.slice(0, 12)} ≠ ${m.checksum.slice(0, 12)}). ` +
            'Never edit an applied migration; add a new numbered one.',
        );
      }
      continue;
    }
    for (const statement of m.statements.flatMap(form)) {
      try {
        await client.command({ query: statement });
      } catch (err) {
        throw new Error(`Migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
    }
    // INSERT … SELECT with parameters: no inline data (chDB's inline-data path misreads a busy stdin).
    await client.command({
      query: 'INSERT INTO schema_migrations SELECT {version:UInt32}, {name:String}, {checksum:String}, now64(3)',
      query_params: { version: m.version, name: m.name, checksum: m.checksum },
      // On a cluster the ledger is a Distributed table: write through synchronously so the next run sees it.
      ...(cluster ? { clickhouse_settings: { insert_distributed_sync: 1 } } : {}),
    });
    applied.push(m.name);
  }
  return { applied, alreadyApplied: migrations.length - applied.length };
}

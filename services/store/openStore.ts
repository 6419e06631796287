import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { StoreLockedError, StoreUnreachableError } from './storeErrors.ts';
import { createClient, type ClickHouseClient, type ClickHouseClientConfigOptions, type ClickHouseSettings } from '@clickhouse/client';

export { StoreLockedError, StoreUnreachableError };

/** Where the data lives: an embedded chDB directory (default) or a ClickHouse server. */
export type StoreTarget =
  | { readonly kind: 'embedded'; readonly dataDir: string }
  | {
      readonly kind: 'server';
      readonly url: string;
      readonly database?: string;
      readonly username?: string;
      readonly password?: string;
      /** ClickHouse cluster (or `{cluster}` macro): migrations take their cluster form (clusterDdl.ts). */
      readonly cluster?: string;
    };

/** Pre-encoded rows for one insert. */
export interface RawInsert {
  readonly table: string;
  readonly columns?: readonly string[];
  readonly format: 'TabSeparated' | 'JSONEachRow';
  readonly body: Buffer;
  readonly settings?: Readonly<Record<string, string | number>>;
}

export interface Store {
  readonly client: ClickHouseClient;
  readonly target: StoreTarget;
  /** Human description for logs and messages (no password). */
  readonly description: string;
  /**
   * Inserts pre-encoded rows. On chDB this is the engine's zero-copy raw insert (parsed by its
   * multithreaded parser, and never confused by data on the process's stdin, which the inline
   * `INSERT … FORMAT` path of the generic connection is); on a server it is a normal HTTP insert.
   */
  insertRaw(insert: RawInsert): Promise<void>;
  close(): Promise<void>;
}

/**
 * Settings of every statement on a cluster (`--clickhouse-cluster`), where the application reads and
 * writes Distributed tables:
 * - `distributed_product_mode = 'global'`: an IN or JOIN subquery over a Distributed table (the hunts'
 *   "active in the last step", the restore and incident queries) runs once and is sent to every shard,
 *   where the default 'deny' refuses the statement;
 * - `insert_distributed_sync = 1`: an insert is acknowledged once every shard stored its rows, not when
 *   it is queued, so committing a Kafka offset after it means the rows are stored;
 * - `insert_quorum = 'auto'`: and once a majority of each shard's replicas has them.
 */
export const CLUSTER_SETTINGS: ClickHouseSettings = { distributed_product_mode: 'global', insert_distributed_sync: 1, insert_quorum: 'auto' };

/** Encodes plain objects as JSONEachRow for {@link Store.insertRaw}. */
export function jsonEachRow(rows: readonly object[]): Buffer {
  return Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/**
 * Opens the ClickHouse client for a target. The same SQL runs on both: chDB is the ClickHouse engine
 * in-process, plugged into @clickhouse/client through its Connection interface.
 */
export async function openStore(target: StoreTarget): Promise<Store> {
  if (target.kind === 'server') {
    const client = createClient({
      url: target.url,
      ...(target.database !== undefined ? { database: target.database } : {}),
      ...(target.username !== undefined ? { username: target.username } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      request_timeout: 300_000,
      compression: { request: false, response: true },
      ...(target.cluster ? { clickhouse_settings: CLUSTER_SETTINGS } : {}),
    });
    const ping = await client.ping();
    if (!ping.success) {
      await client.close();
      throw new StoreUnreachableError(`Cannot reach ClickHouse at ${redactUrl(target.url)}: ${ping.error.message}`);
    }
    return {
      client,
      target,
      description: `ClickHouse server ${redactUrl(target.url)}`,
      insertRaw: async (ins) => {
        // The encoded bytes as the request body of `INSERT … FORMAT …` (exec): the client's insert()
        // takes JSON formats only as streams of objects and would refuse these bytes.
        const columns = ins.columns ? ` (${ins.columns.join(', ')})` : '';
        const r = await client.exec({
          query: `INSERT INTO ${ins.table}${columns} FORMAT ${ins.format}`,
          values: Readable.from([ins.body], { objectMode: false }),
          ...(ins.settings ? { clickhouse_settings: ins.settings as ClickHouseSettings } : {}),
        });
        // Read the (empty) response to its end so the socket goes back to the pool cleanly.
        for await (const chunk of r.stream) void chunk;
      },
      close: () => client.close(),
    };
  }
  const dataDir = resolve(target.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // chdb/connection is CommonJS with a native addon: load it only when the embedded store is used.
  const { createChdbConnection } = await import('chdb/connection');
  let connection;
  try {
    connection = createChdbConnection({ path: dataDir });
  } catch (err) {
    if (isLockError(err)) throw new StoreLockedError(dataDir, err);
    throw err;
  }
  // chdb ships its own copy of client-common's types; the runtime contract is the same Connection interface.
  const client = createClient({ connection: connection as unknown as ClickHouseClientConfigOptions['connection'] });
  try {
    await client.query({ query: 'SELECT 1', format: 'CSV' }).then((r) => r.text());
  } catch (err) {
    await client.close();
    if (isLockError(err)) throw new StoreLockedError(dataDir, err);
    throw err;
  }
  const chdb = connection.chdb;
  return {
    client,
    target: { kind: 'embedded', dataDir },
    description: `embedded chDB at ${dataDir}`,
    insertRaw: async (ins) => {
      await chdb.rawInsert({
        table: ins.table,
        values: ins.body,
        format: ins.format,
        ...(ins.columns ? { columns: ins.columns } : {}),
        ...(ins.settings ? { settings: { ...ins.settings } } : {}),
      });
    },
    close: () => client.close(),
  };
}

/**
 * chDB refuses a directory another process holds: the native layer prints "Cannot lock file … (code
 * 76)" and the binding throws a connection error naming the path.
 */
function isLockError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 'CHDB_CONNECTION' || /Cannot lock file|Code: 76|Failed to create connection for path/i.test(String(e?.message ?? ''));
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

/**
 * Reads a data directory from the test process itself, to check what a CLI child wrote without
 * paying a process start per query.
 *
 * chDB binds ONE data directory per process at a time: opening a second path while one is open is
 * rejected ("only one active data directory per process"), and a directory open here is locked
 * against CLI children. So every use is scoped: open, query, close — never while a child runs on the
 * same directory, never two at once (calls are serialised). Re-binding to another path after close
 * works in chDB 3.4 (measured: ~60 ms per open/close).
 */
import { openStore } from '../../services/store/openStore.ts';

export interface Reader {
  rows<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  one<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T>;
}

let chain: Promise<unknown> = Promise.resolve();

/** Opens `dataDir` in this process, runs `fn`, closes it again (serialised across callers). */
export function withStore<T>(dataDir: string, fn: (r: Reader) => Promise<T>): Promise<T> {
  const run = async (): Promise<T> => {
    const store = await openStore({ kind: 'embedded', dataDir });
    try {
      const reader: Reader = {
        async rows<R>(sql: string, params: Record<string, unknown> = {}): Promise<R[]> {
          const rs = await store.client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: { readonly: '1' } });
          return rs.json<R>();
        },
        async one<R>(sql: string, params: Record<string, unknown> = {}): Promise<R> {
          const rows = await reader.rows<R>(sql, params);
          if (rows.length !== 1) throw new Error(`expected one row from ${sql}, got ${rows.length}: ${JSON.stringify(rows)}`);
          return rows[0]!;
        },
      };
      return await fn(reader);
    } finally {
      await store.close();
    }
  };
  const p = chain.then(run, run);
  chain = p.catch(() => undefined);
  return p;
}

/** Rows of one query, read in-process. */
export function sqlRows<T = Record<string, unknown>>(dataDir: string, sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return withStore(dataDir, (r) => r.rows<T>(sql, params));
}

/** The single row of one query, read in-process. */
export function sqlOne<T = Record<string, unknown>>(dataDir: string, sql: string, params: Record<string, unknown> = {}): Promise<T> {
  return withStore(dataDir, (r) => r.one<T>(sql, params));
}

/**
 * The cluster form of a migration statement, for a ClickHouse cluster (config `clickhouseCluster`,
 * flag `--clickhouse-cluster`). Pure: one single-node statement in, its cluster statements out.
 *
 * - `CREATE TABLE t (…) ENGINE = XMergeTree…` becomes a replicated local table `t_local` on every node
 *   (`ReplicatedXMergeTree('/clickhouse/tables/{shard}/{database}/t_local', '{replica}', …)`) and a
 *   `Distributed` table `t` over it, so the application keeps reading and writing `t`.
 * - `CREATE MATERIALIZED VIEW v TO t AS SELECT … FROM s` reads the local source `s_local` and writes the
 *   local target `t_local`: every shard aggregates the rows it stores.
 * - `ALTER TABLE t ADD|DROP|MODIFY|RENAME|COMMENT COLUMN …` applies to `t_local` and `t` (the
 *   Distributed table mirrors the columns); any other ALTER (indexes, TTL, settings) to `t_local` only.
 * - `CREATE DICTIONARY d (…) SOURCE(CLICKHOUSE(TABLE 't'))` is created on every node (reading `t`,
 *   the Distributed table).
 * - `INSERT INTO t SELECT … FROM s` (a backfill) runs once, unchanged, through the Distributed tables:
 *   it reads every shard and writes rows to their shards.
 * DDL runs `ON CLUSTER`. Any other statement is refused rather than guessed.
 *
 * Sharding: rows go to a shard by `cityHash64(<first sorting-key column>)`. For tile_requests that is
 * the client, so a client's requests and its per-client aggregates live on one shard; for the
 * ReplacingMergeTree tables it is the key, so every version of a row meets its predecessors on one
 * shard (FINAL works per shard).
 */

/** `{cluster}`-style macros are passed through: ClickHouse expands them on each node. */
export interface ClusterOptions {
  /** Cluster name as in the server's remote_servers, or a macro such as `{cluster}`. */
  readonly cluster: string;
}

const CREATE_TABLE = /^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(/i;
const CREATE_MV = /^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s+TO\s+(\w+)\s+AS\s+([\s\S]*)$/i;
const ALTER_TABLE = /^ALTER\s+TABLE\s+(\w+)\s+([\s\S]*)$/i;
const CREATE_DICTIONARY = /^CREATE\s+DICTIONARY\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(/i;
const INSERT_SELECT = /^INSERT\s+INTO\s+\w+\s+SELECT\b/i;
const ENGINE = /ENGINE\s*=\s*(\w*MergeTree)\s*(?:\(([^)]*)\))?/i;

export const LOCAL_SUFFIX = '_local';

/** Single-quoted SQL string literal. */
function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The first column of ORDER BY (`ORDER BY (a, b)` or `ORDER BY a`). */
function firstSortingColumn(statement: string, table: string): string {
  const m = /ORDER\s+BY\s+\(?\s*(\w+)/i.exec(statement);
  if (!m) throw new Error(`cluster DDL: table ${table} has no ORDER BY to shard by`);
  return m[1]!;
}

/** Turns one migration statement into its cluster statements (in order). */
export function toClusterDdl(statement: string, opts: ClusterOptions): string[] {
  const sql = statement.trim();
  const onCluster = `ON CLUSTER ${quote(opts.cluster)}`;

  const table = CREATE_TABLE.exec(sql);
  if (table) {
    const ifNotExists = table[1] ?? '';
    const name = table[2]!;
    const local = `${name}${LOCAL_SUFFIX}`;
    const engine = ENGINE.exec(sql);
    if (!engine) throw new Error(`cluster DDL: table ${name} has no MergeTree-family engine`);
    const family = engine[1]!;
    if (/^Replicated/i.test(family)) throw new Error(`cluster DDL: table ${name} is already replicated`);
    const args = [quote(`/clickhouse/tables/{shard}/{database}/${local}`), quote('{replica}'), ...(engine[2]?.trim() ? [engine[2].trim()] : [])];
    const localSql = sql
      .replace(CREATE_TABLE, `CREATE TABLE ${ifNotExists}${local} ${onCluster}\n(`)
      .replace(ENGINE, `ENGINE = Replicated${family}(${args.join(', ')})`)
      // Replicated tables deduplicate by their own window; the non-replicated setting does not apply.
      .replace(/non_replicated_deduplication_window/g, 'replicated_deduplication_window');
    const shardKey = `cityHash64(${firstSortingColumn(sql, name)})`;
    const distributed = `CREATE TABLE ${ifNotExists}${name} ${onCluster} AS ${local}\nENGINE = Distributed(${quote(opts.cluster)}, currentDatabase(), ${local}, ${shardKey})`;
    return [localSql, distributed];
  }

  const mv = CREATE_MV.exec(sql);
  if (mv) {
    const [, ifNotExists = '', name, target, select] = mv;
    const localSelect = select!.replace(/\bFROM\s+(\w+)/gi, (_m, source: string) => `FROM ${source}${LOCAL_SUFFIX}`);
    return [`CREATE MATERIALIZED VIEW ${ifNotExists}${name} ${onCluster} TO ${target}${LOCAL_SUFFIX} AS ${localSelect}`];
  }

  const alter = ALTER_TABLE.exec(sql);
  if (alter) {
    const [, name, rest] = alter;
    const local = `ALTER TABLE ${name}${LOCAL_SUFFIX} ${onCluster} ${rest}`;
    return /^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b/i.test(rest!) ? [local, `ALTER TABLE ${name} ${onCluster} ${rest}`] : [local];
  }

  if (INSERT_SELECT.test(sql)) return [sql];

  // A dictionary over a table (the ASN lookup): one per node, reading the Distributed table.
  const dict = CREATE_DICTIONARY.exec(sql);
  if (dict) return [sql.replace(CREATE_DICTIONARY, `CREATE DICTIONARY ${dict[1] ?? ''}${dict[2]!} ${onCluster}\n(`)];

  throw new Error(`cluster DDL: no cluster form for statement: ${sql.slice(0, 80)}…`);
}

/**
 * Child of `npm run bench:kafka`: the ClickHouse Kafka table engine (inside embedded chDB) consuming the
 * topic into a MergeTree table through a materialized view, in its own process with its own chDB directory.
 * The view parses each raw line with the nginx combined regex (`extractGroups`, as the replay bench's bare
 * engine does) into typed columns plus `_partition` / `_offset`; lines that do not match are dropped.
 *
 *   node --import tsx test/bench/kafkaEngine.ts --brokers H:P --topic T --group G --dir DIR --expect N [--consumers 2] [--timeout-ms MS]
 *
 * Prints one `BENCH_JSON {…}` line: rows stored, ms from the CREATE of the Kafka table until the
 * MergeTree table held `expect` rows (or the timeout), the setup time before that, and the same end
 * measured from process start (`performance.now()`: Node, chDB load and setup included).
 */
import { createRequire } from 'node:module';
import { argValue, emit, requireArg } from './shared.ts';

interface ChdbSession {
  query(query: string, format?: string): string;
  cleanup?: () => void;
  close?: () => void;
}
type SessionCtor = new (path?: string) => ChdbSession;

const args = process.argv.slice(2);
const brokers = requireArg(args, '--brokers');
const topic = requireArg(args, '--topic');
const group = requireArg(args, '--group');
const dir = requireArg(args, '--dir');
const expect = Number(requireArg(args, '--expect'));
const timeoutMs = Number(argValue(args, '--timeout-ms') ?? 120_000);
const consumers = Number(argValue(args, '--consumers') ?? 2);

/** `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"` (bareEngine.ts). */
const COMBINED_RE = String.raw`^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d+) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"`;
const lit = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const t0 = performance.now();
const { Session } = createRequire(import.meta.url)('chdb') as { Session: SessionCtor };
const s = new Session(dir);
const q = (sql: string): string => s.query(sql, 'TSV').trim();
q('CREATE DATABASE IF NOT EXISTS kb');
q(
  `CREATE TABLE kb.lines (ts DateTime64(3, 'UTC'), client IPv6, method LowCardinality(String), path String, status UInt16, bytes UInt32, ` +
    `referer String, user_agent LowCardinality(String), part UInt64, off UInt64) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (client, ts)`,
);
const setupMs = performance.now() - t0;
const t1 = performance.now();
q(
  `CREATE TABLE kb.queue (line String) ENGINE = Kafka SETTINGS kafka_broker_list = '${brokers}', kafka_topic_list = '${topic}', ` +
    `kafka_group_name = '${group}', kafka_format = 'LineAsString', kafka_num_consumers = ${consumers}, kafka_thread_per_consumer = 1, ` +
    `kafka_max_block_size = 65536, kafka_flush_interval_ms = 500`,
);
q(
  `CREATE MATERIALIZED VIEW kb.mv TO kb.lines AS SELECT toDateTime64(parseDateTime(g[2], '%d/%b/%Y:%H:%i:%s %z'), 3, 'UTC') AS ts, toIPv6(g[1]) AS client, ` +
    `g[3] AS method, g[4] AS path, toUInt16(g[5]) AS status, toUInt32OrZero(g[6]) AS bytes, if(g[7] = '-', '', g[7]) AS referer, if(g[8] = '-', '', g[8]) AS user_agent, part, off ` +
    `FROM (SELECT extractGroups(line, ${lit(COMBINED_RE)}) AS g, _partition AS part, _offset AS off FROM kb.queue) WHERE length(g) = 8`,
);
let rows = 0;
let lastChange = performance.now();
let doneMs: number | null = null;
let sinceStartMs: number | null = null;
while (performance.now() - t1 < timeoutMs) {
  // Distinct (partition, offset): the engine's consumers redeliver after a rebalance (at least once), so count() can pass `expect` early.
  const n = Number(q('SELECT count() FROM kb.lines')) >= expect ? Number(q('SELECT uniqExact(part, off) FROM kb.lines')) : Number(q('SELECT count() FROM kb.lines'));
  if (n !== rows) {
    rows = n;
    lastChange = performance.now();
  }
  if (rows >= expect) {
    doneMs = performance.now() - t1;
    sinceStartMs = performance.now();
    break;
  }
  await new Promise((r) => setTimeout(r, 100));
}
const distinct = Number(q('SELECT uniqExact(part, off) FROM kb.lines'));
const total = Number(q('SELECT count() FROM kb.lines'));
q('DROP TABLE kb.mv');
q('DROP TABLE kb.queue');
emit({ rows, distinct, total, setupMs, doneMs, sinceStartMs, createdAtMs: t1, consumers, lastChangeMs: lastChange - t1 });
process.exit(0);

/**
 * Child of `npm run bench:kafka`: the ClickHouse Kafka table engine (inside embedded chDB) consuming the
 * topic into a MergeTree table through a materialized view, in its own process with its own chDB directory.
 *
 *   node --import tsx test/bench/kafkaEngine.ts --brokers H:P --topic T --group G --dir DIR --expect N [--timeout-ms MS]
 *
 * Prints one `BENCH_JSON {…}` line: rows stored, ms from the CREATE of the Kafka table until the
 * MergeTree table held `expect` rows (or the timeout), and the setup time before that.
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
const consumers = Number(argValue(args, '--consumers') ?? 1);

const t0 = performance.now();
const { Session } = createRequire(import.meta.url)('chdb') as { Session: SessionCtor };
const s = new Session(dir);
const q = (sql: string): string => s.query(sql, 'TSV').trim();
q('CREATE DATABASE IF NOT EXISTS kb');
q('CREATE TABLE kb.lines (line String, part UInt64, off UInt64) ENGINE = MergeTree ORDER BY (part, off)');
const setupMs = performance.now() - t0;
const t1 = performance.now();
q(
  `CREATE TABLE kb.queue (line String) ENGINE = Kafka SETTINGS kafka_broker_list = '${brokers}', kafka_topic_list = '${topic}', ` +
    `kafka_group_name = '${group}', kafka_format = 'LineAsString', kafka_num_consumers = ${consumers}, kafka_thread_per_consumer = 1, ` +
    `kafka_max_block_size = 65536, kafka_flush_interval_ms = 500`,
);
q('CREATE MATERIALIZED VIEW kb.mv TO kb.lines AS SELECT line, _partition AS part, _offset AS off FROM kb.queue');
let rows = 0;
let lastChange = performance.now();
let doneMs: number | null = null;
while (performance.now() - t1 < timeoutMs) {
  const n = Number(q('SELECT count() FROM kb.lines'));
  if (n !== rows) {
    rows = n;
    lastChange = performance.now();
  }
  if (rows >= expect) {
    doneMs = performance.now() - t1;
    break;
  }
  await new Promise((r) => setTimeout(r, 100));
}
const distinct = Number(q('SELECT uniqExact(part, off) FROM kb.lines'));
q('DROP TABLE kb.mv');
q('DROP TABLE kb.queue');
emit({ rows, distinct, setupMs, doneMs, lastChangeMs: lastChange - t1 });
process.exit(0);

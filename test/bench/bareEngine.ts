/**
 * Bench child: the bare engine. A fresh chDB directory; ClickHouse alone parses the nginx combined log
 * (`file(…, LineAsString)` + `extractGroups`) and stores it in a MergeTree with tile_requests' key columns
 * and codecs — no projection, no materialized views, no JavaScript per line.
 *
 *   node --import tsx test/bench/bareEngine.ts --data DIR --file ACCESS_LOG
 * Storage figures are taken afterwards by storeProbe.ts (a separate process, so they are not in this one's wall time).
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { chdbVersion, emit, openChdb, queryRows, requireArg } from './shared.ts';

const BARE_TABLE = 'bare_requests';

/** `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"` */
const COMBINED_RE = String.raw`^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d+) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"`;

const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const BARE_DDL = `CREATE TABLE ${BARE_TABLE}
(
    ts          DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    client      IPv6 CODEC(ZSTD(1)),
    method      LowCardinality(String),
    path        String CODEC(ZSTD(3)),
    status      UInt16 CODEC(ZSTD(1)),
    bytes       UInt32 CODEC(ZSTD(1)),
    referer     String CODEC(ZSTD(3)),
    user_agent  LowCardinality(String) CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (client, ts)`;

function bareInsertSql(file: string): string {
  return `INSERT INTO ${BARE_TABLE}
SELECT toDateTime64(parseDateTime(g[2], '%d/%b/%Y:%H:%i:%s %z'), 3, 'UTC'), toIPv6(g[1]), g[3], g[4],
       toUInt16(g[5]), toUInt32OrZero(g[6]), if(g[7] = '-', '', g[7]), if(g[8] = '-', '', g[8])
FROM (SELECT extractGroups(line, ${lit(COMBINED_RE)}) AS g FROM file(${lit(file)}, LineAsString))
WHERE length(g) = 8`;
}

async function main(args: readonly string[]): Promise<void> {
  const dataDir = resolve(requireArg(args, '--data'));
  const file = resolve(requireArg(args, '--file'));
  rmSync(dataDir, { recursive: true, force: true });
  const t0 = performance.now();
  const { client } = await openChdb(dataDir);
  const version = await chdbVersion(client);
  await client.command({ query: BARE_DDL });
  const openMs = performance.now() - t0;
  const t1 = performance.now();
  await client.command({ query: bareInsertSql(file) });
  const insertMs = performance.now() - t1;
  const [counts] = await queryRows<{ rows: string; maxThreads: string }>(
    client,
    `SELECT count() AS rows, getSetting('max_threads') AS maxThreads FROM ${BARE_TABLE}`,
  );
  await client.close();
  emit({
    version,
    maxThreads: Number(counts?.maxThreads ?? 0),
    rows: Number(counts?.rows ?? 0),
    openMs,
    insertMs,
  });
}

await main(process.argv.slice(2));

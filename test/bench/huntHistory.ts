/**
 * Bench child: the hunts' cost per window from `hunt_runs` of a replayed chDB directory, for the
 * windows ending after --from (the same event-time windows whatever history preceded them).
 *
 *   node --import tsx test/bench/huntHistory.ts --data DIR --from ISO
 */
import { resolve } from 'node:path';
import { readRows } from '../../services/store/sql.ts';
import { emit, openChdb, requireArg } from './shared.ts';

const args = process.argv.slice(2);
const dataDir = resolve(requireArg(args, '--data'));
const from = Date.parse(requireArg(args, '--from'));
const { client } = await openChdb(dataDir);
const rows = await readRows<{ hunt: string; windows: number; ms: number }>(
  client,
  `SELECT hunt, count() AS windows, sum(duration_ms) AS ms FROM hunt_runs
   WHERE window_end > fromUnixTimestamp64Milli({from:Int64}, 'UTC') GROUP BY hunt ORDER BY hunt`,
  { from },
);
const windows = await readRows<{ n: number }>(client, `SELECT uniqExact(window_end) AS n FROM hunt_runs WHERE window_end > fromUnixTimestamp64Milli({from:Int64}, 'UTC')`, { from });
await client.close();
emit({ windows: windows[0]?.n ?? 0, perHunt: Object.fromEntries(rows.map((r) => [r.hunt, r.ms])), totalMs: rows.reduce((s, r) => s + r.ms, 0) });

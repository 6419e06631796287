import type { Store } from '../../store/openStore.ts';
import { NO_TIME_LIMIT, readRows } from '../../store/sql.ts';
import type { StoredOffsets } from './offsetLedger.ts';

/** Highest offsets per partition already stored for a Kafka source (ClickHouse as the offset store; -1: none). */
export async function storedOffsets(store: Store, source: string, partitions: readonly number[]): Promise<Map<number, StoredOffsets>> {
  const out = new Map<number, { data: number; dead: number }>();
  if (partitions.length === 0) return out;
  for (const p of partitions) out.set(p, { data: -1, dead: -1 });
  const q = (table: string): Promise<Array<{ partition: number; max: string }>> =>
    readRows(
      store.client,
      `SELECT partition, toString(max(line)) AS max FROM ${table} WHERE source = {source:String} AND partition IN {parts:Array(Int32)} GROUP BY partition`,
      { source, parts: [...partitions] },
      NO_TIME_LIMIT,
    );
  for (const r of await q('tile_requests')) out.get(Number(r.partition))!.data = Number(r.max);
  for (const r of await q('dead_letters')) out.get(Number(r.partition))!.dead = Number(r.max);
  return out;
}

/** The highest version the alerts table holds of each of these alert ids (absent: none). */
export async function storedAlertVersions(store: Store, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await readRows<{ id: string; v: number }>(store.client, 'SELECT id, max(version) AS v FROM alerts WHERE id IN {ids:Array(String)} GROUP BY id', { ids: [...ids] }, NO_TIME_LIMIT);
  return new Map(rows.map((r) => [r.id, r.v]));
}

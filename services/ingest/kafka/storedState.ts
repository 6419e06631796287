import type { Store } from '../../store/openStore.ts';
import { NO_TIME_LIMIT, readRows } from '../../store/sql.ts';

/** The highest version the alerts table holds of each of these alert ids (absent: none). */
export async function storedAlertVersions(store: Store, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await readRows<{ id: string; v: number }>(store.client, 'SELECT id, max(version) AS v FROM alerts WHERE id IN {ids:Array(String)} GROUP BY id', { ids: [...ids] }, NO_TIME_LIMIT);
  return new Map(rows.map((r) => [r.id, r.v]));
}

import type { Alert } from '../../core/alert.ts';
import type { Store } from '../../store/openStore.ts';
import { NO_TIME_LIMIT, readRows } from '../../store/sql.ts';

/** The highest version the alerts table holds of each of these alert ids (absent: none). */
export async function storedAlertVersions(store: Store, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await readRows<{ id: string; v: number }>(store.client, 'SELECT id, max(version) AS v FROM alerts WHERE id IN {ids:Array(String)} GROUP BY id', { ids: [...ids] }, NO_TIME_LIMIT);
  return new Map(rows.map((r) => [r.id, r.v]));
}

/**
 * The newest version of each streaming-detector alert (bulk-harvest, full-download) still open whose
 * client was active within `windowMs` before the newest stored request of these partitions: the
 * alerts a detector restore continues (StreamingDetector.beginResume).
 */
export async function openStreamingAlerts(store: Store, source: string, partitions: readonly number[], windowMs: number): Promise<Alert[]> {
  if (partitions.length === 0) return [];
  const rows = await readRows<{ body: string }>(
    store.client,
    `SELECT argMax(body, version) AS body FROM alerts
     WHERE kind IN ('bulk-harvest', 'full-download')
       AND last_seen >= (SELECT max(ts) FROM tile_requests WHERE source = {source:String} AND partition IN {parts:Array(Int32)}) - toIntervalMillisecond({window:UInt64})
     GROUP BY id HAVING argMax(status, version) != 'resolved'`,
    { source, parts: [...partitions], window: windowMs },
    NO_TIME_LIMIT,
  );
  const out: Alert[] = [];
  for (const r of rows) {
    try {
      out.push(JSON.parse(r.body) as Alert);
    } catch {
      // A body that is not JSON is not an alert this version wrote: nothing to continue.
    }
  }
  return out;
}

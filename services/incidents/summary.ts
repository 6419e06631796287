/** Aggregates for viewers: no IPs, no raw rows. */
import type { Store } from '../store/openStore.ts';
import { readRows } from '../store/sql.ts';
import { iso } from './iso.ts';

export interface Summary {
  readonly requests: number;
  readonly clients: number;
  readonly images: number;
  readonly from: string | null;
  readonly to: string | null;
  readonly alertsByStatus: Readonly<Record<string, number>>;
  readonly alertsBySeverity: Readonly<Record<string, number>>;
}

export async function summary(store: Store, now: number): Promise<Summary> {
  const [t] = await readRows<{ requests: number; clients: number; first: number; last: number }>(
    store.client,
    `SELECT sum(requests) AS requests, uniqExact(client) AS clients,
       toUnixTimestamp(min(minute)) * 1000 AS first, toUnixTimestamp(max(minute)) * 1000 AS last FROM client_minute`,
  );
  const [im] = await readRows<{ n: number }>(store.client, 'SELECT uniqExact(image_id) AS n FROM client_image_hour');
  const a = await readRows<{ status: string; severity: string; n: number }>(
    store.client,
    `SELECT multiIf(x.action = 'acknowledge', 'acknowledged', x.action = 'mute' AND x.until > {now:Int64}, 'muted', x.action = 'resolve', 'resolved',
                    x.action = 'reopen', 'open', toString(a.status)) AS status, toString(a.severity) AS severity, count() AS n
     FROM alerts AS a FINAL
     LEFT JOIN (SELECT alert_id, toString(argMax(action, at)) AS action, argMax(ifNull(toUnixTimestamp64Milli(mute_until), 0), at) AS until
                FROM alert_actions GROUP BY alert_id) AS x ON x.alert_id = a.id
     GROUP BY status, severity`,
    { now },
  );
  const byStatus: Record<string, number> = {};
  const bySeverity: Record<string, number> = {};
  for (const r of a) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
    bySeverity[r.severity] = (bySeverity[r.severity] ?? 0) + r.n;
  }
  const has = (t?.requests ?? 0) > 0;
  return {
    requests: t?.requests ?? 0,
    clients: t?.clients ?? 0,
    images: im?.n ?? 0,
    from: has ? iso(t!.first) : null,
    to: has ? iso(t!.last) : null,
    alertsByStatus: byStatus,
    alertsBySeverity: bySeverity,
  };
}

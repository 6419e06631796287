import type { Store } from '../store/openStore.ts';
import { jsonEachRow } from '../store/openStore.ts';
import { toIpv6Text } from '../store/clientIp.ts';
import type { Alert } from '../core/alert.ts';

/** Columns of the `alerts` table for one alert version. */
export function alertRow(a: Alert): Record<string, unknown> {
  return {
    id: a.id,
    version: a.version,
    kind: a.kind,
    severity: a.severity,
    score: a.score,
    client: toIpv6Text(a.client.ip),
    client_ips: a.client.ips,
    user_agent: a.client.userAgent,
    subnet: a.client.subnet,
    first_seen: a.firstSeen,
    detected_at: a.detectedAt,
    last_seen: a.lastSeen,
    image_ids: a.images.map((i) => i.id),
    reasons: a.reasons.map((r) => r.text).join('; '),
    body: JSON.stringify(a),
    status: a.status,
  };
}

/**
 * Buffers alert versions and writes them to `alerts`. The table is a ReplacingMergeTree on version
 * keyed by the deterministic id, so a replay that writes the same alert versions again collapses to
 * one row per id (read with FINAL).
 */
export class AlertsTableSink {
  private pending: Alert[] = [];
  written = 0;
  constructor(private readonly store: Pick<Store, 'insertRaw'>) {}

  push(a: Alert): void {
    this.pending.push(a);
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    await this.store.insertRaw({ table: 'alerts', body: jsonEachRow(batch.map(alertRow)), format: 'JSONEachRow', settings: { date_time_input_format: 'best_effort' } });
    this.written += batch.length;
  }
}

/**
 * Where every alert version goes, wired once for replay, ingest, serve and hunt: correlated into its
 * incident (one per actor), then to the `alerts` table (every version) and to the configured sinks
 * (behind the dispatcher: never blocking the caller) only when its incident opens, escalates or
 * resolves — updates do not re-page. Mute rules from `suppression_rules` apply to the sinks only
 * (muted alerts are still stored).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AlertsTableSink } from '../../alerting/alertsTable.ts';
import { buildSinks } from '../../alerting/buildSinks.ts';
import type { SinkDispatcher } from '../../alerting/dispatcher.ts';
import { createMuteRuleSet, type SuppressionRule } from '../../alerting/muteRules.ts';
import type { Alert } from '../../core/alert.ts';
import { IncidentCorrelator } from '../../core/incidents/incidentCorrelator.ts';
import type { Store } from '../../store/openStore.ts';
import type { TilewatchConfig } from '../config.ts';

export interface AlertOutputs {
  /** Correlates, stores and (when its incident opens, escalates or resolves) delivers a version; returns it with its incident. */
  emit(alert: Alert): Alert;
  /** Versions delivered to the sinks (incident notices) so far. */
  readonly notices: () => number;
  /** Writes buffered versions to the alerts table. */
  flush(): Promise<void>;
  /** Re-reads mute rules (ingest/serve call this on a wall-clock cadence). */
  reloadMutes(): Promise<void>;
  /** Flushes, then waits (bounded by sinks.drainTimeoutMs) for queued sink deliveries. */
  close(): Promise<void>;
  readonly tableWritten: () => number;
}

function hasSinks(c: TilewatchConfig['sinks']): boolean {
  return c.log !== null || c.webhooks.length > 0 || c.alertmanager !== null || c.kafka !== null || c.blockList !== null;
}

export async function openAlertOutputs(deps: { config: TilewatchConfig; store: Store; logger: Logger; registry?: Registry }): Promise<AlertOutputs> {
  const log = deps.logger.child({ component: 'alerts' });
  const table = new AlertsTableSink(deps.store);
  const mutes = createMuteRuleSet();
  const reloadMutes = async (): Promise<void> => {
    const rs = await deps.store.client.query({
      query: `SELECT id, type, cidr, user_agent, alert_kind, image_id, expires_at, deleted FROM suppression_rules FINAL WHERE type = 'mute' AND deleted = 0`,
      format: 'JSONEachRow',
    });
    const { invalid } = mutes.replace(await rs.json<SuppressionRule>());
    for (const bad of invalid) log.warn({ rule: bad.id, reason: bad.reason }, 'mute rule skipped');
  };
  // Open incidents continue across restarts: rebuilt from the latest version of each stored alert.
  const correlator = new IncidentCorrelator();
  const stored = await deps.store.client.query({
    query: `SELECT id, max(version) AS v, argMax(incident_status, version) = 'open' AS open, if(open, argMax(body, version), '') AS body FROM alerts GROUP BY id`,
    format: 'JSONEachRow',
  });
  const rows = await stored.json<{ id: string; v: number | string; open: number | boolean; body: string }>();
  correlator.restore(
    rows.filter((r) => r.body !== '').map((r) => JSON.parse(r.body) as Alert),
    new Map(rows.map((r) => [r.id, Number(r.v)])),
  );
  let notices = 0;
  let dispatcher: SinkDispatcher | null = null;
  if (hasSinks(deps.config.sinks)) {
    await reloadMutes();
    dispatcher = buildSinks(deps.config.sinks, {
      logger: log,
      ...(deps.registry ? { registry: deps.registry } : {}),
      allowCidrs: deps.config.allowlist.cidrs,
      isMuted: mutes.isMuted,
    });
  }
  return {
    emit(version) {
      const { alert, notice } = correlator.assign(version);
      table.push(alert);
      if (notice !== null) {
        notices++;
        dispatcher?.push(alert);
      } else if (dispatcher?.wantsEveryVersion) {
        // Only the sinks that follow every version (the block list) take it.
        dispatcher.push(alert);
      }
      return alert;
    },
    notices: () => notices,
    flush: () => table.flush(),
    reloadMutes: async () => {
      if (dispatcher) await reloadMutes();
    },
    async close() {
      await table.flush();
      if (dispatcher) {
        const r = await dispatcher.drain(deps.config.sinks.drainTimeoutMs);
        log.info(r, 'alert sinks drained');
      }
    },
    tableWritten: () => table.written,
  };
}

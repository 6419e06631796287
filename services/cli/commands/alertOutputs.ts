/**
 * Where every alert version goes, wired once for replay, ingest, serve and hunt: correlated into its
 * incident (one per actor), then to the `alerts` table (every version), and from there to the
 * configured sinks only when its incident opens, escalates or resolves — updates do not re-page.
 *
 * The alerts table is the source of truth and the sinks read it through the alert outbox
 * (services/alerting/outbox.ts, migration 012): a version for the sinks gets the next position of this
 * writer (`outbox`: the origin name) and is written with it by the same insert that stores it, which
 * copies it to `alert_outbox`; only after that insert succeeded are the sinks told (`stored`), and each
 * sink delivers from its saved position (dispatcher.ts). A store outage delays the sinks; it never
 * lets a sink see a version the table does not hold, and a failed insert keeps its versions buffered
 * for the next flush. What is not delivered at close stays in the outbox for the next start of the
 * same origin. Versions the store already held (a replay of stored history, a batch read again after
 * a crash) get no new position: the correlator marks them as re-emissions and they page nobody.
 *
 * Mute rules from `suppression_rules` and the mutes analysts put on an alert or an incident
 * (`alert_actions`: the whole incident of a muted alert falls silent until the mute expires) apply to
 * the sinks only (muted alerts are still stored, without a position); they are read at start and
 * again every `sinks.muteReloadMs` of wall time (default 30 s), so a mute added through the API or the
 * web page reaches a running ingest or serve. Each version first gets its network context
 * (core/network/alertNetwork.ts: ASN, organisation, hosting provider or not, and a reason saying so).
 */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { AlertsTableSink } from '../../alerting/alertsTable.ts';
import { clickhouseOutbox, OUTBOX_NONE, OUTBOX_NOTICE, OUTBOX_UPDATE, type OutboxKind, type OutboxStore } from '../../alerting/outbox.ts';
import { buildSinks } from '../../alerting/buildSinks.ts';
import type { Clock as SinkClock } from '../../core/clock.ts';
import { systemClock } from '../../runtime/systemClock.ts';
import type { SinkDispatcher } from '../../alerting/dispatcher.ts';
import { createAnalystMutes, createMuteRuleSet, type AnalystMute, type SuppressionRule } from '../../alerting/muteRules.ts';
import { DEFAULT_MUTE_RELOAD_MS } from '../../alerting/sinksConfig.ts';
import type { Alert } from '../../core/alert.ts';
import { withNetworkContext } from '../../core/network/alertNetwork.ts';
import type { NetworkContext } from '../../core/network/networkContext.ts';
import { loadNetworkContext } from '../../network/asnSources.ts';
import { IncidentCorrelator } from '../../core/incidents/incidentCorrelator.ts';
import type { Store } from '../../store/openStore.ts';
import { NO_TIME_LIMIT, readRows } from '../../store/sql.ts';
import type { TilewatchConfig } from '../config.ts';

export interface AlertOutputs {
  /** Correlates, stores and (when its incident opens, escalates or resolves) delivers a version; returns it with its incident. */
  emit(alert: Alert): Alert;
  /** Versions delivered to the sinks (incident notices) so far. */
  readonly notices: () => number;
  /**
   * Writes buffered versions to the alerts table (retried; on failure they stay buffered and the
   * promise rejects), then lets the sinks deliver the ones for them.
   */
  flush(): Promise<void>;
  /**
   * Re-reads mute rules now (with sinks configured; rejects when the read fails). The same reload
   * also runs by itself every `sinks.muteReloadMs` until close().
   */
  reloadMutes(): Promise<void>;
  /**
   * Stops the mute reload, flushes, then waits (bounded by sinks.drainTimeoutMs) for the sinks to
   * deliver what is stored; what they did not stays in the outbox for the next start (logged).
   */
  close(): Promise<void>;
  readonly tableWritten: () => number;
}

function hasSinks(c: TilewatchConfig['sinks']): boolean {
  return c.log !== null || c.webhooks.length > 0 || c.alertmanager !== null || c.kafka !== null || c.blockList !== null;
}

export interface AlertOutputsDeps {
  readonly config: TilewatchConfig;
  readonly store: Store;
  readonly logger: Logger;
  /** Registers the sink metrics and `tilewatch_mute_rules` / `tilewatch_mute_reload_failures_total` here. */
  readonly registry?: Registry;
  /** Wall clock of the sinks and of the mute reload cadence. Default: the system clock. */
  readonly clock?: SinkClock;
  /** ASN data for the versions' network context. Default: loaded once here from `config.network`. */
  readonly network?: NetworkContext;
  /**
   * This writer's name in the alert outbox: its versions, positions and sink cursors. A restart under
   * the same name delivers what the last run left. Two processes running at once on one store need
   * different names (each delivers only its own versions). Default {@link DEFAULT_OUTBOX_ORIGIN}.
   */
  readonly outbox?: string;
  /** Where the outbox is read and the sinks' positions kept. Default: the store's tables (outbox.ts `clickhouseOutbox`). */
  readonly outboxStore?: OutboxStore;
}

export const DEFAULT_OUTBOX_ORIGIN = 'tilewatch';

export async function openAlertOutputs(deps: AlertOutputsDeps): Promise<AlertOutputs> {
  const log = deps.logger.child({ component: 'alerts' });
  // Every version gets its network context (ASN, organisation, hosting or not) before anything sees it.
  const network = deps.network ?? (await loadNetworkContext(deps.config.network));
  if (network.source === null) log.info('no ASN data: network context of alerts is "unknown" (docs/network-context.md)');
  const clock = deps.clock ?? systemClock;
  const origin = deps.outbox ?? DEFAULT_OUTBOX_ORIGIN;
  const table = new AlertsTableSink(deps.store, {
    clock,
    onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, 'alerts insert failed; retrying (the versions stay buffered)'),
  });
  const mutes = createMuteRuleSet();
  const analystMutes = createAnalystMutes();
  const r = deps.registry ? [deps.registry] : [];
  const muteGauge = deps.registry ? new Gauge({ name: 'tilewatch_mute_rules', help: 'mute rules in force in this process (read from suppression_rules at start and every sinks.muteReloadMs)', registers: r }) : null;
  const reloadFailures = deps.registry ? new Counter({ name: 'tilewatch_mute_reload_failures_total', help: 'mute rule reloads that failed (the rules already in force stay)', registers: r }) : null;
  let inForce = -1;
  const reloadMutes = async (): Promise<void> => {
    const rules = await readRows<SuppressionRule>(
      deps.store.client,
      `SELECT id, type, cidr, user_agent, alert_kind, image_id, expires_at, deleted FROM suppression_rules FINAL WHERE type = 'mute' AND deleted = 0`,
      {},
      NO_TIME_LIMIT,
    );
    const { invalid, size } = mutes.replace(rules);
    for (const bad of invalid) log.warn({ rule: bad.id, reason: bad.reason }, 'mute rule skipped');
    analystMutes.replace(
      await readRows<AnalystMute>(
        deps.store.client,
        `SELECT x.alert_id AS alert_id, a.inc AS incident_id, x.until_ms AS until_ms
         FROM (SELECT alert_id, argMax(action, at) AS last, argMax(ifNull(toUnixTimestamp64Milli(mute_until), 0), at) AS until_ms
               FROM alert_actions GROUP BY alert_id) AS x
         LEFT JOIN (SELECT id, argMax(incident_id, version) AS inc FROM alerts GROUP BY id) AS a ON a.id = x.alert_id
         WHERE x.last = 'mute' AND x.until_ms > {now:Int64}`,
        { now: clock.now() },
        NO_TIME_LIMIT,
      ),
    );
    muteGauge?.set(size);
    if (size !== inForce) log.info({ rules: size }, 'mute rules loaded');
    inForce = size;
  };
  // Open incidents continue across restarts: rebuilt from the latest version of each stored alert.
  const correlator = new IncidentCorrelator();
  const rows = await readRows<{ id: string; v: number; open: number | boolean; body: string }>(
    deps.store.client,
    `SELECT id, max(version) AS v, argMax(incident_status, version) = 'open' AS open, if(open, argMax(body, version), '') AS body FROM alerts GROUP BY id`,
    {},
    NO_TIME_LIMIT,
  );
  const storedVersions = new Map(rows.map((r) => [r.id, Number(r.v)]));
  correlator.restore(
    rows.filter((r) => r.body !== '').map((r) => JSON.parse(r.body) as Alert),
    storedVersions,
  );
  let notices = 0;
  let nextSeq = 1;
  let dispatcher: SinkDispatcher | null = null;
  if (hasSinks(deps.config.sinks)) {
    await reloadMutes();
    dispatcher = buildSinks(deps.config.sinks, {
      logger: log,
      ...(deps.registry ? { registry: deps.registry } : {}),
      allowCidrs: deps.config.allowlist.cidrs,
      isMuted: (alert, now) => mutes.isMuted(alert, now) || analystMutes.isMuted(alert, now),
      ...(deps.clock ? { clock: deps.clock } : {}),
      outbox: deps.outboxStore ?? clickhouseOutbox(deps.store, origin),
    });
    // Where the sinks stand and where this writer's positions continue (rejects when the store cannot say).
    nextSeq = (await dispatcher.ready) + 1;
  }
  // Mutes added (or deleted) while the process runs: re-read on a wall-clock cadence, sequentially
  // (the next wait starts when a reload ends). A failed reload keeps the rules in force and is
  // logged; it never stops the process. The wait does not keep the process alive.
  const stopReload = new AbortController();
  let reloading: Promise<void> | null = null;
  const reloadMs = deps.config.sinks.muteReloadMs ?? DEFAULT_MUTE_RELOAD_MS;
  if (dispatcher && reloadMs > 0) {
    void (async () => {
      for (;;) {
        try {
          await clock.sleep(reloadMs, stopReload.signal, true);
        } catch {
          return;
        }
        reloading = reloadMutes().catch((err: unknown) => {
          reloadFailures?.inc();
          log.warn({ err, retryInMs: reloadMs }, 'mute rules reload failed; the rules in force stay');
        });
        await reloading;
        reloading = null;
      }
    })();
  }
  return {
    emit(version) {
      const { alert, notice } = correlator.assign(withNetworkContext(version, network));
      if (notice !== null) notices++;
      // What the version is for the sinks: a notice for all, an update for those that follow every
      // version, or nothing (no sinks, muted, or a version the store held before this run).
      let kind: OutboxKind = OUTBOX_NONE;
      if (dispatcher && alert.version > (storedVersions.get(alert.id) ?? 0)) {
        if (notice !== null || alert.incident === undefined) kind = OUTBOX_NOTICE;
        else if (dispatcher.wantsEveryVersion) kind = OUTBOX_UPDATE;
        if (kind !== OUTBOX_NONE && !dispatcher.admits(alert)) kind = OUTBOX_NONE;
      }
      table.push(alert, kind === OUTBOX_NONE ? undefined : { origin, seq: nextSeq++, kind });
      return alert;
    },
    notices: () => notices,
    flush: async () => {
      await table.flush();
      dispatcher?.stored(table.stored);
    },
    reloadMutes: async () => {
      if (dispatcher) await reloadMutes();
    },
    async close() {
      stopReload.abort();
      if (reloading) await reloading;
      try {
        await table.flush();
      } catch (err) {
        log.error({ err, versions: table.buffered }, 'alert versions not stored before shutdown (the store refused every attempt)');
        if (!dispatcher) throw err;
      }
      if (dispatcher) {
        dispatcher.stored(table.stored);
        const r = await dispatcher.drain(deps.config.sinks.drainTimeoutMs);
        log.info({ origin, ...r }, r.left === 0 ? 'alert sinks drained' : 'alert sinks stopped; undelivered versions stay in the outbox for the next start');
      }
    },
    tableWritten: () => table.written,
  };
}

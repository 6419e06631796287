import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Alert } from '../core/alert.ts';
import { createKafkajsProducer } from '../kafka/kafkajsProducer.ts';
import type { MessageProducer, ProducerSettings } from '../kafka/producer.ts';
import { createAlertmanagerSink } from './alertmanagerSink.ts';
import { createBlockListSink } from './blockListSink.ts';
import type { Clock as SinkClock } from '../core/clock.ts';
import { systemClock } from '../runtime/systemClock.ts';
import { createSinkDispatcher, type ConfiguredSink, type SinkDispatcher } from './dispatcher.ts';
import type { FetchFn } from './httpPost.ts';
import type { OutboxStore } from './outbox.ts';
import { createKafkaSink } from './kafkaSink.ts';
import { createEcsLogSink, createLogSink, type LineOut } from './logSink.ts';
import type { SinkDelivery, SinksConfig } from './sinksConfig.ts';
import { createWebhookSink } from './webhookSink.ts';

export interface SinkDeps {
  readonly logger: Logger;
  /** Builds the Kafka producer. Default: kafkajs (kafkajsProducer.ts). */
  readonly producerFactory?: (settings: ProducerSettings, logger: Logger) => MessageProducer;
  /** Wall clock in ms. Default Date.now. Ignored when `clock` is given. */
  readonly now?: () => number;
  /** Wall clock with sleep (tests). Default: the system clock. */
  readonly clock?: SinkClock;
  /** Registers `tilewatch_sink_*` metrics here (the process registry from metrics.ts). */
  readonly registry?: Registry;
  /** Mute predicate (see muteRules.ts `createMuteRuleSet`). Default: nothing muted. */
  readonly isMuted?: (alert: Alert, now: number) => boolean;
  /** The main allow-list (`allowlist.cidrs`): never written to the block list. */
  readonly allowCidrs?: readonly string[];
  readonly random?: () => number;
  readonly fetch?: FetchFn;
  /** The durable outbox the sinks deliver from (outbox.ts). Default: in memory, fed by `push`. */
  readonly outbox?: OutboxStore;
  /** Where the log sink writes ECS lines (`sinks.log.format: "ecs"`). Default: process.stderr, beside the process log. */
  readonly ecsOut?: LineOut;
}

/**
 * Builds every configured sink and the dispatcher over them. Sink order in the dispatcher: log,
 * webhooks, alertmanager, kafka, blocklist (independent of each other; order only matters for stats).
 * With a stored outbox the caller marks each version for it (`admits`), lets the alerts insert copy it
 * there and then calls `stored(seq)`; without one it pushes every incident notice
 * (`dispatcher.push(alert)`). At shutdown, `await dispatcher.drain(cfg.drainTimeoutMs)`.
 */
export function buildSinks(cfg: SinksConfig, deps: SinkDeps): SinkDispatcher {
  const clock: SinkClock = deps.clock ?? (deps.now ? { now: deps.now, sleep: systemClock.sleep } : systemClock);
  const fetchOpt = deps.fetch ? { fetch: deps.fetch } : {};
  const sinks: ConfiguredSink[] = [];
  const add = (sink: ConfiguredSink['sink'], d: SinkDelivery): void => {
    sinks.push({ sink, retry: d.retry, queueCapacity: d.queueCapacity, minSeverity: d.minSeverity });
  };

  if (cfg.log) add(cfg.log.format === 'ecs' ? createEcsLogSink(deps.ecsOut ?? process.stderr, { webUrl: cfg.webUrl }) : createLogSink(deps.logger, 'log', cfg.webUrl), cfg.log);
  for (const w of cfg.webhooks) {
    add(createWebhookSink({ name: w.name, url: w.url, secret: w.secret.reveal(), format: w.format, webUrl: cfg.webUrl, timeoutMs: w.timeoutMs, clock, ...fetchOpt }), w);
  }
  if (cfg.alertmanager) {
    const a = cfg.alertmanager;
    add(
      createAlertmanagerSink({
        urls: a.urls,
        openTtlMs: a.openTtlMs,
        extraLabels: a.extraLabels,
        timeoutMs: a.timeoutMs,
        clock,
        ...(a.webUrl ? { webUrl: a.webUrl } : {}),
        ...(a.bearerToken ? { bearerToken: a.bearerToken.reveal() } : {}),
        ...fetchOpt,
      }),
      a,
    );
  }
  if (cfg.kafka) {
    const k = cfg.kafka;
    const factory = deps.producerFactory ?? createKafkajsProducer;
    const producer = factory(
      {
        brokers: k.brokers,
        clientId: k.clientId,
        ssl: k.ssl,
        idempotent: k.idempotent,
        ...(k.sasl ? { sasl: { mechanism: k.sasl.mechanism, username: k.sasl.username, password: k.sasl.password.reveal() } } : {}),
      },
      deps.logger,
    );
    add(createKafkaSink({ producer, topic: k.topic, format: k.format, webUrl: cfg.webUrl }), k);
  }
  if (cfg.blockList) {
    const b = cfg.blockList;
    add(
      createBlockListSink({
        geoFile: b.geoFile,
        ...(b.cidrFile ? { cidrFile: b.cidrFile } : {}),
        variable: b.variable,
        minSeverity: b.blockSeverity,
        ttlMs: b.ttlMs,
        allowCidrs: [...(deps.allowCidrs ?? []), ...b.allowCidrs],
        maxEntries: b.maxEntries,
        sweepIntervalMs: b.sweepIntervalMs,
        clock,
        logger: deps.logger,
      }),
      b,
    );
  }

  return createSinkDispatcher({
    sinks,
    logger: deps.logger,
    clock,
    retry: cfg.retry,
    queueCapacity: cfg.queueCapacity,
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.isMuted ? { isMuted: deps.isMuted } : {}),
    ...(deps.registry ? { registry: deps.registry } : {}),
    ...(deps.outbox ? { outbox: deps.outbox } : {}),
  });
}

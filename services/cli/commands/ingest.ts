import { createWriteStream, type WriteStream } from 'node:fs';
import { hostname } from 'node:os';
import { GroupHunts, groupStoredUpTo } from '../../ingest/kafka/huntLease.ts';
import { createKafkajsGroupOffsets } from '../../kafka/groupOffsets.ts';
import { openAlertOutputs } from './alertOutputs.ts';
import { DEFAULT_API_CONFIG } from '../../api/apiConfig.ts';
import { startApiServer, type RunningServer } from '../../api/server.ts';
import { parseListen } from './api.ts';
import { emptyCatalog, loadCatalog } from '../../ingest/catalog.ts';
import { KafkaIngest } from '../../ingest/kafka/kafkaIngest.ts';
import type { KafkaConnection, KafkaConsumer } from '../../kafka/consumer.ts';
import { startEarly } from '../../kafka/earlyStart.ts';
import { createKafkajsConsumer, type KafkajsConsumerOptions } from '../../kafka/kafkajsConsumer.ts';
import { createKafkajsPartitionReader } from '../../kafka/kafkajsPartitionReader.ts';
import { createKafkajsProducer } from '../../kafka/kafkajsProducer.ts';
import type { MessageProducer } from '../../kafka/producer.ts';
import { buildOpsApp } from '../../observability/opsEndpoints.ts';
import { createMetrics } from '../../observability/metrics.ts';
import { UsageError, EXIT } from '../exitCodes.ts';
import { gracefulStop } from './gracefulStop.ts';
import { createAllowlist } from '../config.ts';
import { createLogger, openContext, type CommonFlags } from './context.ts';
import { formatAlertLine, huntExclusions } from './replay.ts';
import type { Alert } from '../../core/alert.ts';

export interface IngestFlags extends CommonFlags {
  /** `tilewatch serve`: also run the incident API on this host:port, on the same store. */
  readonly listen?: string;
  readonly rateLimit?: number;
  readonly brokers: string;
  readonly topic: string;
  readonly group: string;
  readonly clientId: string;
  readonly ssl?: boolean;
  readonly saslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly saslUsername?: string;
  readonly fromLatest?: boolean;
  readonly maxBatchRows: number;
  readonly maxBatchMs: number;
  readonly sessionTimeoutMs: number;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly alertsOut?: string;
  readonly quiet?: boolean;
  readonly shutdownTimeoutMs: number;
  readonly deadLetterTopic?: string;
  readonly republishTopic?: string;
  /** false with --no-store (a detection worker on a re-published topic). */
  readonly store: boolean;
  readonly fetchMaxWaitMs: number;
  /** Dev only: 'mock-safe' for librdkafka's mock cluster with several members. */
  readonly partitionAssigner: 'round-robin' | 'mock-safe';
  /** Dev only: SIGKILL this process right after the Nth stored batch, before its offsets are committed. */
  readonly debugKillAfterInsert?: number;
  /** Dev only: SIGKILL this process after the inserts of batch N, before its confirmation (a unit left unconfirmed). */
  readonly debugKillBeforeConfirm?: number;
}

/**
 * `tilewatch ingest`: consume access logs from Kafka, store them, detect live. Runs until SIGTERM or
 * SIGINT, then stores and commits what it holds, leaves the group and exits 0 (or 1 past the bound).
 */
/**
 * What the composition root (main.ts) chooses for this run besides the flags: a partition assigner
 * other than kafkajs' round robin — only the development one for librdkafka's mock cluster, which
 * main.ts imports from services/dev when `--partition-assigner mock-safe` asks for it.
 */
export interface IngestWiring {
  readonly partitionAssigner?: KafkajsConsumerOptions['partitionAssigner'];
}

export async function runIngest(flags: IngestFlags, wiring: IngestWiring = {}): Promise<number> {
  const brokers = flags.brokers.split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new UsageError('--brokers needs at least one host:port');
  const password = process.env.TILEWATCH_KAFKA_PASSWORD;
  if (flags.saslMechanism && (!flags.saslUsername || !password)) throw new UsageError('SASL needs --sasl-username and TILEWATCH_KAFKA_PASSWORD');
  if (flags.republishTopic && !flags.store) throw new UsageError('--republish-topic stores the requests it re-publishes: it cannot be combined with --no-store');
  if (flags.republishTopic === flags.topic) throw new UsageError('--republish-topic must differ from --topic');
  const connection: KafkaConnection = {
    brokers,
    clientId: flags.clientId,
    ssl: flags.ssl === true,
    ...(flags.saslMechanism && flags.saslUsername && password ? { sasl: { mechanism: flags.saslMechanism, username: flags.saslUsername, password } } : {}),
  };
  // The consumer connects and joins its group while the store opens and migrates (a new group's first
  // join alone waits ~3 s for the broker's initial rebalance delay); what it is given waits for the
  // ingest's handlers (kafka/earlyStart.ts). Started in openContext's preflight: once the config is valid.
  let consumer: KafkaConsumer | null = null;
  let context: Awaited<ReturnType<typeof openContext>>;
  try {
    context = await openContext(flags, () => {
      consumer = startEarly(
        createKafkajsConsumer(
          { ...connection, topic: flags.topic, groupId: flags.group, fromBeginning: !flags.fromLatest, sessionTimeoutMs: flags.sessionTimeoutMs, fetch: { maxWaitTimeInMs: flags.fetchMaxWaitMs } },
          createLogger(flags.logLevel),
          wiring.partitionAssigner ? { partitionAssigner: wiring.partitionAssigner } : {},
        ),
      );
    });
  } catch (err) {
    await (consumer as KafkaConsumer | null)?.stop().catch(() => undefined);
    throw err;
  }
  const { config, logger, store } = context;
  // Startup phases in ms since this process started, logged once the first batch is stored ('ingest startup').
  const storeOpenMs = performance.now();
  const log = logger.child({ component: 'ingest' });
  const metrics = createMetrics();
  /** A failure before the ingest runs: the early consumer leaves its group, then the error goes on. */
  const abandon = async (err: unknown): Promise<never> => {
    await consumer?.stop().catch(() => undefined);
    throw err;
  };
  const catalog = config.catalog ? await loadCatalog(config.catalog).catch(abandon) : emptyCatalog();
  // Each member delivers its own alert versions from the outbox, under a name that survives its restarts.
  const outputs = await openAlertOutputs({ config, store, logger, registry: metrics.registry, outbox: `ingest:${flags.group}:${flags.clientId}` }).catch(abandon);
  const emit = (version: Alert): void => {
    const a = outputs.emit(version);
    alertsOut?.write(`${JSON.stringify(a)}\n`);
    log.info({ alert: { id: a.id, kind: a.kind, severity: a.severity, score: a.score, version: a.version, status: a.status }, client: { ip: a.client.ip } }, 'alert');
    if (!flags.quiet) process.stdout.write(formatAlertLine(a));
  };
  // Hunts in event time over what is stored, on one member of the group: the one holding partition 0
  // (the lease; services/ingest/kafka/huntLease.ts). `--no-hunts` (or "hunts": false) never hunts.
  const hunts = config.hunts && flags.store && !flags.republishTopic ? config.hunts : null;
  const groupOffsets = hunts ? createKafkajsGroupOffsets(connection, logger) : null;
  let ingestRef: KafkaIngest | null = null;
  const hunter =
    hunts && groupOffsets
      ? new GroupHunts({
          store,
          hunts,
          exclusions: huntExclusions(config.allowlist),
          onAlert: emit,
          flush: () => outputs.flush(),
          lease: () => ingestRef?.holdsHuntLease(flags.sessionTimeoutMs) ?? false,
          storedUpTo: async () => groupStoredUpTo(await groupOffsets.read(flags.topic, flags.group)),
          handoverMs: flags.sessionTimeoutMs,
          checkEveryMs: Math.min(5_000, flags.sessionTimeoutMs),
          logger,
        })
      : null;
  let alertsOut: WriteStream | null = flags.alertsOut ? createWriteStream(flags.alertsOut, { flags: 'a' }) : null;
  if (!consumer) throw new Error('the Kafka consumer was not started'); // openContext ran the preflight
  // One producer for the dead-letter and re-publish topics, when either is asked for.
  let producer: MessageProducer | null = null;
  if (flags.deadLetterTopic || flags.republishTopic) {
    // Not idempotent: both topics are at least once anyway (a crash before the commit re-sends), and
    // librdkafka's mock cluster cannot serve kafkajs' idempotent InitProducerId.
    producer = createKafkajsProducer({ ...connection, idempotent: false }, logger);
    await producer.connect().catch(abandon);
  }
  const killAfter = flags.debugKillAfterInsert;
  let startupLogged = false;
  const marks: { listeningMs?: number } = {};
  // Outside the group: the cluster id (part of every insert token) and the repair of batches left unconfirmed.
  const reader = createKafkajsPartitionReader(connection, logger, { sessionTimeoutMs: flags.sessionTimeoutMs });
  const ingest = new KafkaIngest({
    consumer,
    reader,
    sessionTimeoutMs: flags.sessionTimeoutMs,
    memberName: `${hostname()} pid ${process.pid}`,
    store,
    topic: flags.topic,
    parser: config.parser,
    recognise: config.recognise,
    detector: config.detector,
    catalog,
    isAllowed: createAllowlist(config.allowlist),
    limits: config.limits,
    maxBatchRows: flags.maxBatchRows,
    maxBatchMs: flags.maxBatchMs,
    storeRequests: flags.store,
    // A re-publishing ingest sees clients spread over partitions: the detection workers detect.
    detect: !flags.republishTopic,
    ...(producer && flags.deadLetterTopic ? { deadLetterTopic: { topic: flags.deadLetterTopic, producer } } : {}),
    ...(producer && flags.republishTopic ? { republish: { topic: flags.republishTopic, producer } } : {}),
    ...(killAfter !== undefined
      ? {
          beforeCommit: (n: number) => {
            if (n < killAfter) return;
            log.warn({ batch: n }, 'debug: SIGKILL after insert, before commit');
            process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
    ...(flags.debugKillBeforeConfirm !== undefined
      ? {
          beforeConfirm: (n: number) => {
            if (n < flags.debugKillBeforeConfirm!) return;
            log.warn({ batch: n }, 'debug: SIGKILL after the inserts, before the confirmation');
            process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
    metrics,
    logger,
    onAlert: (a) => {
      hunter?.noteStreamingAlert(a);
      emit(a);
    },
    afterStore: async () => {
      if (!startupLogged) {
        startupLogged = true;
        const round = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v));
        const st = ingest.startup;
        log.info(
          { startup: { storeOpenMs: round(storeOpenMs), listeningMs: round(marks.listeningMs), consumerStartMs: round(st.consumerStartMs), joinedMs: round(st.joinedMs), assignedMs: round(st.assignedMs), firstBatchMs: round(st.firstBatchMs), firstStoredMs: round(st.firstStoredMs) } },
          'ingest startup',
        );
      }
      await outputs.flush();
      hunter?.check();
    },
  });
  ingestRef = ingest;
  const app = buildOpsApp({ ready: () => ingest.health(), metrics: metrics.registry });
  await app.listen({ host: flags.httpHost, port: flags.httpPort }).catch(abandon);
  marks.listeningMs = performance.now();
  // serve: the incident API in the same process (the embedded store allows one process per directory).
  let api: RunningServer | null = null;
  if (flags.listen) {
    const { host, port } = parseListen(flags.listen);
    const apiConfig = Object.freeze({ ...DEFAULT_API_CONFIG, ...(flags.rateLimit ? { rateLimitPerMinute: flags.rateLimit } : {}) });
    // The API also serves this process's metrics at /metrics (viewer token), besides the ops port.
    api = await startApiServer({ store, logger: logger.child({ component: 'api' }), clock: { now: () => Date.now() }, config: apiConfig, metrics: metrics.registry }, { host, port });
    log.info({ api: api.url }, 'incident API listening');
  }
  log.info({ brokers, topic: flags.topic, group: flags.group, store: store.description, http: `${flags.httpHost}:${flags.httpPort}` }, 'ingest starting');

  const shutdown = gracefulStop(log, { timeoutMs: flags.shutdownTimeoutMs, what: 'storing and committing what is held', lostNote: 'uncommitted data will be re-read' }, async () => {
    await hunter?.stop();
    await ingest.stop();
    await api?.close();
    await groupOffsets?.close();
    await outputs.close();
    await producer?.disconnect();
    await reader.close();
    await app.close();
    if (alertsOut) await new Promise<void>((r) => alertsOut!.end(r));
    alertsOut = null;
    await store.close();
    log.info({ stats: ingest.stats }, 'stopped');
    return EXIT.OK;
  });

  return new Promise<number>((resolve) => {
    process.once('SIGTERM', () => void shutdown('SIGTERM').then(resolve));
    process.once('SIGINT', () => void shutdown('SIGINT').then(resolve));
    ingest
      .start()
      .then(() => hunter?.start())
      .catch((err: unknown) => {
        log.error({ err }, 'consumer failed to start');
        void shutdown('start-failure').then(() => resolve(EXIT.FAILURE));
      });
    const watchdog = setInterval(() => {
      if (ingest.crash) {
        clearInterval(watchdog);
        void shutdown('crash').then(() => resolve(EXIT.FAILURE));
      }
    }, 500);
    watchdog.unref();
  });
}

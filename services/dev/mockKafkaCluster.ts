/**
 * librdkafka's mock cluster, started in-process through the FFI package `koffi`.
 *
 * This is a real Kafka-protocol broker (Debian package `librdkafka1`): kafkajs talks to it over
 * loopback TCP exactly as it would to Apache Kafka — Produce, Fetch, Metadata, ListOffsets,
 * consumer groups (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and
 * OffsetCommit/OffsetFetch. It runs in librdkafka's own threads, so it keeps serving while the
 * Node event loop is busy. No child process, no Kafka or JVM install.
 *
 * Limits that matter to anyone using it:
 * - **Retention ~5 MB per partition.** The mock keeps only about 5 MB of log per partition; older
 *   segments are dropped (like size-based retention), so the log start offset moves forward and a
 *   consumer far behind sees OFFSET_OUT_OF_RANGE / jumps forward. Keep test volumes below that
 *   or spread them over partitions.
 * - **Create topics with {@link MockKafkaCluster.createTopic}.** The Admin API (CreateTopics) is
 *   not implemented by the mock, so kafkajs' `admin.createTopics()` fails. (Producing to an
 *   unknown topic auto-creates it with the mock's defaults, but do not rely on that.)
 * - Replication is bookkeeping only: all brokers live in this process, and
 *   {@link MockKafkaCluster.brokerDown} does not move partition leadership.
 * - The mock API is experimental in librdkafka (no ABI guarantee); this binds the signatures of
 *   librdkafka 2.0.x (Debian bookworm's `librdkafka1`).
 */
import { createRequire } from 'node:module';
import type koffiDefault from 'koffi';
import type { TypeObject } from 'koffi';

type Koffi = typeof koffiDefault;
let koffiModule: Koffi | undefined;

/**
 * koffi (a native addon) is loaded on first use, so importing this module — e.g. from the CLI's
 * composition root — costs nothing for commands that never start a mock cluster.
 */
function koffi(): Koffi {
  try {
    koffiModule ??= createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    throw new MockKafkaError(`cannot load the FFI package koffi (${(e as Error).message}): run npm install`);
  }
  return koffiModule;
}

/** What {@link startMockKafkaCluster} takes. */
export interface MockKafkaClusterOptions {
  /** Number of brokers; ids are 1..brokers. Default 1. */
  readonly brokers?: number;
  /** Library to dlopen. Default `'librdkafka.so.1'` (Debian `librdkafka1`). */
  readonly library?: string;
  /** librdkafka's own `log_level` (syslog levels 0–7) for the handle hosting the mock. Default 3 (errors only). */
  readonly logLevel?: number;
}

/** A running mock cluster. Every method throws {@link MockKafkaError} on a librdkafka error. */
export interface MockKafkaCluster {
  /** `bootstrap.servers` for clients: comma-separated `127.0.0.1:port` list, one per broker. */
  readonly bootstrap: string;
  /** Same as {@link bootstrap}, split: what kafkajs' `brokers` option takes. */
  readonly brokerList: readonly string[];
  /** Number of brokers (ids 1..brokerCount). */
  readonly brokerCount: number;
  /** librdkafka's version string, e.g. `2.0.2`. */
  readonly librdkafkaVersion: string;
  /**
   * Creates a topic (the only reliable way: the mock has no CreateTopics). Fails with
   * TOPIC_ALREADY_EXISTS if it exists.
   */
  createTopic(name: string, partitions: number, replicationFactor?: number): void;
  /** Disconnects broker `id` and refuses new connections (-1: all brokers). Leadership does not move. */
  brokerDown(id: number): void;
  /** Lets broker `id` accept connections again (-1: all brokers). */
  brokerUp(id: number): void;
  /**
   * Makes the next `errors.length` requests with this ApiKey (0 Produce, 1 Fetch, 3 Metadata,
   * 8 OffsetCommit, 9 OffsetFetch, 10 FindCoordinator, 11 JoinGroup, 12 Heartbeat, 14 SyncGroup…),
   * on any broker, fail with these Kafka error codes, in order. Code -195 (`_TRANSPORT`) makes the
   * broker drop the connection instead.
   */
  pushRequestErrors(apiKey: number, errors: readonly number[]): void;
  /** Forgets the errors still queued for this ApiKey. */
  clearRequestErrors(apiKey: number): void;
  /** Delays every response of broker `brokerId` (-1: all) by `ms` milliseconds. */
  setRtt(brokerId: number, ms: number): void;
  /** Moves the leader of one partition to `brokerId` (-1: leaderless). */
  setPartitionLeader(topic: string, partition: number, brokerId: number): void;
  /** Destroys the cluster and its rd_kafka handle; all client connections drop. Idempotent. */
  close(): void;
  /** True once {@link close} ran. */
  readonly closed: boolean;
}

/** A librdkafka call failed; `code` is librdkafka's rd_kafka_resp_err_t, `name` its symbolic name. */
export class MockKafkaError extends Error {
  constructor(
    message: string,
    readonly code?: number,
    readonly errName?: string,
  ) {
    super(message);
    this.name = 'MockKafkaError';
  }
}

type Fn = (...args: unknown[]) => unknown;

interface Binding {
  readonly versionStr: () => string;
  readonly confNew: () => unknown;
  readonly confSet: (conf: unknown, name: string, value: string, errstr: Buffer, size: number) => number;
  readonly confDestroy: (conf: unknown) => void;
  readonly kafkaNew: (type: number, conf: unknown, errstr: Buffer, size: number) => unknown;
  readonly kafkaDestroy: (rk: unknown) => void;
  readonly err2str: (err: number) => string;
  readonly err2name: (err: number) => string;
  readonly clusterNew: (rk: unknown, brokers: number) => unknown;
  readonly clusterDestroy: (mc: unknown) => void;
  readonly bootstraps: (mc: unknown) => string;
  readonly topicCreate: (mc: unknown, topic: string, partitions: number, rf: number) => number;
  readonly brokerSetDown: (mc: unknown, id: number) => number;
  readonly brokerSetUp: (mc: unknown, id: number) => number;
  readonly brokerSetRtt: (mc: unknown, id: number, ms: number) => number;
  readonly pushErrorsArray: ((mc: unknown, apiKey: number, cnt: number, errs: Int32Array) => void) | null;
  readonly pushErrorsVariadic: Fn;
  readonly clearErrors: (mc: unknown, apiKey: number) => void;
  readonly partitionSetLeader: (mc: unknown, topic: string, partition: number, id: number) => number;
}

const bindings = new Map<string, Binding>();

const RD_KAFKA_PRODUCER = 0;
const RD_KAFKA_CONF_OK = 0;
const ERRSTR_SIZE = 512;

let types: { rk: TypeObject; conf: TypeObject; mc: TypeObject } | undefined;

/** Opaque handle types, declared once per process (koffi type names are global). */
function handleTypes(): { rk: TypeObject; conf: TypeObject; mc: TypeObject } {
  // koffi hands these back as External objects that are only passed around, never dereferenced.
  types ??= {
    rk: koffi().pointer(koffi().opaque('rd_kafka_t')),
    conf: koffi().pointer(koffi().opaque('rd_kafka_conf_t')),
    mc: koffi().pointer(koffi().opaque('rd_kafka_mock_cluster_t')),
  };
  return types;
}

/** dlopen()s librdkafka once per path and binds the functions used here. */
function bind(library: string): Binding {
  const cached = bindings.get(library);
  if (cached) return cached;
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi().load(library);
  } catch (e) {
    throw new MockKafkaError(
      `cannot load ${library} (librdkafka): ${(e as Error).message}. ` +
        'The Kafka mock cluster needs librdkafka ≥ 2.0: install Debian package librdkafka1 (apt-get install -y librdkafka1).',
    );
  }
  const { rk, conf, mc } = handleTypes();
  const f = (name: string, ret: string | TypeObject, args: Array<string | TypeObject>): Fn => {
    try {
      return lib.func(name, ret, args) as Fn;
    } catch (e) {
      throw new MockKafkaError(
        `${library} has no ${name} (${(e as Error).message}): the mock cluster needs librdkafka ≥ 2.0 — install Debian package librdkafka1`,
      );
    }
  };
  let pushErrorsArray: Binding['pushErrorsArray'];
  try {
    pushErrorsArray = lib.func('rd_kafka_mock_push_request_errors_array', 'void', [mc, 'int16_t', 'size_t', 'const int32_t *']) as Binding['pushErrorsArray'];
  } catch {
    pushErrorsArray = null; // older librdkafka: fall back to the variadic function
  }
  const b: Binding = {
    versionStr: f('rd_kafka_version_str', 'const char *', []) as Binding['versionStr'],
    confNew: f('rd_kafka_conf_new', conf, []) as Binding['confNew'],
    confSet: f('rd_kafka_conf_set', 'int', [conf, 'const char *', 'const char *', 'void *', 'size_t']) as Binding['confSet'],
    confDestroy: f('rd_kafka_conf_destroy', 'void', [conf]) as Binding['confDestroy'],
    kafkaNew: f('rd_kafka_new', rk, ['int', conf, 'void *', 'size_t']) as Binding['kafkaNew'],
    kafkaDestroy: f('rd_kafka_destroy', 'void', [rk]) as Binding['kafkaDestroy'],
    err2str: f('rd_kafka_err2str', 'const char *', ['int']) as Binding['err2str'],
    err2name: f('rd_kafka_err2name', 'const char *', ['int']) as Binding['err2name'],
    clusterNew: f('rd_kafka_mock_cluster_new', mc, [rk, 'int']) as Binding['clusterNew'],
    clusterDestroy: f('rd_kafka_mock_cluster_destroy', 'void', [mc]) as Binding['clusterDestroy'],
    bootstraps: f('rd_kafka_mock_cluster_bootstraps', 'const char *', [mc]) as Binding['bootstraps'],
    topicCreate: f('rd_kafka_mock_topic_create', 'int', [mc, 'const char *', 'int', 'int']) as Binding['topicCreate'],
    brokerSetDown: f('rd_kafka_mock_broker_set_down', 'int', [mc, 'int32_t']) as Binding['brokerSetDown'],
    brokerSetUp: f('rd_kafka_mock_broker_set_up', 'int', [mc, 'int32_t']) as Binding['brokerSetUp'],
    brokerSetRtt: f('rd_kafka_mock_broker_set_rtt', 'int', [mc, 'int32_t', 'int']) as Binding['brokerSetRtt'],
    pushErrorsArray,
    pushErrorsVariadic: f('rd_kafka_mock_push_request_errors', 'void', [mc, 'int16_t', 'size_t', '...']),
    clearErrors: f('rd_kafka_mock_clear_request_errors', 'void', [mc, 'int16_t']) as Binding['clearErrors'],
    partitionSetLeader: f('rd_kafka_mock_partition_set_leader', 'int', [mc, 'const char *', 'int32_t', 'int32_t']) as Binding['partitionSetLeader'],
  };
  bindings.set(library, b);
  return b;
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
}

/**
 * Starts a mock Kafka cluster inside this process and returns its bootstrap list and fault knobs.
 *
 * The brokers listen on 127.0.0.1 ephemeral ports and are served by librdkafka threads, so they
 * answer even while JavaScript runs. Call {@link MockKafkaCluster.close} when done (the threads
 * otherwise live until the process exits; they do not keep the event loop alive).
 *
 * Limits: ~5 MB of log kept per partition (older data is dropped like retention); topics must be
 * created with {@link MockKafkaCluster.createTopic} (kafkajs `admin.createTopics` fails on the mock).
 *
 * @throws MockKafkaError when librdkafka cannot be loaded ("install Debian package librdkafka1")
 *   or the cluster cannot be created.
 */
export function startMockKafkaCluster(opts: MockKafkaClusterOptions = {}): MockKafkaCluster {
  const brokerCount = opts.brokers ?? 1;
  checkInt('brokers', brokerCount, 1, 64);
  const logLevel = opts.logLevel ?? 3;
  checkInt('logLevel', logLevel, 0, 7);
  const b = bind(opts.library ?? 'librdkafka.so.1');

  const errstr = Buffer.alloc(ERRSTR_SIZE);
  const conf = b.confNew();
  // The handle only hosts the mock: keep it quiet and idle (it never connects anywhere itself).
  for (const [k, v] of [
    ['log_level', String(logLevel)],
    ['client.id', 'tilewatch-mock-kafka'],
  ] as const) {
    if (b.confSet(conf, k, v, errstr, ERRSTR_SIZE) !== RD_KAFKA_CONF_OK) {
      b.confDestroy(conf);
      throw new MockKafkaError(`rd_kafka_conf_set(${k}=${v}) failed: ${cString(errstr)}`);
    }
  }
  const rk = b.kafkaNew(RD_KAFKA_PRODUCER, conf, errstr, ERRSTR_SIZE); // takes ownership of conf on success
  if (rk === null) {
    b.confDestroy(conf);
    throw new MockKafkaError(`rd_kafka_new failed: ${cString(errstr)}`);
  }
  const mc = b.clusterNew(rk, brokerCount);
  if (mc === null) {
    b.kafkaDestroy(rk);
    throw new MockKafkaError('rd_kafka_mock_cluster_new failed (could not bind loopback listeners?)');
  }
  const bootstrap = b.bootstraps(mc);
  const librdkafkaVersion = b.versionStr();
  let closed = false;

  const live = (): void => {
    if (closed) throw new MockKafkaError('mock Kafka cluster is closed');
  };
  const check = (what: string, err: number): void => {
    if (err !== 0) throw new MockKafkaError(`${what}: ${b.err2name(err)} (${b.err2str(err)})`, err, b.err2name(err));
  };
  const checkBroker = (id: number): void => {
    if (id !== -1) checkInt('broker id', id, 1, brokerCount);
  };

  return {
    bootstrap,
    brokerList: bootstrap.split(',').filter((s) => s.length > 0),
    brokerCount,
    librdkafkaVersion,
    get closed() {
      return closed;
    },
    createTopic(name, partitions, replicationFactor = 1) {
      live();
      if (name.length === 0) throw new RangeError('topic name must not be empty');
      checkInt('partitions', partitions, 1, 10_000);
      checkInt('replicationFactor', replicationFactor, 1, brokerCount);
      check(`createTopic(${name})`, b.topicCreate(mc, name, partitions, replicationFactor));
    },
    brokerDown(id) {
      live();
      checkBroker(id);
      check(`brokerDown(${id})`, b.brokerSetDown(mc, id));
    },
    brokerUp(id) {
      live();
      checkBroker(id);
      check(`brokerUp(${id})`, b.brokerSetUp(mc, id));
    },
    pushRequestErrors(apiKey, errors) {
      live();
      checkInt('apiKey', apiKey, 0, 32_767);
      for (const e of errors) checkInt('error code', e, -2_147_483_648, 2_147_483_647);
      if (errors.length === 0) return;
      if (b.pushErrorsArray) {
        b.pushErrorsArray(mc, apiKey, errors.length, Int32Array.from(errors));
      } else {
        // rd_kafka_resp_err_t is an int-sized enum: pass each as a C int through the va_list.
        b.pushErrorsVariadic(mc, apiKey, errors.length, ...errors.flatMap((e) => ['int', e]));
      }
    },
    clearRequestErrors(apiKey) {
      live();
      checkInt('apiKey', apiKey, 0, 32_767);
      b.clearErrors(mc, apiKey);
    },
    setRtt(brokerId, ms) {
      live();
      checkBroker(brokerId);
      checkInt('rtt ms', ms, 0, 2_147_483_647);
      check(`setRtt(${brokerId})`, b.brokerSetRtt(mc, brokerId, ms));
    },
    setPartitionLeader(topic, partition, brokerId) {
      live();
      checkInt('partition', partition, 0, 10_000);
      checkBroker(brokerId);
      check(`setPartitionLeader(${topic}/${partition})`, b.partitionSetLeader(mc, topic, partition, brokerId));
    },
    close() {
      if (closed) return;
      closed = true;
      b.clusterDestroy(mc);
      b.kafkaDestroy(rk);
    },
  };
}

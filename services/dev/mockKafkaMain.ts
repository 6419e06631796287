/**
 * `tilewatch mock-kafka`: runs librdkafka's mock Kafka cluster (a real Kafka-protocol broker,
 * in-process) until told to stop, so ingest can be tried locally without Kafka:
 *
 *   node --import tsx services/dev/mockKafkaMain.ts --brokers 1 --topic tile-access:8
 *   → stdout: {"bootstrap":"127.0.0.1:40123","brokers":1,"topics":{"tile-access":8}}
 *   (another terminal) tilewatch ingest --brokers 127.0.0.1:40123 …
 *
 * Prints exactly one JSON line on stdout once the topics exist (a test or script reads it), a
 * human note on stderr, then serves until SIGINT/SIGTERM, or until stdin reaches end-of-file when
 * stdin is a pipe or socket (so a parent that dies or closes the pipe takes the broker with it).
 * A terminal or /dev/null on stdin is not watched (Ctrl-C, or `kill`, stops it then).
 *
 * Limits of the mock: ~5 MB kept per partition (older data is dropped); topics must be created
 * here (`--topic name:partitions[:replicationFactor]`) — CreateTopics from clients is not supported.
 */
import { fstatSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startMockKafkaCluster, MockKafkaError } from './mockKafkaCluster.ts';
import type { MockKafkaCluster } from './mockKafkaCluster.ts';

export interface MockKafkaIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream & { readonly fd?: number };
}

/** Resolves when the process has been asked to stop; tests can pass their own. */
export type StopSignal = Promise<string>;

interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
}

const USAGE = `usage: tilewatch mock-kafka [--brokers N] [--topic name:partitions[:rf]]... [--library path] [--log-level 0-7]

Starts librdkafka's mock Kafka cluster on 127.0.0.1 (Debian package librdkafka1), creates the
topics, prints {"bootstrap":"host:port,…","brokers":N,"topics":{name:partitions}} on stdout and
serves until SIGINT/SIGTERM or until stdin (when a pipe) closes.
Limits: ~5 MB kept per partition; create topics here (clients' CreateTopics is unsupported).
`;

class UsageError extends Error {}

function parseTopic(spec: string, brokers: number): TopicSpec {
  const m = /^([A-Za-z0-9._-]+):(\d+)(?::(\d+))?$/.exec(spec);
  if (!m?.[1] || !m[2]) throw new UsageError(`--topic must be name:partitions[:replicationFactor], got "${spec}"`);
  const partitions = Number(m[2]);
  const replicationFactor = m[3] === undefined ? Math.min(3, brokers) : Number(m[3]);
  if (partitions < 1 || partitions > 10_000) throw new UsageError(`--topic ${spec}: partitions must be 1..10000`);
  if (replicationFactor < 1 || replicationFactor > brokers) throw new UsageError(`--topic ${spec}: replication factor must be 1..${brokers} (the broker count)`);
  return { name: m[1], partitions, replicationFactor };
}

function intOption(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`${name} must be an integer in ${min}..${max}, got "${v}"`);
  return n;
}

/**
 * The default stop signal: SIGINT, SIGTERM, or end of stdin when stdin is a pipe/socket.
 * Returns the promise and a function that removes the listeners again.
 */
function processStopSignal(stdin: MockKafkaIo['stdin']): { stopped: StopSignal; dispose: () => void } {
  let dispose = (): void => {};
  const stopped = new Promise<string>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => resolve(sig);
    const onEnd = (): void => resolve('stdin closed');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let watchStdin = false;
    try {
      const st = fstatSync(stdin.fd ?? 0);
      watchStdin = st.isFIFO() || st.isSocket();
    } catch {
      watchStdin = false; // no stdin at all: signals only
    }
    if (watchStdin) {
      stdin.on('end', onEnd);
      stdin.on('close', onEnd);
      stdin.on('error', onEnd);
      stdin.resume(); // read and discard: only EOF matters
    }
    const keepAlive = setInterval(() => {}, 1 << 30); // signals alone do not keep the event loop alive
    dispose = () => {
      clearInterval(keepAlive);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      if (watchStdin) {
        stdin.removeListener('end', onEnd);
        stdin.removeListener('close', onEnd);
        stdin.removeListener('error', onEnd);
        stdin.pause();
        (stdin as { destroy?: () => void }).destroy?.();
      }
    };
  });
  return { stopped, dispose };
}

/**
 * Runs the mock cluster command. `argv` excludes the command name (e.g. `['--topic', 'tile-access:8']`).
 * Resolves with the exit code once stopped: 0 after a clean stop, 2 for bad flags, 1 when the
 * cluster cannot start (e.g. librdkafka1 missing).
 *
 * @param stop  optional: resolve it to stop (tests); default SIGINT/SIGTERM/stdin EOF.
 * @param onStarted optional: called with the running cluster after the JSON line is printed.
 */
export async function runMockKafka(
  argv: readonly string[],
  io: MockKafkaIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  stop?: StopSignal,
  onStarted?: (cluster: MockKafkaCluster) => void,
): Promise<number> {
  let brokers: number;
  let topics: TopicSpec[];
  let library: string | undefined;
  let logLevel: number;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        brokers: { type: 'string' },
        topic: { type: 'string', multiple: true },
        library: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    brokers = intOption('--brokers', values.brokers, 1, 1, 64);
    logLevel = intOption('--log-level', values['log-level'], 3, 0, 7);
    topics = (values.topic ?? []).map((t) => parseTopic(t, brokers));
    const dup = topics.find((t, i) => topics.findIndex((u) => u.name === t.name) !== i);
    if (dup) throw new UsageError(`--topic ${dup.name} given twice`);
    library = values.library;
  } catch (e) {
    io.stderr.write(`tilewatch mock-kafka: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }

  let cluster: MockKafkaCluster;
  try {
    cluster = startMockKafkaCluster(library === undefined ? { brokers, logLevel } : { brokers, logLevel, library });
  } catch (e) {
    io.stderr.write(`tilewatch mock-kafka: ${(e as Error).message}\n`);
    return 1;
  }
  const own = stop === undefined ? processStopSignal(io.stdin) : undefined;
  try {
    for (const t of topics) cluster.createTopic(t.name, t.partitions, t.replicationFactor);
    const line = {
      bootstrap: cluster.bootstrap,
      brokers,
      topics: Object.fromEntries(topics.map((t) => [t.name, t.partitions])),
      librdkafka: cluster.librdkafkaVersion,
    };
    io.stdout.write(`${JSON.stringify(line)}\n`);
    io.stderr.write(
      `mock Kafka (librdkafka ${cluster.librdkafkaVersion}): ${brokers} broker(s) at ${cluster.bootstrap}; ` +
        `topics: ${topics.map((t) => `${t.name}(${t.partitions})`).join(', ') || 'none'}. ` +
        'Keeps ~5 MB per partition. Ctrl-C to stop.\n',
    );
    onStarted?.(cluster);
    const why = await (stop ?? own?.stopped);
    io.stderr.write(`mock Kafka stopping (${why ?? 'stopped'})\n`);
    return 0;
  } catch (e) {
    const msg = e instanceof MockKafkaError ? e.message : String(e);
    io.stderr.write(`tilewatch mock-kafka: ${msg}\n`);
    return 1;
  } finally {
    own?.dispose();
    cluster.close();
  }
}

// Runnable directly: node --import tsx services/dev/mockKafkaMain.ts …
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await runMockKafka(process.argv.slice(2));
}

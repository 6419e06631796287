/**
 * Composition root: the only place that reads argv/env, builds config, the logger, the store, the
 * pipeline and the sinks, and wires them together. Commands live in ./commands/.
 */
import { packageVersion } from '../observability/packageVersion.ts';
import { LogFormatError } from '../core/logformat/logFormatError.ts';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from './config.ts';
import { EXIT, UsageError } from './exitCodes.ts';
import type { IngestWiring } from './commands/ingest.ts';
import { registerIncidentCommands } from './commands/incidentCommands.ts';
import { registerTriageCommands } from './commands/triageCommands.ts';
import { StoreLockedError, StoreUnreachableError } from '../store/storeErrors.ts';
import { detachStdin } from './detachStdin.ts';

// Command implementations are imported when their command runs: `--help` and `--version` load
// neither the store client nor kafkajs nor fastify.
const commands = {
  migrate: () => import('./commands/migrate.ts'),
  query: () => import('./commands/query.ts'),
  replay: () => import('./commands/replay.ts'),
  simulate: () => import('./commands/simulate.ts'),
  evaluate: () => import('./commands/evaluate.ts'),
  demo: () => import('./commands/demo.ts'),
  ingest: () => import('./commands/ingest.ts'),
  follow: () => import('./commands/follow.ts'),
  hunt: () => import('./commands/hunt.ts'),
  checkConfig: () => import('./commands/checkConfig.ts'),
};

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function storeOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'JSON config file (see README "Configuration")')
    .option('--data <dir>', 'embedded chDB data directory (default: dataDir of the config file, else ./data)')
    .option('--clickhouse-url <url>', 'use a ClickHouse server instead of the embedded store (password from TILEWATCH_CLICKHOUSE_PASSWORD)')
    .option('--clickhouse-cluster <name>', 'create the schema ON CLUSTER as replicated tables + Distributed tables (a cluster name or {cluster})')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug']).default('warn'));
}

export async function main(argv: readonly string[]): Promise<number> {
  // A development broker for trying `ingest` locally: librdkafka's mock cluster (Debian librdkafka1).
  if (argv[0] === 'mock-kafka') {
    const { runMockKafka } = await import('../dev/mockKafkaMain.ts');
    return runMockKafka(argv.slice(1));
  }
  const program = new Command('tilewatch')
    .description('Access-audit anomaly detector for image-tile servers: flags clients harvesting images tile by tile.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let exit: number = EXIT.OK;
  const setExit = (code: number): void => {
    exit = code;
  };

  storeOptions(
    program
      .command('hunt')
      .description('run the hunts (low-and-slow, campaigns, image exposure) over stored history, window by window in event time: by default only the windows after the last hunted one; --from/--to backfills a period')
      .option('--from <time>', 'ISO-8601 start of a period to backfill (with --to): its windows run even if they ran before')
      .option('--to <time>', 'ISO-8601 end of the period to backfill (with --from)')
      .option('--allow-cidr <cidr>', 'never hunt clients in this CIDR (repeatable)', collect)
      .option('--hunt-every <minutes>', 'minutes between windows (default 10)', (v) => positiveInt(v, '--hunt-every'))
      .option('--json', 'print the alert versions and a summary as JSON')
      .option('--quiet', 'only the summary'),
  ).action(async (o) => setExit(await (await commands.hunt()).runHunt(o)));

  storeOptions(program.command('migrate').description('apply schema migrations (idempotent; replay and ingest also do this at start)')).action(
    async (o) => setExit(await (await commands.migrate()).runMigrate(o)),
  );

  storeOptions(
    program
      .command('replay')
      .description('replay access logs (files in order, .gz, or - for stdin) into ClickHouse and detect harvesting in event time')
      .argument('<files...>', 'log files; - reads stdin')
      .option('--format <format>', 'auto | combined | combined_xff | common | apache | json | an nginx log_format string (default: logFormat of the config file, else auto)')
      .option('--trusted-proxy <cidr>', 'honour X-Forwarded-For from this proxy CIDR (repeatable)', collect)
      .option('--allow-cidr <cidr>', 'never score clients in this CIDR (staff, monitors; repeatable)', collect)
      .option('--catalog <file>', 'image catalogue (JSON or CSV: id,width,height,tileSize,overlap,protocol,openDataLongEdge)')
      .addOption(new Option('--client-key <key>', 'group requests by').choices(['ip', 'ip+ua']))
      .option('--alerts-out <file>', 'write one JSON line per alert and per update (schemas/alert.schema.json)')
      .option('--metrics-out <file>', 'at the end, write the run\'s counters (rows, dead letters by reason) in the Prometheus text format, e.g. for node_exporter\'s textfile collector')
      .option('--batch-lines <n>', 'lines per insert batch', (v) => positiveInt(v, '--batch-lines'), 50_000)
      .option('--no-hunts', 'do not run the hunts (low-and-slow, campaigns, image exposure) in event time')
      .option('--hunt-every <minutes>', 'event-time minutes between hunt windows (default 10)', (v) => positiveInt(v, '--hunt-every'))
      .option('--quiet', 'no progress and no alert lines on stdout; only the summary'),
  ).action(async (files: string[], o) => setExit(await (await commands.replay()).runReplay(files, o)));

  const ingestOptions = (cmd: Command, brokers: 'required' | 'optional' = 'required'): Command =>
    storeOptions(
      (brokers === 'required' ? cmd.requiredOption('--brokers <list>', 'bootstrap brokers host:port[,host:port…]') : cmd.option('--brokers <list>', 'bootstrap brokers host:port[,host:port…] (Kafka input; or give PATHs to follow)'))
        .option('--topic <name>', 'topic with access-log messages (keyed by client IP)', 'tile-access')
        .option('--group <id>', 'consumer group', 'tilewatch')
        .option('--client-id <id>', 'Kafka client id', 'tilewatch-ingest')
        .option('--ssl', 'connect with TLS')
        .addOption(new Option('--sasl-mechanism <m>', 'SASL mechanism (password from TILEWATCH_KAFKA_PASSWORD)').choices(['plain', 'scram-sha-256', 'scram-sha-512']))
        .option('--sasl-username <user>', 'SASL user name')
        .option('--from-latest', 'a new group starts at the end of the topic (default: the beginning)')
        .option('--format <format>', 'log format of message lines (as for replay; default: logFormat of the config file, else auto)')
        .option('--trusted-proxy <cidr>', 'honour X-Forwarded-For from this proxy CIDR (repeatable)', collect)
        .option('--allow-cidr <cidr>', 'never score clients in this CIDR (repeatable)', collect)
        .option('--catalog <file>', 'image catalogue (as for replay)')
        .addOption(new Option('--client-key <key>', 'group requests by (as for replay)').choices(['ip', 'ip+ua']))
        .option('--max-batch-rows <n>', 'store a batch (all partitions) at this many rows (measured: fewer, larger inserts cost the engine less)', (v) => positiveInt(v, '--max-batch-rows'), 50_000)
        .option('--max-batch-ms <ms>', '… or when its first row is this old', (v) => positiveInt(v, '--max-batch-ms'), 1000)
        .option('--session-timeout-ms <ms>', 'consumer group session timeout', (v) => positiveInt(v, '--session-timeout-ms'), 30_000)
        .option('--http-host <host>', 'metrics/health listen address', '127.0.0.1')
        .option('--http-port <port>', 'metrics/health port (/metrics, /healthz, /readyz)', (v) => positiveInt(v, '--http-port', true), 9464)
        .option('--shutdown-timeout-ms <ms>', 'bound on a graceful stop', (v) => positiveInt(v, '--shutdown-timeout-ms'), 30_000)
        .option('--alerts-out <file>', 'append one JSON line per alert and per update')
        .option('--quiet', 'no alert lines on stdout')
        .option('--no-hunts', 'do not run the hunts on this instance (run them on one instance per group)')
        .option('--hunt-every <minutes>', 'event-time minutes between hunt windows (default 10)', (v) => positiveInt(v, '--hunt-every'))
        .option('--dead-letter-topic <topic>', 'also produce bad messages here (raw value; headers reason, source-topic/-partition/-offset)')
        .option('--republish-topic <topic>', 're-publish parsed requests keyed by client to this topic for detection workers (no detection here)')
        .option('--no-store', 'detection worker on a re-published topic: do not store requests (the re-publishing ingest did)')
        .option('--fetch-max-wait-ms <ms>', 'how long an idle fetch waits for data', (v) => positiveInt(v, '--fetch-max-wait-ms'), 250)
        // Development and test only (see README "Live ingest from Kafka").
        .addOption(new Option('--partition-assigner <name>', 'dev only').choices(['round-robin', 'mock-safe']).default('round-robin').hideHelp())
        .addOption(new Option('--debug-kill-after-insert <n>', 'dev only').argParser((v) => positiveInt(v, '--debug-kill-after-insert')).hideHelp())
        .addOption(new Option('--debug-kill-before-confirm <n>', 'dev only').argParser((v) => positiveInt(v, '--debug-kill-before-confirm')).hideHelp()),
    );
  ingestOptions(
    program.command('ingest').description('consume access logs from Kafka, store them in ClickHouse exactly once, detect live (until SIGTERM/SIGINT)'),
  ).action(async (o) => setExit(await (await commands.ingest()).runIngest(o, await ingestWiring(o))));
  // Options of `follow` that `serve PATH…` takes too.
  const followOptions = (cmd: Command): Command =>
    cmd
      .option('--poll-ms <ms>', 'how often followed files are read', (v) => positiveInt(v, '--poll-ms'), 200)
      .option('--from-end', 'a log seen for the first time at start is read from its end, not its start')
      // Development and test only: SIGKILL after the Nth batch's intent (intent:N) or its inserted rows (rows:N).
      .addOption(new Option('--debug-kill <phase:n>', 'dev only').hideHelp());
  followOptions(
    ingestOptions(
      program
        .command('serve')
        .description('ingest (Kafka with --brokers, or live log files: PATHs as for follow) + detection + hunts + the incident API in one process (the embedded store allows one process)')
        .argument('[paths...]', 'log files or quoted globs to follow instead of Kafka (as for follow)'),
      'optional',
    ),
  )
    .option('--listen <host:port>', 'incident API address', '127.0.0.1:8080')
    .option('--rate-limit <n>', 'API requests per minute per client', (v) => positiveInt(v, '--rate-limit'))
    .action(async (paths: string[], o) => {
      if (paths.length > 0 && o.brokers) throw new UsageError('serve reads Kafka (--brokers) or files (PATHs), not both');
      if (paths.length > 0) return setExit(await (await commands.follow()).runFollow(paths, o));
      if (!o.brokers) throw new UsageError('serve needs --brokers (Kafka) or PATHs to follow (log files or quoted globs)');
      return setExit(await (await commands.ingest()).runIngest(o, await ingestWiring(o)));
    });

  storeOptions(
    followOptions(
      program
        .command('follow')
        .description('follow live log files like tail -F (rotation, copytruncate, new files in a quoted glob), store them at least once a second, detect and hunt live, resume exactly where it stopped (until SIGTERM/SIGINT)')
        .argument('<paths...>', 'log files (they may not exist yet) or quoted globs such as "/var/log/nginx/*access.log"')
        .option('--format <format>', 'log format (as for replay; default: logFormat of the config file, else auto)')
        .option('--trusted-proxy <cidr>', 'honour X-Forwarded-For from this proxy CIDR (repeatable)', collect)
        .option('--allow-cidr <cidr>', 'never score clients in this CIDR (repeatable)', collect)
        .option('--catalog <file>', 'image catalogue (as for replay)')
        .addOption(new Option('--client-key <key>', 'group requests by (as for replay)').choices(['ip', 'ip+ua']))
        .option('--max-batch-rows <n>', 'store once this many lines wait', (v) => positiveInt(v, '--max-batch-rows'), 50_000)
        .option('--max-batch-ms <ms>', '… or once the oldest unstored line is this old', (v) => positiveInt(v, '--max-batch-ms'), 1000)
        .option('--http-host <host>', 'metrics/health listen address', '127.0.0.1')
        .option('--http-port <port>', 'metrics/health port (/metrics, /healthz, /readyz; 0 picks a free one)', (v) => positiveInt(v, '--http-port', true), 9464)
        .option('--shutdown-timeout-ms <ms>', 'bound on a graceful stop', (v) => positiveInt(v, '--shutdown-timeout-ms'), 30_000)
        .option('--alerts-out <file>', 'append one JSON line per alert and per update')
        .option('--quiet', 'no alert lines on stdout')
        .option('--no-hunts', 'do not run the hunts')
        .option('--hunt-every <minutes>', 'event-time minutes between hunt windows (default 10)', (v) => positiveInt(v, '--hunt-every')),
    ),
  ).action(async (paths: string[], o) => setExit(await (await commands.follow()).runFollow(paths, o)));

  storeOptions(
    program
      .command('query')
      .description('run one read-only SQL query on the store and print the result')
      .argument('<sql>', 'a SELECT / WITH / SHOW / DESCRIBE / EXPLAIN statement')
      .addOption(new Option('--output <fmt>', 'output').choices(['table', 'json']).default('table'))
      .option('--param <name=value>', 'query parameter for {name:Type} placeholders (repeatable)', collect),
  ).action(async (sql: string, o) => setExit(await (await commands.query()).runQuery(sql, o)));

  program
    .command('simulate')
    .description('write a labelled day of image-server traffic with scrapers in it (nginx combined log + labels)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'random seed', (v) => positiveInt(v, '--seed', true), 1)
    .option('--hours <h>', 'simulated hours', (v) => positiveNumber(v, '--hours'), 24)
    .option('--scale <x>', 'multiplier on benign human volume', (v) => positiveNumber(v, '--scale'), 1)
    .action(async (o) => setExit(await (await commands.simulate()).runSimulate(o)));

  program
    .command('evaluate')
    .description('score alerts against simulator labels: recall and time to detect per threat, false positives per benign class')
    .requiredOption('--labels <file>', 'labels.jsonl from simulate')
    .requiredOption('--alerts <file>', 'alerts JSON lines from replay --alerts-out')
    .option('--baseline-log <file>', 'also score a naive requests-per-minute rule over this access log, side by side')
    .option('--baseline-rpm <n>', 'the naive rule fires above this many requests in one minute (default 60)', (v) => positiveInt(v, '--baseline-rpm'))
    .option('--json', 'print the report as JSON')
    .action(async (o) => setExit(await (await commands.evaluate()).runEvaluate(o)));

  storeOptions(
    program
      .command('demo')
      .description('simulate a day with scrapers in it, replay it into the embedded store, print alerts, evaluation and a summary')
      .option('--seed <n>', 'random seed', (v) => positiveInt(v, '--seed', true), 7)
      .option('--hours <h>', 'simulated hours', (v) => positiveNumber(v, '--hours'), 24)
      .option('--out <dir>', 'where the simulated log, labels and alerts go', './demo'),
  ).action(async (o) => setExit(await (await commands.demo()).runDemo(o)));

  storeOptions(
    program
      .command('check-config')
      .description('check the config file against schemas/config.schema.json and print the effective configuration as JSON (secrets redacted), or every error (exit 2)')
      .option('--format <format>', 'log format (as for replay)')
      .option('--trusted-proxy <cidr>', 'as for replay (repeatable)', collect)
      .option('--allow-cidr <cidr>', 'as for replay (repeatable)', collect)
      .option('--catalog <file>', 'as for replay')
      .addOption(new Option('--client-key <key>', 'as for replay').choices(['ip', 'ip+ua']))
      .option('--no-hunts', 'as for replay')
      .option('--hunt-every <minutes>', 'as for replay', (v) => positiveInt(v, '--hunt-every')),
  ).action(async (o) => setExit((await commands.checkConfig()).runCheckConfig(o)));

  registerIncidentCommands(program, { storeOptions, setExit });
  registerTriageCommands(program, { storeOptions, setExit });

  // Only `replay -` reads stdin; otherwise keep the embedded engine from mistaking it for insert data.
  if (!argv.includes('-')) detachStdin();
  program
    .command('mock-kafka')
    .description('start librdkafka\'s mock Kafka cluster for local trials: --brokers N --topic name:partitions (prints its bootstrap as JSON)')
    .allowUnknownOption()
    .helpOption(false);
  try {
    await program.parseAsync(['node', 'tilewatch', ...argv]);
    return exit;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof LogFormatError) {
      process.stderr.write(`tilewatch: ${err.message}\n`);
      return EXIT.USAGE;
    }
    if (err instanceof StoreLockedError || err instanceof StoreUnreachableError) {
      process.stderr.write(`tilewatch: ${err.message}\n`);
      return EXIT.STORE;
    }
    process.stderr.write(`tilewatch: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}

/** Development wiring of ingest: the mock-cluster-safe assigner comes from services/dev only when asked for. */
async function ingestWiring(o: { partitionAssigner?: string }): Promise<IngestWiring> {
  if (o.partitionAssigner !== 'mock-safe') return {};
  const { mockSafeRoundRobin } = await import('../dev/mockSafeAssigner.ts');
  return { partitionAssigner: mockSafeRoundRobin() };
}

function positiveInt(v: string, flag: string, allowZero = false): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new UsageError(`${flag} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
  return n;
}

function positiveNumber(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got ${v}`);
  return n;
}

/**
 * Registers the incident-API commands on the program built in main.ts (the composition root calls
 * this once): api, token create|list|revoke, timeline, exposure, digest, report, evidence.
 */
import { Option, type Command } from 'commander';
import { BUCKETS_S } from '../../incidents/timeline.ts';
import { ROLES } from '../../incidents/roles.ts';
import { UsageError } from '../exitCodes.ts';

// Implementations load when their command runs (a fast `--help`).
const api = () => import('./api.ts');
const incidents = () => import('./incidents.ts');

export interface CommandWiring {
  /** Adds --config/--data/--clickhouse-url/--log-level (main.ts). */
  readonly storeOptions: (cmd: Command) => Command;
  readonly setExit: (code: number) => void;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function int(flag: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${v}`);
    return n;
  };
}

function fraction(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > 1) throw new UsageError(`${flag} must be a fraction in (0, 1], got ${v}`);
    return n;
  };
}

export function registerIncidentCommands(program: Command, w: CommandWiring): void {
  const { storeOptions, setExit } = w;
  const range = (cmd: Command): Command =>
    cmd.option('--from <time>', 'start (ISO-8601, UTC), default: the data\'s first request').option('--to <time>', 'end (exclusive), default: the last request').option('--json', 'print JSON');

  storeOptions(
    program
      .command('api')
      .description('serve the incident API and its web page (alerts, timelines, exposure, reports, evidence) until SIGTERM/SIGINT')
      .option('--listen <host:port>', 'listen address (port 0 picks one)', '127.0.0.1:8480')
      .option('--rate-limit <n>', 'requests per minute per token (per address without a valid token; health and readiness exempt)', int('--rate-limit', 1, 1_000_000)),
  ).action(async (o) => setExit(await (await api()).runApi(o)));

  const token = program.command('token').description('API tokens (stored hashed; roles viewer < analyst < admin)');
  storeOptions(
    token
      .command('create')
      .description('create a token and print it once')
      .requiredOption('--name <name>', 'who or what uses it')
      .addOption(new Option('--role <role>', 'role').choices([...ROLES]).makeOptionMandatory())
      .option('--json', 'print JSON'),
  ).action(async (o) => setExit(await (await api()).runTokenCreate(o)));
  storeOptions(token.command('list').description('list tokens (never the secrets)').option('--json', 'print JSON lines')).action(async (o) => setExit(await (await api()).runTokenList(o)));
  storeOptions(token.command('revoke').description('revoke a token by id').argument('<id>', 'token id (token list)')).action(async (id: string, o) => setExit(await (await api()).runTokenRevoke(id, o)));

  storeOptions(
    range(program.command('timeline').description("a client's timeline: requests over time, images touched, exposure growth, alerts").argument('<ip>', 'client IP')).addOption(
      new Option('--bucket <seconds>', 'bucket width').choices(BUCKETS_S.map(String)).argParser(Number),
    ),
  ).action(async (ip: string, o) => setExit(await (await incidents()).runTimeline(ip, o)));

  storeOptions(
    range(program.command('exposure').description('who reached which resolution of an image, when; coverage per client and together').argument('<image>', 'image id')).option(
      '--min-coverage <f>',
      'fraction of a band that counts as reconstructable',
      fraction('--min-coverage'),
    ),
  ).action(async (image: string, o) => setExit(await (await incidents()).runExposure(image, o)));

  storeOptions(
    program
      .command('digest')
      .description('exposure digest of a day: images newly reconstructable beyond policy that day, by whom, and their incidents')
      .requiredOption('--day <YYYY-MM-DD>', 'calendar day (UTC)')
      .option('--json', 'print JSON'),
  ).action(async (o) => setExit(await (await incidents()).runDigest(o)));

  storeOptions(
    range(
      program
        .command('report')
        .description('incident report: clients able to reconstruct the images above a resolution in a period, since when, with evidence')
        .option('--image <id>', 'image id (repeatable)', collect),
    )
      .option('--min-long-edge <px>', 'smallest reconstructable long edge that counts', int('--min-long-edge', 0, 1_000_000), 0)
      .option('--min-coverage <f>', 'fraction of a band that counts as reconstructable', fraction('--min-coverage')),
  ).action(async (o) => setExit(await (await incidents()).runReport(o)));

  storeOptions(
    range(
      program
        .command('evidence')
        .description('export evidence (raw rows NDJSON + manifest with queries, row counts, SHA-256) as a tar archive')
        .option('--alert <id>', 'the rows behind an alert')
        .option('--client <ip>', "a client's rows (with --from/--to)")
        .option('--image <id>', 'a report over these images (repeatable; with --from, --to, --min-long-edge)', collect)
        .requiredOption('-o, --output <file>', 'archive to write'),
    )
      .option('--min-long-edge <px>', 'report: smallest reconstructable long edge', int('--min-long-edge', 0, 1_000_000))
      .option('--min-coverage <f>', 'report: coverage that counts as reconstructable', fraction('--min-coverage')),
  ).action(async (o) => setExit(await (await incidents()).runEvidence(o)));
}

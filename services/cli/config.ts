import { readFileSync } from 'node:fs';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from '../core/detect/detectorConfig.ts';
import { DEFAULT_HUNT_CONFIG, type HuntConfig } from '../core/hunts/huntConfig.ts';
import { compileCidrMatcher } from '../core/logformat/cidr.ts';
import type { ParserSpec } from '../core/logformat/createParser.ts';
import { compileOptions, type RecogniseConfig, type RecogniseOptions } from '../core/protocols/options.ts';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from '../core/validate/inputLimits.ts';
import type { StoreTarget } from '../store/openStore.ts';
import { parseSinksConfig, SinksConfigError, type SinksConfig } from '../alerting/sinksConfig.ts';
import { checkConfigFile } from './configSchema.ts';
import { DEFAULT_NETWORK_SETTINGS, type NetworkSettings } from '../core/network/networkContext.ts';

/**
 * tilewatch's configuration: read once (config file, then flags, then TILEWATCH_* environment for
 * secrets) into a frozen, validated object. Nothing else reads process.env.
 */
export interface TilewatchConfig {
  readonly store: StoreTarget;
  readonly parser: ParserSpec;
  readonly recognise: RecogniseOptions;
  readonly detector: DetectorConfig;
  readonly allowlist: { readonly cidrs: readonly string[]; readonly userAgents: readonly string[] };
  readonly catalog: string | null;
  /** Hunts (scheduled SQL in event time); null when disabled (`--no-hunts`). */
  readonly hunts: HuntConfig | null;
  /** Where alert versions go besides the alerts table (README "Alert sinks"). */
  readonly sinks: SinksConfig;
  /** Ranges every stored request must fit; lines outside them are dead letters (README "Bad input"). */
  readonly limits: InputLimits;
  /** Where client addresses' ASN data comes from (docs/network-context.md). */
  readonly network: NetworkSettings;
}

/**
 * Shape of the optional JSON config file (`--config FILE`). Every field optional; schemas/config.schema.json
 * describes the same keys (unknown keys are refused before anything is read).
 */
export interface ConfigFile {
  /** For editors (`"./schemas/config.schema.json"`); ignored. */
  readonly $schema?: string;
  readonly dataDir?: string;
  readonly clickhouseUrl?: string;
  readonly clickhouseDatabase?: string;
  readonly clickhouseUser?: string;
  /** Apply the schema ON CLUSTER as replicated + Distributed tables (server only). */
  readonly clickhouseCluster?: string;
  readonly logFormat?: string;
  readonly trustedProxies?: readonly string[];
  readonly protocols?: RecogniseConfig;
  readonly detector?: Partial<DetectorConfig>;
  readonly allowlist?: { readonly cidrs?: readonly string[]; readonly userAgents?: readonly string[] };
  readonly catalog?: string;
  /** Overrides of DEFAULT_HUNT_CONFIG (nested objects merge key by key); `false` disables hunts. */
  readonly hunts?: Record<string, unknown> | false;
  /** Alert sinks (webhooks, Alertmanager, Kafka, block list, log). */
  readonly sinks?: unknown;
  /** Overrides of DEFAULT_INPUT_LIMITS. */
  readonly limits?: Record<string, unknown>;
  /** ASN data for network context. */
  readonly network?: { readonly asnDatabase?: string; readonly hostingAsns?: readonly number[] };
}

export interface ConfigFlags {
  readonly config?: string;
  readonly data?: string;
  readonly clickhouseUrl?: string;
  readonly clickhouseCluster?: string;
  readonly format?: string;
  readonly trustedProxy?: readonly string[];
  readonly catalog?: string;
  readonly clientKey?: string;
  readonly allowCidr?: readonly string[];
  /** commander's `--no-hunts` sets this false. */
  readonly hunts?: boolean;
  /** Minutes between hunt windows (event time). */
  readonly huntEvery?: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  /** Every problem found, one line each (the message joins them). */
  readonly problems: readonly string[];
  constructor(message: string | readonly string[]) {
    const problems = typeof message === 'string' ? [message] : message;
    super(problems.join('\n'));
    this.problems = problems;
  }
}

const DETECTOR_KEYS = new Set(Object.keys(DEFAULT_DETECTOR_CONFIG));

export function loadConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): TilewatchConfig {
  let file: ConfigFile = {};
  if (flags.config) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(flags.config, 'utf8'));
    } catch (err) {
      throw new ConfigError(`Cannot load config ${flags.config}: ${(err as Error).message}`);
    }
    // schemas/config.schema.json first: unknown keys and wrong types, every one of them, by path.
    const problems = checkConfigFile(parsed);
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `config file ${flags.config}: ${p}`));
    file = parsed as ConfigFile;
  }
  const url = flags.clickhouseUrl ?? file.clickhouseUrl ?? env.TILEWATCH_CLICKHOUSE_URL;
  const cluster = flags.clickhouseCluster ?? file.clickhouseCluster;
  if (cluster !== undefined && !url) throw new ConfigError('--clickhouse-cluster needs a ClickHouse server (--clickhouse-url); the embedded store is one node');
  const store: StoreTarget = url
    ? {
        kind: 'server',
        url,
        ...(file.clickhouseDatabase ? { database: file.clickhouseDatabase } : {}),
        ...(cluster ? { cluster } : {}),
        ...(file.clickhouseUser ?? env.TILEWATCH_CLICKHOUSE_USER ? { username: file.clickhouseUser ?? env.TILEWATCH_CLICKHOUSE_USER } : {}),
        ...(env.TILEWATCH_CLICKHOUSE_PASSWORD ? { password: env.TILEWATCH_CLICKHOUSE_PASSWORD } : {}),
      }
    : { kind: 'embedded', dataDir: flags.data ?? file.dataDir ?? './data' };

  const detectorOverrides: Record<string, unknown> = { ...(file.detector ?? {}) };
  for (const k of Object.keys(detectorOverrides)) {
    if (!DETECTOR_KEYS.has(k)) throw new ConfigError(`Unknown detector setting "${k}" (known: ${[...DETECTOR_KEYS].join(', ')})`);
    const def = (DEFAULT_DETECTOR_CONFIG as unknown as Record<string, unknown>)[k];
    if (typeof detectorOverrides[k] !== typeof def) throw new ConfigError(`detector.${k} must be a ${typeof def}`);
  }
  if (flags.clientKey !== undefined) {
    if (flags.clientKey !== 'ip' && flags.clientKey !== 'ip+ua') throw new ConfigError(`--client-key must be ip or ip+ua, got ${flags.clientKey}`);
    detectorOverrides.clientKey = flags.clientKey;
  }
  const detector = Object.freeze({ ...DEFAULT_DETECTOR_CONFIG, ...detectorOverrides }) as DetectorConfig;

  const trustedProxies = [...(file.trustedProxies ?? []), ...(flags.trustedProxy ?? [])];
  const cidrs = [...(file.allowlist?.cidrs ?? []), ...(flags.allowCidr ?? [])];
  try {
    compileCidrMatcher(trustedProxies);
    compileCidrMatcher(cidrs);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  let recognise: RecogniseOptions;
  try {
    recognise = compileOptions(file.protocols ?? {});
  } catch (err) {
    throw new ConfigError(`protocols: ${(err as Error).message}`);
  }
  const userAgents = file.allowlist?.userAgents ?? [];
  for (const ua of userAgents) {
    try {
      new RegExp(ua, 'i');
    } catch (err) {
      throw new ConfigError(`allowlist.userAgents: invalid pattern ${ua}: ${(err as Error).message}`);
    }
  }
  let hunts: HuntConfig | null = null;
  if (flags.hunts !== false && file.hunts !== false) {
    hunts = mergeChecked('hunts', DEFAULT_HUNT_CONFIG, file.hunts ?? {}) as HuntConfig;
    if (flags.huntEvery !== undefined) hunts = Object.freeze({ ...hunts, everyMs: flags.huntEvery * 60_000 });
  }
  let sinks: SinksConfig;
  try {
    sinks = parseSinksConfig(file.sinks, env);
  } catch (err) {
    if (err instanceof SinksConfigError) throw new ConfigError(err.message);
    throw err;
  }
  const limits = mergeChecked('limits', DEFAULT_INPUT_LIMITS, file.limits ?? {}) as InputLimits;
  for (const [k, v] of Object.entries(limits)) {
    if (!(Number.isFinite(v) && v >= 0)) throw new ConfigError(`limits.${k} must be a finite number ≥ 0`);
  }
  const network: NetworkSettings = Object.freeze({
    asnDatabase: file.network?.asnDatabase ?? DEFAULT_NETWORK_SETTINGS.asnDatabase,
    hostingAsns: Object.freeze([...(file.network?.hostingAsns ?? [])]),
  });
  return Object.freeze({
    hunts,
    sinks,
    limits,
    network,
    store,
    parser: Object.freeze({ format: flags.format ?? file.logFormat ?? 'auto', trustedProxies }),
    recognise,
    detector,
    allowlist: Object.freeze({ cidrs, userAgents }),
    catalog: flags.catalog ?? file.catalog ?? null,
  });
}

/** Allow-list predicate: staff networks and verified crawlers/monitors are stored but never scored. */
export function createAllowlist(allow: TilewatchConfig['allowlist']): (ip: string, userAgent: string) => boolean {
  const inCidr = compileCidrMatcher(allow.cidrs);
  const ua = allow.userAgents.length > 0 ? new RegExp(allow.userAgents.map((p) => `(?:${p})`).join('|'), 'i') : null;
  return (ip, userAgent) => inCidr(ip) || (ua !== null && ua.test(userAgent));
}

/** Deep-merges overrides into defaults, rejecting unknown keys and values of another type. */
function mergeChecked(path: string, defaults: object, overrides: unknown): unknown {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new ConfigError(`${path} must be an object`);
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in out)) throw new ConfigError(`Unknown setting ${path}.${k} (known: ${Object.keys(out).join(', ')})`);
    const def = out[k];
    if (typeof def === 'object' && def !== null) out[k] = mergeChecked(`${path}.${k}`, def, v);
    else if (typeof v !== typeof def) throw new ConfigError(`${path}.${k} must be a ${typeof def}`);
    else out[k] = v;
  }
  return Object.freeze(out);
}

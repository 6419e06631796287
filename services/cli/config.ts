import { readFileSync } from 'node:fs';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from '../core/detect/detectorConfig.ts';
import { compileCidrMatcher } from '../core/logformat/cidr.ts';
import type { ParserSpec } from '../core/logformat/createParser.ts';
import { compileOptions, type RecogniseConfig, type RecogniseOptions } from '../core/protocols/options.ts';
import type { StoreTarget } from '../store/openStore.ts';

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
}

/** Shape of the optional JSON config file (`--config FILE`). Every field optional. */
export interface ConfigFile {
  readonly dataDir?: string;
  readonly clickhouseUrl?: string;
  readonly clickhouseDatabase?: string;
  readonly clickhouseUser?: string;
  readonly logFormat?: string;
  readonly trustedProxies?: readonly string[];
  readonly protocols?: RecogniseConfig;
  readonly detector?: Partial<DetectorConfig>;
  readonly allowlist?: { readonly cidrs?: readonly string[]; readonly userAgents?: readonly string[] };
  readonly catalog?: string;
}

export interface ConfigFlags {
  readonly config?: string;
  readonly data?: string;
  readonly clickhouseUrl?: string;
  readonly format?: string;
  readonly trustedProxy?: readonly string[];
  readonly catalog?: string;
  readonly clientKey?: string;
  readonly allowCidr?: readonly string[];
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

const DETECTOR_KEYS = new Set(Object.keys(DEFAULT_DETECTOR_CONFIG));

export function loadConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): TilewatchConfig {
  let file: ConfigFile = {};
  if (flags.config) {
    try {
      file = JSON.parse(readFileSync(flags.config, 'utf8')) as ConfigFile;
    } catch (err) {
      throw new ConfigError(`Cannot load config ${flags.config}: ${(err as Error).message}`);
    }
  }
  const url = flags.clickhouseUrl ?? file.clickhouseUrl ?? env.TILEWATCH_CLICKHOUSE_URL;
  const store: StoreTarget = url
    ? {
        kind: 'server',
        url,
        ...(file.clickhouseDatabase ? { database: file.clickhouseDatabase } : {}),
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
  return Object.freeze({
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

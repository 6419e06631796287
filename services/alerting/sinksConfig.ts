import { inspect } from 'node:util';
import { SEVERITIES, type Severity } from '../core/alert.ts';
import { parseCidr } from '../core/logformat/cidr.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../core/retry.ts';
import { DEFAULT_OPEN_TTL_MS } from './alertmanagerPayload.ts';
import { BLOCK_SEVERITIES, type BlockSeverity } from './blockList.ts';
import { DEFAULT_ALERTS_TOPIC } from './kafkaSink.ts';
import { DEFAULT_TOLERANCE_SEC, MAX_TOLERANCE_SEC, MIN_TOLERANCE_SEC } from './webhookSignature.ts';

/** A secret read from the environment; printing, logging or serialising it shows `[redacted]`. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

/** Delivery settings every sink accepts (each overrides the block-wide default). */
export interface SinkDelivery {
  /** Only notices of incidents at or above this severity go to the sink. Default 'low' (all). */
  readonly minSeverity: Severity;
  readonly retry: RetryPolicy;
  readonly queueCapacity: number;
}

export interface WebhookConfig extends SinkDelivery {
  /** Unique sink name (metrics label). Default `webhook`, then `webhook-2`, … */
  readonly name: string;
  readonly url: string;
  /** From the environment variable named by `secretEnv`. */
  readonly secret: Secret;
  /** 'json' (the alert), 'slack' (`{ text }`) or 'ecs' (Elastic Common Schema, ecsAlert.ts). Default 'json'. */
  readonly format: 'json' | 'slack' | 'ecs';
  /** Per attempt. Default 5,000 ms; at most `toleranceSec` × 1000. */
  readonly timeoutMs: number;
  /**
   * The timestamp tolerance the receiver enforces (give its verifier the same number), in seconds:
   * an integer from 5 to 3600. Default 300. No attempt stays in flight longer (`timeoutMs` must fit
   * in it): a request that arrives after its timestamp went stale is refused, not retried.
   */
  readonly toleranceSec: number;
}

export interface AlertmanagerConfig extends SinkDelivery {
  readonly urls: readonly string[];
  /**
   * The tilewatch web page, for `generatorURL` = `<webUrl>?incident=<id>` (alertmanagerPayload.ts
   * `incidentPageUrl`). From `webUrl`, or from the older `apiBaseUrl` (the API server, which serves
   * the page at its root: `https://tw.example/api` → `https://tw.example/`), else `sinks.webUrl`. Default: none.
   */
  readonly webUrl: string | null;
  /** `endsAt` of open alerts is now + this. Default 7 days. */
  readonly openTtlMs: number;
  readonly extraLabels: Readonly<Record<string, string>>;
  /** From `bearerTokenEnv`, when set. */
  readonly bearerToken: Secret | null;
  readonly timeoutMs: number;
}

export interface LogSinkConfig extends SinkDelivery {
  /** 'native': a pino line on the process log; 'ecs': one Elastic Common Schema document per line (ecsAlert.ts). Default 'native'. */
  readonly format: 'native' | 'ecs';
}

export interface KafkaSinkConfig extends SinkDelivery {
  readonly brokers: readonly string[];
  /** 'json' (the alert with its incident) or 'ecs' (Elastic Common Schema, ecsAlert.ts). Default 'json'. */
  readonly format: 'json' | 'ecs';
  /** Default 'tile-alerts'. */
  readonly topic: string;
  /** Default 'tilewatch-alerts'. */
  readonly clientId: string;
  readonly ssl: boolean;
  /** Idempotent producer. Default true; false for brokers without a controller (librdkafka's mock cluster). */
  readonly idempotent: boolean;
  readonly sasl: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: Secret } | null;
}

export interface BlockListConfig extends SinkDelivery {
  readonly geoFile: string;
  readonly cidrFile: string | null;
  /** Default 'tilewatch_blocked'. */
  readonly variable: string;
  /** Incident severity at which its addresses are blocked: 'high' or 'critical', never lower. Default 'high'. */
  readonly blockSeverity: BlockSeverity;
  /** Default 24 h. */
  readonly ttlMs: number;
  /** Never blocked, in addition to the main `allowlist.cidrs`. */
  readonly allowCidrs: readonly string[];
  /** Default 50,000. */
  readonly maxEntries: number;
  /** Default 60,000 ms. */
  readonly sweepIntervalMs: number;
}

/** The `sinks` block of the config file, validated, with defaults filled and secrets resolved. */
export interface SinksConfig {
  /** Default read size per sink (notices read from the alert outbox and held in memory at a time). Default 1,000. */
  readonly queueCapacity: number;
  /** Backoff of failed deliveries; a transient failure is retried until it succeeds, and logged as stuck every `maxAttempts`. */
  readonly retry: RetryPolicy;
  /** How long shutdown waits for the sinks to deliver what is stored; the rest stays in the outbox. Default 10,000 ms. */
  readonly drainTimeoutMs: number;
  /**
   * Wall-clock interval at which a running process re-reads the `mute` rules of
   * `suppression_rules` (rules added through the API or deleted take effect within it); 0 = read
   * once at start only. Present only when the file sets it: absent means
   * {@link DEFAULT_MUTE_RELOAD_MS} (30 s), applied where the rules are loaded (cli/commands/alertOutputs.ts).
   */
  readonly muteReloadMs?: number;
  /**
   * The tilewatch web page (`https://tilewatch.example/`), for links to an incident in notices:
   * `<webUrl>?incident=<id>` (ECS `event.url`, Alertmanager's `generatorURL` unless
   * `alertmanager.webUrl` is given). Default: none.
   */
  readonly webUrl: string | null;
  /** Log sink (one line per notice). Default off (commands already log alerts). */
  readonly log: LogSinkConfig | null;
  readonly webhooks: readonly WebhookConfig[];
  readonly alertmanager: AlertmanagerConfig | null;
  readonly kafka: KafkaSinkConfig | null;
  readonly blockList: BlockListConfig | null;
}

/** Default of `sinks.muteReloadMs`: mutes added while a process runs reach its sinks within 30 s. */
export const DEFAULT_MUTE_RELOAD_MS = 30_000;

export class SinksConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

export type Env = Readonly<Record<string, string | undefined>>;

type Obj = Readonly<Record<string, unknown>>;

/** JSON, except that NaN and ±Infinity (which JSON prints as null) are shown as themselves. */
const shown = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads one object's fields, naming `path.field` in every error, and refuses unknown fields (typos). */
class Fields {
  private readonly seen = new Set<string>();
  constructor(
    private readonly o: Obj,
    readonly path: string,
  ) {}

  private fail(key: string, what: string): never {
    throw new SinksConfigError(`${this.path}.${key}: ${what}`);
  }
  private get(key: string): unknown {
    this.seen.add(key);
    return this.o[key];
  }
  has(key: string): boolean {
    return this.o[key] !== undefined;
  }
  str(key: string, def?: string): string {
    const v = this.get(key);
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'string' || v === '') this.fail(key, v === undefined ? 'is required' : `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }
  optStr(key: string): string | null {
    return this.get(key) === undefined ? null : this.str(key);
  }
  int(key: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `must be an integer from ${min} to ${max}, got ${shown(v)}`);
    return v;
  }
  bool(key: string, def: boolean): boolean {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  oneOf<T extends string>(key: string, values: readonly T[], def: T): T {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) this.fail(key, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }
  strList(key: string, required: boolean): string[] {
    const v = this.get(key);
    if (v === undefined && !required) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '') || (required && v.length === 0))
      this.fail(key, `must be ${required ? 'a non-empty' : 'an'} array of non-empty strings`);
    return v as string[];
  }
  url(key: string): string {
    const v = this.str(key);
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      this.fail(key, `is not a URL: ${JSON.stringify(v)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') this.fail(key, `must be an http or https URL, got ${u.protocol}`);
    return v;
  }
  /** A secret named by an environment variable; literal secrets in the file are refused. */
  secret(envKey: string, literalKey: string, env: Env, required: boolean): Secret | null {
    if (this.o[literalKey] !== undefined) this.fail(literalKey, `secrets are not read from the config file; put it in an environment variable and name it in "${envKey}"`);
    const name = this.get(envKey);
    if (name === undefined) {
      if (required) this.fail(envKey, 'is required (the name of the environment variable holding the secret)');
      return null;
    }
    if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) this.fail(envKey, `must be an environment variable name, got ${JSON.stringify(name)}`);
    const value = env[name];
    if (value === undefined || value === '') this.fail(envKey, `environment variable ${name} is not set`);
    return new Secret(value);
  }
  obj(key: string): Fields | null {
    const v = this.get(key);
    if (v === undefined) return null;
    if (!isObj(v)) this.fail(key, 'must be an object');
    return new Fields(v, `${this.path}.${key}`);
  }
  /** The value under `key` as raw data (for lists of objects). */
  raw(key: string): unknown {
    return this.get(key);
  }
  done(): void {
    const unknown = Object.keys(this.o).filter((k) => !this.seen.has(k) && this.o[k] !== undefined);
    if (unknown.length > 0) throw new SinksConfigError(`${this.path}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`);
  }
}

function retryPolicy(f: Fields | null, def: RetryPolicy): RetryPolicy {
  if (!f) return def;
  const p = {
    maxAttempts: f.int('maxAttempts', def.maxAttempts, 1, 1000),
    baseDelayMs: f.int('baseDelayMs', def.baseDelayMs, 1, 3_600_000),
    maxDelayMs: f.int('maxDelayMs', def.maxDelayMs, 1, 86_400_000),
  };
  f.done();
  if (p.maxDelayMs < p.baseDelayMs) throw new SinksConfigError(`${f.path}.maxDelayMs: must be at least baseDelayMs (${p.baseDelayMs})`);
  return Object.freeze(p);
}

function delivery(f: Fields, defaults: { retry: RetryPolicy; queueCapacity: number }): SinkDelivery {
  return {
    minSeverity: f.oneOf('minSeverity', SEVERITIES, 'low'),
    retry: retryPolicy(f.obj('retry'), defaults.retry),
    queueCapacity: f.int('queueCapacity', defaults.queueCapacity, 1, 1_000_000),
  };
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * Validates the `sinks` block of the config file (see README "Alert sinks") into a frozen
 * {@link SinksConfig}. `env` is the process environment as read by the composition root (nothing
 * else reads it): secrets come from the variables the config names (`secretEnv`,
 * `bearerTokenEnv`, `sasl.passwordEnv`), never from the file. Absent block = no sinks.
 *
 * @throws SinksConfigError naming the offending field (`sinks.webhooks[1].url: …`).
 */
export function parseSinksConfig(raw: unknown, env: Env): SinksConfig {
  if (raw === undefined || raw === null) raw = {};
  if (!isObj(raw)) throw new SinksConfigError('sinks: must be an object');
  const top = new Fields(raw, 'sinks');
  const retry = retryPolicy(top.obj('retry'), DEFAULT_RETRY_POLICY);
  const queueCapacity = top.int('queueCapacity', 1000, 1, 1_000_000);
  const defaults = { retry, queueCapacity };
  const drainTimeoutMs = top.int('drainTimeoutMs', 10_000, 0, 600_000);
  const muteReloadMs = top.has('muteReloadMs') ? top.int('muteReloadMs', DEFAULT_MUTE_RELOAD_MS, 0, DAY_MS) : undefined;
  const webUrl = top.has('webUrl') ? top.url('webUrl') : null;

  let log: LogSinkConfig | null = null;
  const logRaw = top.raw('log');
  if (logRaw === true) log = { format: 'native', ...delivery(new Fields({}, 'sinks.log'), defaults) };
  else if (isObj(logRaw)) {
    const f = new Fields(logRaw, 'sinks.log');
    const enabled = f.bool('enabled', true);
    const format = f.oneOf('format', ['native', 'ecs'] as const, 'native');
    const d = delivery(f, defaults);
    f.done();
    log = enabled ? { format, ...d } : null;
  } else if (logRaw !== undefined && logRaw !== false) throw new SinksConfigError('sinks.log: must be true, false or an object');

  const webhooksRaw = top.raw('webhooks') ?? [];
  if (!Array.isArray(webhooksRaw)) throw new SinksConfigError('sinks.webhooks: must be an array');
  const webhooks = webhooksRaw.map((w: unknown, i): WebhookConfig => {
    const path = `sinks.webhooks[${i}]`;
    if (!isObj(w)) throw new SinksConfigError(`${path}: must be an object`);
    const f = new Fields(w, path);
    const c: WebhookConfig = {
      name: f.str('name', i === 0 ? 'webhook' : `webhook-${i + 1}`),
      url: f.url('url'),
      secret: f.secret('secretEnv', 'secret', env, true)!,
      format: f.oneOf('format', ['json', 'slack', 'ecs'] as const, 'json'),
      timeoutMs: f.int('timeoutMs', 5000, 1, 300_000),
      toleranceSec: f.int('toleranceSec', DEFAULT_TOLERANCE_SEC, MIN_TOLERANCE_SEC, MAX_TOLERANCE_SEC),
      ...delivery(f, defaults),
    };
    f.done();
    if (c.timeoutMs > c.toleranceSec * 1000)
      throw new SinksConfigError(`${path}.timeoutMs: must be at most toleranceSec × 1000 (${c.toleranceSec * 1000}); a request still in flight when its timestamp goes stale is refused by the receiver`);
    return c;
  });

  let alertmanager: AlertmanagerConfig | null = null;
  const am = top.obj('alertmanager');
  if (am) {
    const urls = am.strList('urls', true);
    urls.forEach((u, i) => new Fields({ [`urls[${i}]`]: u }, am.path).url(`urls[${i}]`));
    if (am.has('webUrl') && am.has('apiBaseUrl')) throw new SinksConfigError(`${am.path}.apiBaseUrl: give webUrl only (apiBaseUrl is its older form)`);
    const amWebUrl = am.has('webUrl') ? am.url('webUrl') : am.has('apiBaseUrl') ? new URL('/', am.url('apiBaseUrl')).toString() : webUrl;
    const labelsRaw = am.raw('extraLabels') ?? {};
    if (!isObj(labelsRaw) || Object.entries(labelsRaw).some(([k, v]) => typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)))
      throw new SinksConfigError(`${am.path}.extraLabels: must map label names ([A-Za-z_][A-Za-z0-9_]*) to strings`);
    alertmanager = {
      urls,
      webUrl: amWebUrl,
      openTtlMs: am.int('openTtlMs', DEFAULT_OPEN_TTL_MS, 60_000, 365 * DAY_MS),
      extraLabels: Object.freeze({ ...(labelsRaw as Record<string, string>) }),
      bearerToken: am.secret('bearerTokenEnv', 'bearerToken', env, false),
      timeoutMs: am.int('timeoutMs', 5000, 1, 300_000),
      ...delivery(am, defaults),
    };
    am.done();
  }

  let kafka: KafkaSinkConfig | null = null;
  const k = top.obj('kafka');
  if (k) {
    const brokers = k.strList('brokers', true);
    for (const [i, b] of brokers.entries()) if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new SinksConfigError(`${k.path}.brokers[${i}]: must be host:port, got ${JSON.stringify(b)}`);
    const saslF = k.obj('sasl');
    let sasl: KafkaSinkConfig['sasl'] = null;
    if (saslF) {
      sasl = {
        mechanism: saslF.oneOf('mechanism', ['plain', 'scram-sha-256', 'scram-sha-512'] as const, 'scram-sha-512'),
        username: saslF.str('username'),
        password: saslF.secret('passwordEnv', 'password', env, true)!,
      };
      saslF.done();
    }
    kafka = {
      brokers,
      topic: k.str('topic', DEFAULT_ALERTS_TOPIC),
      format: k.oneOf('format', ['json', 'ecs'] as const, 'json'),
      clientId: k.str('clientId', 'tilewatch-alerts'),
      ssl: k.bool('ssl', false),
      idempotent: k.bool('idempotent', true),
      sasl,
      ...delivery(k, defaults),
    };
    k.done();
  }

  let blockList: BlockListConfig | null = null;
  const b = top.obj('blockList');
  if (b) {
    const allowCidrs = b.strList('allowCidrs', false);
    for (const [i, c] of allowCidrs.entries()) {
      try {
        parseCidr(c);
      } catch (err) {
        throw new SinksConfigError(`${b.path}.allowCidrs[${i}]: ${(err as Error).message}`);
      }
    }
    blockList = {
      geoFile: b.str('geoFile'),
      cidrFile: b.optStr('cidrFile'),
      variable: b.str('variable', 'tilewatch_blocked'),
      blockSeverity: b.oneOf('blockSeverity', BLOCK_SEVERITIES, 'high'),
      ttlMs: b.int('ttlMs', DAY_MS, 1000, 365 * DAY_MS),
      allowCidrs,
      maxEntries: b.int('maxEntries', 50_000, 1, 10_000_000),
      sweepIntervalMs: b.int('sweepIntervalMs', 60_000, 0, DAY_MS),
      ...delivery(b, defaults),
    };
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(blockList.variable)) throw new SinksConfigError(`${b.path}.variable: must be an nginx variable name without "$"`);
    b.done();
  }
  top.done();

  const names = [...(log ? ['log'] : []), ...webhooks.map((w) => w.name), ...(alertmanager ? ['alertmanager'] : []), ...(kafka ? ['kafka'] : []), ...(blockList ? ['blocklist'] : [])];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new SinksConfigError(`sinks: two sinks are named "${dup}"; give webhooks distinct names`);

  return deepFreeze({ queueCapacity, retry, drainTimeoutMs, ...(muteReloadMs !== undefined ? { muteReloadMs } : {}), webUrl, log, webhooks, alertmanager, kafka, blockList });
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !(v instanceof Secret) && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

import { DEFAULT_MUTE_RELOAD_MS } from '../../alerting/sinksConfig.ts';
import { ConfigError, loadConfig, type ConfigFlags, type TilewatchConfig } from '../config.ts';
import { EXIT } from '../exitCodes.ts';

const REDACTED = '[redacted]';

/**
 * `tilewatch check-config [--config F] [flags]`: validates the file against schemas/config.schema.json
 * and the semantic checks of loadConfig (CIDRs, patterns, secrets present in the environment), then
 * prints the effective configuration as JSON — defaults filled, flags applied, secrets `[redacted]` —
 * and exits 0; or prints every problem, one per line, and exits 2. Opens nothing.
 */
export function runCheckConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): number {
  let config: TilewatchConfig;
  try {
    config = loadConfig(flags, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) process.stderr.write(`tilewatch: ${p}\n`);
    return EXIT.USAGE;
  }
  process.stdout.write(`${JSON.stringify(effectiveConfig(config), null, 2)}\n`);
  return EXIT.OK;
}

/** The configuration as JSON can show it: compiled patterns as their source, secrets redacted, implicit defaults filled. */
export function effectiveConfig(c: TilewatchConfig): unknown {
  const store =
    c.store.kind === 'server'
      ? { ...c.store, url: redactUrl(c.store.url), ...(c.store.password !== undefined ? { password: REDACTED } : {}) }
      : c.store;
  return {
    store,
    parser: c.parser,
    recognise: {
      ...c.recognise,
      patterns: c.recognise.patterns.map((p) => ({ name: p.name, pattern: p.re.source, flags: p.re.flags, protocol: p.protocol, kind: p.kind })),
    },
    detector: c.detector,
    allowlist: c.allowlist,
    catalog: c.catalog,
    hunts: c.hunts,
    // Secret values serialise themselves as "[redacted]".
    sinks: { ...c.sinks, muteReloadMs: c.sinks.muteReloadMs ?? DEFAULT_MUTE_RELOAD_MS },
    limits: c.limits,
  };
}

/** A URL with any user name and password replaced. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = 'redacted';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

import pino, { type Logger } from 'pino';
import { clusterOf, migrate } from '../../store/migrate.ts';
import { openStore, type Store } from '../../store/openStore.ts';
import { syncAsnData } from '../../network/asnStore.ts';
import { loadConfig, type ConfigFlags, type TilewatchConfig } from '../config.ts';

export interface CommonFlags extends ConfigFlags {
  readonly logLevel?: string;
}

/** Logger on stderr (stdout carries results), one child per component. */
export function createLogger(level = 'warn'): Logger {
  return pino({ level, base: { service: 'tilewatch' } }, pino.destination(2));
}

/**
 * Config + logger + migrated store (with the ASN data for SQL, services/network/asnStore.ts): what every store-backed command starts with. `preflight` checks
 * what can be checked before the store is opened (inputs, formats), so a run that cannot start
 * creates no data directory.
 */
export async function openContext(
  flags: CommonFlags,
  preflight?: (config: TilewatchConfig) => void | Promise<void>,
  opts: { readonly syncAsn?: boolean } = {},
): Promise<{ config: TilewatchConfig; logger: Logger; store: Store }> {
  const config = loadConfig(flags, process.env);
  await preflight?.(config);
  const logger = createLogger(flags.logLevel);
  const store = await openStore(config.store);
  try {
    const result = await migrate(store.client, undefined, { cluster: clusterOf(store) });
    if (result.applied.length > 0) logger.child({ component: 'store' }).info({ applied: result.applied }, 'migrations applied');
    // The ASN data for SQL (asn_prefixes, the asn_lookup dictionary): rewritten only when it changed.
    if (opts.syncAsn !== false) await syncAsnInto(store, config, logger);
  } catch (err) {
    await store.close();
    throw err;
  }
  return { config, logger, store };
}

/**
 * The ASN data for SQL (asn_prefixes, the asn_lookup dictionary), rewritten only when it changed. A
 * command reading its standard input syncs after it has read it all: the embedded engine takes data
 * waiting on stdin for the body of an INSERT (services/cli/detachStdin.ts) and refuses the insert.
 */
export async function syncAsnInto(store: Store, config: TilewatchConfig, logger: Logger): Promise<void> {
  const asn = await syncAsnData(store, config.network, undefined, clusterOf(store));
  if (asn.loaded) logger.child({ component: 'store' }).info({ version: asn.version, prefixes: asn.prefixes, ms: Math.round(asn.ms) }, 'ASN data loaded into the store');
}

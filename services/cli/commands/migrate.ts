import { clusterOf, migrate } from '../../store/migrate.ts';
import { openStore } from '../../store/openStore.ts';
import { syncAsnData } from '../../network/asnStore.ts';
import { loadConfig } from '../config.ts';
import { EXIT } from '../exitCodes.ts';
import type { CommonFlags } from './context.ts';

export async function runMigrate(flags: CommonFlags): Promise<number> {
  const config = loadConfig(flags, process.env);
  const store = await openStore(config.store);
  try {
    const r = await migrate(store.client, undefined, { cluster: clusterOf(store) });
    process.stdout.write(
      r.applied.length > 0
        ? `applied ${r.applied.length} migration(s) to ${store.description}: ${r.applied.join(', ')}\n`
        : `${store.description} is up to date (${r.alreadyApplied} migrations)\n`,
    );
    const asn = await syncAsnData(store, config.network, undefined, clusterOf(store));
    if (asn.loaded) process.stderr.write(`ASN data ${asn.version || 'none'}: ${asn.prefixes} prefixes in ${Math.round(asn.ms)} ms\n`);
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

import { clusterOf, migrate } from '../../store/migrate.ts';
import { openStore } from '../../store/openStore.ts';
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
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

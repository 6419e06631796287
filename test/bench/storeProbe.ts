/**
 * Bench child: storage figures of an existing chDB directory (after a replay): active parts, projection parts
 * and top columns per table, as left and after OPTIMIZE … FINAL.
 *
 *   node --import tsx test/bench/storeProbe.ts --data DIR --tables a,b,c [--optimize a,b]
 */
import { resolve } from 'node:path';
import { argValue, emit, openChdb, optimizeFinal, requireArg, tableStorage } from './shared.ts';

const args = process.argv.slice(2);
const dataDir = resolve(requireArg(args, '--data'));
const tables = requireArg(args, '--tables').split(',').filter(Boolean);
const toOptimize = (argValue(args, '--optimize') ?? '').split(',').filter(Boolean);
const { client } = await openChdb(dataDir);
const asLeft = await tableStorage(client, tables);
let optimized = null;
let optimizeMs = 0;
if (toOptimize.length > 0) {
  optimizeMs = await optimizeFinal(client, toOptimize);
  optimized = await tableStorage(client, tables);
}
await client.close();
emit({ asLeft, optimized, optimizeMs });

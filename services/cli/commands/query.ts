import { UsageError, EXIT } from '../exitCodes.ts';
import { openContext, type CommonFlags } from './context.ts';
import { formatTable } from '../formatTable.ts';
import { runSandboxed } from '../querySandbox.ts';

interface QueryFlags extends CommonFlags {
  readonly output?: 'table' | 'json';
  readonly param?: readonly string[];
}

/**
 * Runs one read-only statement in the sandbox of querySandbox.ts: the engine parses it, its parse
 * tree is judged (no table functions that reach files, URLs or other hosts, no INTO OUTFILE, no
 * settings changes), and the engine's canonical form of it runs with readonly = 1. A refusal is a
 * usage error (exit 2) naming the clause, never echoing what a refused function would have read.
 */
export async function runQuery(sql: string, flags: QueryFlags): Promise<number> {
  const params: Record<string, string> = {};
  for (const p of flags.param ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param expects name=value, got ${p}`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const { store } = await openContext(flags);
  try {
    const rows = await runSandboxed(store.client, sql, params);
    if (flags.output === 'json') {
      for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    } else {
      process.stdout.write(formatTable(rows));
      process.stdout.write(`${rows.length} row(s)\n`);
    }
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

import { UsageError, EXIT } from '../exitCodes.ts';
import { openContext, type CommonFlags } from './context.ts';
import { formatTable } from '../formatTable.ts';

interface QueryFlags extends CommonFlags {
  readonly output?: 'table' | 'json';
  readonly param?: readonly string[];
}

const READ_ONLY = /^\s*(select|with|show|describe|desc|explain|exists)\b/i;

/**
 * Runs one read-only statement. Two guards: the statement must start with a read verb, and the
 * session runs with readonly = 1 so ClickHouse itself refuses writes and settings changes.
 */
export async function runQuery(sql: string, flags: QueryFlags): Promise<number> {
  const statement = sql.trim().replace(/;\s*$/, '');
  if (!READ_ONLY.test(statement)) throw new UsageError('query runs read-only statements only (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS)');
  if (statement.includes(';')) throw new UsageError('query runs exactly one statement');
  // readonly = 1 does not stop a client-side INTO OUTFILE, so refuse it here.
  if (/\binto\s+outfile\b/i.test(statement)) throw new UsageError('query does not write files (INTO OUTFILE); use --output json and redirect');
  const params: Record<string, string> = {};
  for (const p of flags.param ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param expects name=value, got ${p}`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const { store } = await openContext(flags);
  try {
    const rs = await store.client.query({
      query: statement,
      format: 'JSONEachRow',
      query_params: params,
      clickhouse_settings: { readonly: '1' },
    });
    const rows = await rs.json<Record<string, unknown>>();
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

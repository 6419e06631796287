import type { ClickHouseClient } from '@clickhouse/client';
import { readAstDump, type AstNode } from './astDump.ts';
import { UsageError } from './exitCodes.ts';

/**
 * The sandbox of `tilewatch query`: which statements it runs, decided on the engine's own parse.
 *
 * Two layers, both in the engine, the same on chDB and on a server:
 * 1. Every call runs with `readonly = 1`. ClickHouse then refuses writes, settings changes and every
 *    table function not marked `allow_readonly` (file, url, s3, remote, mysql, …) wherever it sits in
 *    a SELECT: subqueries, CTEs, UNION, JOIN, IN, view().
 * 2. readonly leaves gaps, measured on chDB 26.7: DESCRIBE of a table function runs it (schema
 *    inference reads the file or fetches the URL), INTO OUTFILE is written by the embedded client,
 *    the scalar `file()` reads any path, and readonly-allowed `cluster()` reaches other hosts. So
 *    the statement is parsed by the engine (`formatQuerySingleLine` on a bound parameter, then
 *    `EXPLAIN AST` of that single canonical statement) and the tree is judged here: allowed
 *    statement kinds only, table functions from a local allow-list only, no file- or host-reaching
 *    functions anywhere, no INTO OUTFILE, no FORMAT, no SETTINGS. The canonical statement, the one
 *    judged, is what then runs.
 */

/** Every sandboxed call runs with these settings. */
export const READ_ONLY = Object.freeze({ readonly: '1' as const });

/**
 * Table functions that only read this store's own tables or generate rows. A table function runs
 * only if it is here and the engine also allows it in readonly mode.
 */
const LOCAL_TABLE_FUNCTIONS = new Set([
  'numbers',
  'numbers_mt',
  'zeros',
  'zeros_mt',
  'generate_series',
  'generateseries',
  'primes',
  'values',
  'sqlstandardvalues', // the engine's rewrite of FROM (VALUES (…), (…))
  'null',
  'generaterandom',
  'merge',
  'view',
  'viewifpermitted',
  'mergetreeindex',
]);

/**
 * Scalar functions that read files or reach other hosts or services: `file()` reads any path on
 * chDB (a server confines it to user_files), `catboostEvaluate` loads a model file by path,
 * `hasColumnInTable` has a remote-host form on older servers, `generateSerialID` writes to Keeper.
 */
const REACHING_FUNCTIONS = new Set(['file', 'catboostevaluate', 'hascolumnintable', 'generateserialid']);
/** The engine's LLM functions (aiGenerate, aiEmbed, …) call a configured provider over the network. */
const AI_FUNCTION = /^ai[A-Z]/;

/** Statements that read: the root kinds `EXPLAIN AST` prints for SELECT/WITH, DESCRIBE, EXPLAIN, SHOW …, EXISTS …. */
function isReadStatement(kind: string): boolean {
  return kind === 'SelectWithUnionQuery' || kind === 'DescribeQuery' || kind === 'Explain' || /^Show[A-Z]/.test(kind) || /^Exists[A-Z]/.test(kind);
}

/** What the engine says about its functions, read from its system tables for each query. */
export interface FunctionCatalog {
  /** Every table function the engine has (lower-case name), whether this sandbox allows it, and whether a scalar function has the same name. */
  readonly tableFunctions: ReadonlyMap<string, { readonly allowed: boolean; readonly alsoScalar: boolean }>;
  /** SQL and executable user-defined functions (lower-case): their bodies are not in the statement's tree. */
  readonly userDefined: ReadonlySet<string>;
}

export type Verdict = { readonly kind: 'allowed' } | { readonly kind: 'refused'; readonly reason: string };

const STATEMENTS = 'query runs read-only statements only (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS)';
const SETTINGS = 'query cannot change settings (SET, SETTINGS): it runs with readonly = 1';

/** Judges a statement's tree (from {@link readAstDump}). Pure. */
export function judgeStatement(root: AstNode, catalog: FunctionCatalog): Verdict {
  if (root.kind === 'Set') return refused(SETTINGS);
  if (!isReadStatement(root.kind)) return refused(STATEMENTS);
  return judgeNode(root, undefined, catalog);
}

function judgeNode(node: AstNode, parent: AstNode | undefined, catalog: FunctionCatalog): Verdict {
  if (isReadStatement(node.kind)) {
    for (const child of node.children) {
      // A statement's own output options print as its direct children: INTO OUTFILE (and its
      // COMPRESSION) as literals, FORMAT as an identifier (SHOW and EXISTS name tables that way).
      if (child.kind === 'Literal') return refused('query does not write files (INTO OUTFILE); use --output json and redirect');
      const namesOnly = /^(Show|Exists)/.test(node.kind);
      if (child.kind === 'Identifier' && !namesOnly) return refused('query chooses the output format itself (FORMAT); use --output table or json');
      if (node.kind === 'Explain' && !['Set', 'Function', 'TableOverride'].includes(child.kind) && !isReadStatement(child.kind)) {
        return refused(`${STATEMENTS}, also under EXPLAIN`);
      }
    }
  }
  // EXPLAIN's own options (`EXPLAIN PLAN header = 1`) are a Set under Explain; any other Set is a SETTINGS clause.
  if (node.kind === 'Set' && parent?.kind !== 'Explain') return refused(SETTINGS);
  if (node.kind === 'Function') {
    const verdict = judgeFunction(node.detail.split(' ')[0] ?? '', parent, catalog);
    if (verdict.kind === 'refused') return verdict;
  }
  for (const child of node.children) {
    const verdict = judgeNode(child, node, catalog);
    if (verdict.kind === 'refused') return verdict;
  }
  return { kind: 'allowed' };
}

function judgeFunction(name: string, parent: AstNode | undefined, catalog: FunctionCatalog): Verdict {
  const lower = name.toLowerCase();
  if (REACHING_FUNCTIONS.has(lower) || AI_FUNCTION.test(name)) return refused(`query refuses ${name}(): it reads files or reaches other hosts`);
  if (catalog.userDefined.has(lower)) return refused(`query refuses the user-defined function ${name}(): its body cannot be checked`);
  // FROM f(…), and EXPLAIN TABLE OVERRIDE f(…), hold a table function directly.
  const tablePosition = parent?.kind === 'TableExpression' || parent?.kind === 'Explain';
  const table = catalog.tableFunctions.get(lower);
  // Table functions also appear as arguments (viewIfPermitted(… ELSE url(…))): outside table
  // position a name counts as a table function unless a scalar function has the same name (format).
  if ((tablePosition && table?.allowed !== true) || (table !== undefined && !table.allowed && !table.alsoScalar)) {
    return refused(`query refuses the table function ${name}(): only local ones (numbers, values, merge, view, …) are allowed, not ones that read files, URLs or other hosts`);
  }
  return { kind: 'allowed' };
}

function refused(reason: string): Verdict {
  return { kind: 'refused', reason };
}

/**
 * Parses `sql` with the engine and judges it. Returns the canonical statement (the engine's own
 * formatting of the one it parsed) to run in place of `sql`; throws {@link UsageError} when the
 * statement is refused or is not one statement. The parameters bind `{name:Type}` placeholders,
 * which `EXPLAIN AST` substitutes before printing.
 */
export async function sandboxStatement(client: ClickHouseClient, sql: string, params: Readonly<Record<string, string>>): Promise<string> {
  const statement = await canonicalStatement(client, sql);
  const dump = await explainAst(client, statement, params);
  const reading = readAstDump(dump);
  if (reading.kind === 'ambiguous') {
    throw new UsageError(`query could not check this statement (the engine's parse tree has ${reading.reason}); avoid line breaks in identifiers and aliases`);
  }
  const verdict = judgeStatement(reading.root, await readCatalog(client));
  if (verdict.kind === 'refused') throw new UsageError(verdict.reason);
  return statement;
}

/**
 * The engine's single-line formatting of the statement, passed as a bound parameter: it is parsed,
 * never run. A multi-statement text or a syntax error is a usage error, with the engine's message.
 */
async function canonicalStatement(client: ClickHouseClient, sql: string): Promise<string> {
  try {
    const rs = await client.query({
      query: 'SELECT formatQuerySingleLine({statement:String}) AS statement',
      format: 'JSONEachRow',
      query_params: { statement: sql },
      clickhouse_settings: READ_ONLY,
    });
    const [row] = await rs.json<{ statement: string }>();
    if (row === undefined) throw new Error('formatQuerySingleLine returned no row');
    return row.statement;
  } catch (err) {
    if (isClickHouseError(err, SYNTAX_ERROR)) {
      // The engine quotes the statement back, then names our wrapper ("In scope SELECT formatQuery…").
      const message = (err as Error).message.replace(/:? In scope SELECT formatQuerySingleLine[\s\S]*$/, '');
      throw new UsageError(`query runs exactly one statement that ClickHouse can parse: ${message}`);
    }
    throw err;
  }
}

/**
 * `EXPLAIN AST` of the canonical statement. Safe to splice: it is the engine's formatting of one
 * parsed statement (no comments, balanced, one statement), and EXPLAIN AST parses its whole operand
 * as a full query, so any INTO OUTFILE / FORMAT / SETTINGS in it belong to the explained statement
 * and are printed, not applied to this call (SETTINGS are still applied by the engine when it
 * explains, which readonly refuses). `exec` sends the text as is, so no FORMAT is appended to it.
 */
async function explainAst(client: ClickHouseClient, statement: string, params: Readonly<Record<string, string>>): Promise<string> {
  try {
    const result = await client.exec({
      query: `EXPLAIN AST ${statement}`,
      query_params: { ...params },
      clickhouse_settings: { ...READ_ONLY, default_format: 'TabSeparatedRaw' },
    });
    return await readText(result.stream);
  } catch (err) {
    if (isClickHouseError(err, READONLY_ERROR)) throw new UsageError(SETTINGS);
    throw err;
  }
}

/**
 * Judges `sql` ({@link sandboxStatement}) and runs its canonical form with readonly = 1, returning
 * the rows. `exec`, not `query`: `query` appends `FORMAT …`, which EXPLAIN AST would take as its
 * operand's; the format is asked for as the default instead.
 */
export async function runSandboxed(
  client: ClickHouseClient,
  sql: string,
  params: Readonly<Record<string, string>>,
): Promise<Array<Record<string, unknown>>> {
  const statement = await sandboxStatement(client, sql, params);
  const result = await client.exec({
    query: statement,
    query_params: { ...params },
    clickhouse_settings: { ...READ_ONLY, default_format: 'JSONEachRow' },
  });
  return (await readText(result.stream))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        row = undefined;
      }
      // Anything but one JSON object per line means the statement chose its own FORMAT.
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        throw new UsageError('query prints rows as JSON itself; leave out FORMAT and use --output table or json');
      }
      return row as Record<string, unknown>;
    });
}

/** The engine's table functions and user-defined functions, lower-cased. */
async function readCatalog(client: ClickHouseClient): Promise<FunctionCatalog> {
  const tables = await client.query({
    query:
      'SELECT lower(name) AS name, allow_readonly, lower(name) IN (SELECT lower(name) FROM system.functions) AS scalar FROM system.table_functions',
    format: 'JSONEachRow',
    clickhouse_settings: READ_ONLY,
  });
  const udfs = await client.query({
    query: "SELECT DISTINCT lower(name) AS name FROM system.functions WHERE origin != 'System'",
    format: 'JSONEachRow',
    clickhouse_settings: READ_ONLY,
  });
  const tableFunctions = new Map<string, { allowed: boolean; alsoScalar: boolean }>();
  for (const t of await tables.json<{ name: string; allow_readonly: number; scalar: number }>()) {
    const allowed = LOCAL_TABLE_FUNCTIONS.has(t.name) && Number(t.allow_readonly) === 1;
    // Two spellings can lower-case alike: the name is allowed only if every spelling is.
    const seen = tableFunctions.get(t.name);
    tableFunctions.set(t.name, { allowed: allowed && (seen?.allowed ?? true), alsoScalar: Number(t.scalar) === 1 });
  }
  const userDefined = new Set((await udfs.json<{ name: string }>()).map((u) => u.name));
  return { tableFunctions, userDefined };
}

async function readText(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

const SYNTAX_ERROR = { code: '62', type: 'SYNTAX_ERROR' };
const READONLY_ERROR = { code: '164', type: 'READONLY' };

/**
 * Whether `err` is this ClickHouse error, from @clickhouse/client's error shape. By code first: the
 * client reads the type from the message's last parenthesis, which a syntax error's quoted text can
 * take (`(ORDER)`).
 */
function isClickHouseError(err: unknown, which: { code: string; type: string }): boolean {
  const e = err as { code?: unknown; type?: unknown } | null;
  return e?.code === which.code || e?.type === which.type;
}

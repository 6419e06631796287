/**
 * The sandbox of `tilewatch query` (services/cli/querySandbox.ts) against chDB: the attacks of issue
 * 12 and their obfuscated forms are refused before anything runs and leave no trace (no file
 * written, no request on a loopback listener, no secret in any output); legitimate statements run.
 *
 * Most cases call the sandbox in this process on a store of its own (a CLI run costs seconds); the
 * issue's attacks also run through the real CLI, which adds the exit code and the printed streams.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAstDump } from '../../services/cli/astDump.ts';
import { EXIT, UsageError } from '../../services/cli/exitCodes.ts';
import { judgeStatement, runSandboxed, sandboxStatement, type FunctionCatalog } from '../../services/cli/querySandbox.ts';
import { migrate } from '../../services/store/migrate.ts';
import { jsonEachRow, openStore, type Store } from '../../services/store/openStore.ts';
import { describeRun, runCli, runCliOk } from '../support/cli.ts';
import { combined, goodRequests } from '../support/logs.ts';

/** A loopback listener that only counts: HTTP requests (method and path) and raw TCP connections. */
interface Listeners {
  readonly url: string;
  readonly hostPort: string;
  readonly hits: string[];
  close(): Promise<void>;
}

async function startListeners(): Promise<Listeners> {
  const hits: string[] = [];
  const http: HttpServer = createHttpServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    // A well-formed answer, so that a leak would succeed rather than fail for want of data.
    res.end('a\tb\n1\t2\n');
  });
  const tcp: TcpServer = createTcpServer((socket) => {
    hits.push('tcp connection');
    socket.destroy();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    hostPort: `127.0.0.1:${(tcp.address() as AddressInfo).port}`,
    hits,
    close: async () => {
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

describe('tilewatch query sandbox', () => {
  let dir = '';
  let secretFile = '';
  let secret = '';
  let outDir = '';
  let net: Listeners;
  let store: Store;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tilewatch-sandbox-'));
    // A file only the attacks name; its content must never show up anywhere.
    secret = `tilewatch-secret-${randomBytes(8).toString('hex')}`;
    secretFile = join(dir, 'secret.tsv');
    writeFileSync(secretFile, `${secret}\tcol2\n${secret}-row\tx\n`);
    // Exists, so that an INTO OUTFILE that got through would leave its file here.
    outDir = join(dir, 'out');
    mkdirSync(outDir);
    net = await startListeners();
    store = await openStore({ kind: 'embedded', dataDir: join(dir, 'inproc') });
    await migrate(store.client);
    await store.insertRaw({ table: 'images', format: 'JSONEachRow', body: jsonEachRow([{ image_id: 'sandbox-img' }]) });
  });
  after(async () => {
    await store.close();
    await net.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `sql` through the sandbox and returns the refusal's message (failing if it was not refused). */
  async function refusal(sql: string, params: Record<string, string> = {}): Promise<string> {
    try {
      const rows = await runSandboxed(store.client, sql, params);
      assert.fail(`not refused: ${sql}\nrows: ${JSON.stringify(rows).slice(0, 300)}`);
    } catch (err) {
      if (!(err instanceof UsageError)) throw new assert.AssertionError({ message: `${sql}: not a usage error: ${String(err)}` });
      return err.message;
    }
  }

  /** No trace of any attack so far: nothing in the outfile directory, no listener hit. */
  function assertNoSideEffects(what: string): void {
    assert.deepEqual(readdirSync(outDir), [], `${what}: a file was written`);
    assert.deepEqual(net.hits, [], `${what}: a loopback listener was reached`);
  }

  test('reading files is refused however it is spelled, and no error carries the file', async () => {
    const F = secretFile;
    const cases: Array<[string, RegExp]> = [
      [`DESCRIBE file('${F}', 'TSVWithNames')`, /file\(\)/],
      [`DESCRIBE file('${F}', 'JSONEachRow')`, /file\(\)/],
      [`desc   TABLE\n\tFILE('${F}','TSVWithNames')`, /FILE\(\)/],
      [`DESCRIBE /* a comment */ file(/* here too */ '${F}', 'TSVWithNames') -- and a tail`, /file\(\)/],
      [`DESCRIBE (SELECT * FROM file('${F}', 'TSVWithNames'))`, /file\(\)/],
      [`SELECT file('${F}') AS f`, /file\(\)/],
      [`SELECT \`file\`('${F}')`, /file\(\)/],
      [`SELECT * FROM file('${F}', 'LineAsString')`, /file\(\)/],
      [`SELECT (SELECT file('${F}')) AS nested`, /file\(\)/],
      [`SELECT throwIf(1, file('${F}'))`, /file\(\)/],
      [`WITH t AS (SELECT * FROM file('${F}', 'LineAsString')) SELECT * FROM t`, /file\(\)/],
      [`WITH (SELECT file('${F}')) AS s SELECT s`, /file\(\)/],
      [`SELECT 1 UNION ALL SELECT length(file('${F}'))`, /file\(\)/],
      [`SELECT count() FROM tile_requests WHERE path IN (SELECT * FROM file('${F}', 'LineAsString'))`, /file\(\)/],
      [`SELECT * FROM images AS i JOIN file('${F}', 'LineAsString') AS f ON 1`, /file\(\)/],
      [`SELECT * FROM view(SELECT * FROM file('${F}', 'LineAsString'))`, /file\(\)/],
      [`SELECT * FROM fileCluster('default', '${F}')`, /table function fileCluster\(\)/],
      [`EXPLAIN SELECT * FROM file('${F}', 'LineAsString')`, /file\(\)/],
      [`EXPLAIN PIPELINE SELECT * FROM (SELECT * FROM file('${F}', 'LineAsString'))`, /file\(\)/],
      [`EXPLAIN AST DESCRIBE file('${F}', 'TSVWithNames')`, /file\(\)/],
      ["DESCRIBE file('/etc/passwd', 'JSONEachRow')", /file\(\)/],
      ["DESCRIBE file('/etc/shadow', 'TSVWithNames')", /file\(\)/],
    ];
    for (const [sql, reason] of cases) {
      const message = await refusal(sql);
      assert.match(message, reason, sql);
      assert.doesNotMatch(message, new RegExp(`${secret}|root:`), `${sql}: the refusal quotes the file`);
    }
    assertNoSideEffects('file reads');
  });

  test('URLs, other hosts and remote services are refused, and the loopback listeners hear nothing', async () => {
    const U = net.url;
    const H = net.hostPort;
    const cases = [
      `DESCRIBE url('${U}/describe', 'TSVWithNames')`,
      `DESCRIBE TABLE URL('${U}/case', TSVWithNames)`,
      `DeScRiBe   url(  '${U}/spaces' , 'CSV' )`,
      `DESCRIBE (SELECT * FROM url('${U}/subquery', 'TSVWithNames'))`,
      `SELECT * FROM url('${U}/select', 'LineAsString')`,
      `SELECT count() FROM tile_requests WHERE path IN (SELECT * FROM url('${U}/in', 'LineAsString'))`,
      `WITH u AS (SELECT * FROM url('${U}/cte', 'LineAsString')) SELECT * FROM u UNION ALL SELECT 'x'`,
      `EXPLAIN ESTIMATE SELECT * FROM url('${U}/explain', 'LineAsString')`,
      `SELECT * FROM viewIfPermitted(SELECT 'a' AS line ELSE url('${U}/else', 'LineAsString'))`,
      `SELECT * FROM urlCluster('default', '${U}/cluster')`,
      // NOSIGN: were it ever run, no credential lookup would leave the machine.
      `DESCRIBE s3('${U}/bucket/k.csv', NOSIGN, 'CSV')`,
      `SELECT * FROM s3('${U}/bucket/k.csv', NOSIGN, 'CSV')`,
      `DESCRIBE remote('${H}', system.one)`,
      `SELECT * FROM remote('${H}', system.one)`,
      `SELECT * FROM remoteSecure('${H}', system.one)`,
      `SELECT * FROM cluster('default', system.one)`,
      `SELECT * FROM clusterAllReplicas('default', system.one)`,
      `DESCRIBE mysql('${H}', 'db', 't', 'u', 'p')`,
      `DESCRIBE postgresql('${H}', 'db', 't', 'u', 'p')`,
      `SELECT * FROM mongodb('${H}', 'db', 'c', 'u', 'p', 'x String')`,
      `SELECT * FROM redis('${H}', 'k', 'k String')`,
      `EXPLAIN TABLE OVERRIDE mysql('${H}', 'db', 't', 'u', 'p') PARTITION BY a`,
      `SELECT * FROM dictionary('anything')`,
      `SELECT * FROM executable('cat', 'TSV', 'x String')`,
      `SELECT * FROM input('x String')`,
      `SELECT * FROM format(TSV, 'secret')`,
      `SELECT * FROM eval('SELECT 1')`,
      `SELECT catboostEvaluate('${secretFile}', 1)`,
    ];
    for (const sql of cases) {
      const message = await refusal(sql);
      assert.match(message, /reads files|reaches other hosts|URLs or other hosts/, sql);
    }
    assertNoSideEffects('urls and hosts');
  });

  test('every table function the engine has is refused unless it is local, in FROM and in DESCRIBE', async () => {
    const rs = await store.client.query({ query: 'SELECT name FROM system.table_functions ORDER BY name', format: 'JSONEachRow' });
    const names = (await rs.json<{ name: string }>()).map((r) => r.name);
    const local = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generate_series', 'generateseries', 'primes', 'values', 'sqlstandardvalues', 'null', 'generaterandom', 'merge', 'view', 'viewifpermitted', 'mergetreeindex']);
    assert.ok(names.length > 50, `the engine lists its table functions (${names.length})`);
    // Judged only, never run: with arguments this rough, some would look for cloud credentials.
    const judged = async (sql: string): Promise<string> => {
      try {
        await sandboxStatement(store.client, sql, {});
        return 'allowed';
      } catch (err) {
        if (err instanceof UsageError) return err.message;
        throw err;
      }
    };
    for (const name of names.filter((n) => !local.has(n.toLowerCase()))) {
      for (const sql of [`SELECT * FROM ${name}('${net.url}/${name}', 'x')`, `DESCRIBE ${name}('${secretFile}', 'x')`]) {
        assert.match(await judged(sql), /table function|reads files/, sql);
      }
    }
    // The engine's LLM functions send text to a provider: refused too.
    const ai = await store.client.query({ query: "SELECT name FROM system.functions WHERE categories = 'AI'", format: 'JSONEachRow' });
    for (const { name } of await ai.json<{ name: string }>()) assert.match(await judged(`SELECT ${name}('x')`), /reaches other hosts/, name);
    assertNoSideEffects('all table functions');
  });

  test('INTO OUTFILE is refused in every statement that takes it, and no file appears', async () => {
    const out = (n: number): string => join(outDir, `o${n}.txt`);
    const cases = [
      `SELECT 'a' AS a INTO/**/OUTFILE '${out(1)}' APPEND`,
      `select 1 into   outfile '${out(2)}' truncate`,
      `SELECT 1 INTO OUTFILE '${out(3)}' AND STDOUT`,
      `SELECT 1 INTO OUTFILE '${out(4)}' COMPRESSION 'gzip' LEVEL 3`,
      `WITH x AS (SELECT 1) SELECT * FROM x UNION ALL SELECT 2 INTO OUTFILE '${out(5)}'`,
      `SHOW TABLES INTO OUTFILE '${out(6)}'`,
      `DESCRIBE tile_requests INTO OUTFILE '${out(7)}'`,
      `EXISTS TABLE tile_requests INTO OUTFILE '${out(8)}'`,
      `EXPLAIN SELECT 1 INTO OUTFILE '${out(9)}'`,
      `EXPLAIN AST SELECT 1 INTO OUTFILE '${out(10)}'`,
    ];
    for (const sql of cases) assert.match(await refusal(sql), /INTO OUTFILE/, sql);
    assertNoSideEffects('outfiles');
  });

  test('settings cannot be changed: SETTINGS anywhere, SET, even to the current value', async () => {
    const cases = [
      'SELECT 1 SETTINGS readonly = 0',
      'SELECT count() FROM tile_requests SETTINGS max_threads = 1',
      `SELECT 1 SETTINGS max_threads = ${await currentMaxThreads()}`,
      'SELECT * FROM (SELECT 1 SETTINGS max_threads = 1)',
      'EXPLAIN SELECT 1 SETTINGS max_threads = 1',
      'DESCRIBE tile_requests SETTINGS describe_compact_output = 1',
      'SET readonly = 0',
      '  set max_memory_usage=1',
    ];
    for (const sql of cases) assert.match(await refusal(sql), /cannot change settings/, sql);
  });

  test('only read statements run; one at a time', async () => {
    const cases: Array<[string, RegExp]> = [
      ["INSERT INTO images (image_id) VALUES ('x')", /read-only statements only/],
      ["INSERT INTO FUNCTION file('x.tsv') SELECT 1", /read-only statements only/],
      ['DROP TABLE tile_requests', /read-only statements only/],
      ['/* looks like */ ALTER TABLE tile_requests DELETE WHERE 1', /read-only statements only/],
      ["CREATE TABLE leak ENGINE = File(TSV, 'x.tsv') AS SELECT 1", /read-only statements only/],
      ['SYSTEM FLUSH LOGS', /read-only statements only/],
      ['USE system', /read-only statements only/],
      ['OPTIMIZE TABLE tile_requests', /read-only statements only/],
      ['EXPLAIN AST DROP TABLE tile_requests', /read-only statements only/],
      ['SELECT 1; DROP TABLE tile_requests', /exactly one statement/],
      ['SELECT 1;SELECT 2;', /exactly one statement/],
      ['SELECT 1 FORMAT CSV', /FORMAT/],
    ];
    for (const [sql, reason] of cases) assert.match(await refusal(sql), reason, sql);
    const images = await runSandboxed(store.client, 'SELECT image_id FROM images', {});
    assert.deepEqual(images, [{ image_id: 'sandbox-img' }], 'the data is untouched');
  });

  test('legitimate statements run, whatever words their strings and names contain', async () => {
    const run = (sql: string, params: Record<string, string> = {}) => runSandboxed(store.client, sql, params);
    assert.deepEqual(await run("SELECT 'INTO OUTFILE x' AS s, 'file(\\'/etc/passwd\\')' AS f, 1 AS `url`"), [
      { s: 'INTO OUTFILE x', f: "file('/etc/passwd')", url: 1 },
    ]);
    assert.deepEqual(await run('/* hello */ select count() AS n from tile_requests -- tail'), [{ n: 0 }]);
    assert.deepEqual(await run('SELECT {id:String} AS id, {n:UInt8} + 1 AS n', { id: "it's", n: '2' }), [{ id: "it's", n: 3 }]);
    assert.deepEqual(await run('SELECT count() AS n FROM {t:Identifier}', { t: 'images' }), [{ n: 1 }]);
    assert.deepEqual(await run("SELECT getSetting('readonly') AS ro"), [{ ro: 1 }]);
    assert.deepEqual(await run("SELECT format('{}-{}', 'a', 'b') AS s"), [{ s: 'a-b' }]);
    assert.deepEqual(await run("SELECT number FROM (SELECT number FROM numbers(2) UNION ALL SELECT x FROM values('x UInt64', 7)) ORDER BY number"), [
      { number: 0 },
      { number: 1 },
      { number: 7 },
    ]);
    assert.deepEqual(await run('WITH c AS (SELECT image_id FROM images) SELECT count() AS n FROM c JOIN images USING image_id WHERE image_id IN (SELECT image_id FROM view(SELECT image_id FROM images))'), [{ n: 1 }]);
    assert.deepEqual(await run("SELECT count() AS n FROM merge(currentDatabase(), '^images$')"), [{ n: 1 }]);
    assert.ok((await run('SHOW TABLES')).some((r) => r.name === 'tile_requests'));
    assert.ok((await run('DESCRIBE tile_requests')).some((r) => r.name === 'client'));
    assert.deepEqual(await run('DESCRIBE (SELECT 1 AS one)'), [{ name: 'one', type: 'UInt8', default_type: '', default_expression: '', comment: '', codec_expression: '', ttl_expression: '' }]);
    assert.deepEqual(await run('EXISTS TABLE tile_requests'), [{ result: 1 }]);
    assert.ok((await run('EXPLAIN SELECT count() FROM tile_requests')).length > 0);
    assert.ok((await run('EXPLAIN PLAN header = 1 SELECT 1')).length > 0);
    assert.equal((await run('EXPLAIN AST SELECT 1'))[0]?.explain, 'SelectWithUnionQuery (children 1)');
    // System tables are readable (documented in the README).
    assert.ok((await run('SELECT name FROM system.tables WHERE database = currentDatabase()')).length > 0);
  });

  test('the engine itself refuses table functions in SELECT and settings changes under readonly = 1', async () => {
    // The layer under the parse check: a plain readonly query, no sandbox.
    const raw = (query: string) =>
      store.client.query({ query, format: 'JSONEachRow', clickhouse_settings: { readonly: '1' } }).then((r) => r.json());
    for (const sql of [
      `SELECT * FROM file('${secretFile}', 'LineAsString')`,
      `SELECT * FROM url('${net.url}/engine', 'LineAsString')`,
      `SELECT count() FROM images WHERE image_id IN (SELECT * FROM url('${net.url}/engine-in', 'LineAsString'))`,
      `SELECT * FROM view(SELECT * FROM file('${secretFile}', 'LineAsString'))`,
      `SELECT * FROM remote('${net.hostPort}', system.one)`,
      'SELECT 1 SETTINGS readonly = 0',
      'SELECT 1 SETTINGS max_threads = 1',
    ]) {
      await assert.rejects(raw(sql), /readonly mode/, sql);
    }
    assertNoSideEffects('engine layer');
  });

  test("the engine's parse tree is read back strictly: forged lines make it ambiguous, never a different tree", async () => {
    const tree = readAstDump('SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  Literal UInt64_1\n');
    assert.equal(tree.kind, 'tree');
    // An alias with a line break prints a forged line: it breaks a count, a depth or the single root.
    for (const dump of [
      'SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  Literal UInt64_1 (alias a\n  Literal b)\n',
      'SelectWithUnionQuery (children 2)\n ExpressionList (children 1)\n  Literal UInt64_1 (alias a\nExplain x)\n Literal \'out\'\n',
      'SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n    Literal UInt64_1\n',
      'SelectWithUnionQuery (children 1)\n\n ExpressionList\n',
    ]) {
      assert.equal(readAstDump(dump).kind, 'ambiguous', dump);
    }
    // Through the engine: an alias that would forge a TableExpression line is refused, not trusted.
    assert.match(await refusal('SELECT 1 AS `a\n   TableExpression (children 1)`'), /could not check/);
    // A user-defined function's body is not in the tree, so calling one is refused.
    const catalog: FunctionCatalog = { tableFunctions: new Map(), userDefined: new Set(['leak']) };
    const udf = readAstDump('SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  Function leak (children 1)\n   ExpressionList\n');
    assert.ok(udf.kind === 'tree');
    assert.deepEqual(judgeStatement(udf.root, catalog), { kind: 'refused', reason: 'query refuses the user-defined function leak(): its body cannot be checked' });
  });

  describe('through the CLI', () => {
    let data = '';
    before(async () => {
      data = join(dir, 'cli-data');
      const log = join(dir, 'access.log');
      writeFileSync(log, goodRequests(3, { imageId: 'cli-img', ipBase: 1 }).map((q) => `${combined(q)}\n`).join(''));
      await runCliOk(['replay', log, '--data', data, '--quiet']);
    });
    const q = (sql: string, ...extra: string[]) => runCli(['query', sql, '--data', data, ...extra]);

    test("the issue's attacks exit 2 with a clear message and leave no trace", async () => {
      const target = join(outDir, 'x.txt');
      const cases: Array<[string, RegExp]> = [
        ["DESCRIBE file('/etc/shadow','TSVWithNames')", /refuses file\(\)/],
        ["DESCRIBE file('/etc/passwd','JSONEachRow')", /refuses file\(\)/],
        [`DESCRIBE file('${secretFile}','TSVWithNames')`, /refuses file\(\)/],
        [`DESCRIBE url('${net.url}/x','TSVWithNames')`, /refuses the table function url\(\)/],
        [`SELECT 'a' AS a INTO/**/OUTFILE '${target}' APPEND`, /does not write files \(INTO OUTFILE\)/],
        [`SELECT file('${secretFile}')`, /refuses file\(\)/],
      ];
      for (const [sql, message] of cases) {
        const r = await q(sql);
        assert.equal(r.code, EXIT.USAGE, `${sql}: ${describeRun(r)}`);
        assert.match(r.stderr, message, sql);
        assert.equal(r.stdout, '', sql);
        assert.doesNotMatch(r.stderr, new RegExp(`${secret}|root:|Nullable`), `${sql}: output carries file contents`);
      }
      assertNoSideEffects('CLI attacks');
      assert.equal(existsSync(join(process.cwd(), 'x.txt')), false);
    });

    test('the README examples, SHOW TABLES, DESCRIBE and parameters still work', async () => {
      const top = await q('SELECT client, count() FROM tile_requests GROUP BY client ORDER BY 2 DESC LIMIT 10');
      assert.equal(top.code, 0, describeRun(top));
      assert.match(top.stdout, /^client +count\(\)\n/);
      assert.match(top.stdout, /3 row\(s\)\n$/);
      const byIp = await q('SELECT * FROM tile_requests WHERE client = toIPv6({ip:String}) ORDER BY ts LIMIT 100', '--param', 'ip=::ffff:198.51.100.1', '--output', 'json');
      assert.equal(byIp.code, 0, describeRun(byIp));
      assert.equal(byIp.stdout.trim().split('\n').length, 1);
      assert.equal((JSON.parse(byIp.stdout) as { image_id: string }).image_id, 'cli-img');
      const tables = await q('SHOW TABLES', '--output', 'json');
      assert.match(tables.stdout, /{"name":"tile_requests"}/, describeRun(tables));
      const columns = await q('DESCRIBE tile_requests', '--output', 'json');
      assert.match(columns.stdout, /{"name":"client","type":"IPv6"/, describeRun(columns));
    });
  });

  async function currentMaxThreads(): Promise<string> {
    const rs = await store.client.query({ query: "SELECT getSetting('max_threads') AS v", format: 'JSONEachRow' });
    const [row] = await rs.json<{ v: string | number }>();
    return String(row?.v);
  }
});


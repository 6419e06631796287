/**
 * One process per embedded data directory: while another process holds it, the CLI must fail fast
 * with the documented "store unavailable" exit code and say what to do.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXIT } from '../../services/cli/exitCodes.ts';
import { childEnv, describeRun, REPO_ROOT, runCli, tempDir } from '../support/cli.ts';
import { sqlOne } from '../support/store.ts';
import { freePort } from '../support/kafka.ts';

const OPEN_STORE_URL = pathToFileURL(join(REPO_ROOT, 'services/store/openStore.ts')).href;
const MIGRATE_URL = pathToFileURL(join(REPO_ROOT, 'services/store/migrate.ts')).href;

/**
 * Starts `node -e` that opens `dataDir` with openStore, migrates, writes one marker row, prints READY
 * and holds the directory until its stdin closes. Resolves once it is holding the directory.
 */
async function holdStore(t: TestContext, dataDir: string): Promise<ChildProcessWithoutNullStreams> {
  const code = `
    const { openStore } = await import(${JSON.stringify(OPEN_STORE_URL)});
    const { migrate } = await import(${JSON.stringify(MIGRATE_URL)});
    const store = await openStore({ kind: 'embedded', dataDir: ${JSON.stringify(dataDir)} });
    await migrate(store.client);
    await store.client.command({ query: "INSERT INTO dead_letters (received_at, source, partition, line, reason, raw) VALUES (now64(3), 'holder', -1, 1, 'marker', 'held')" });
    process.stdout.write('READY\\n');
    process.stdin.resume();
    process.stdin.on('end', async () => { await store.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO_ROOT,
    env: childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`holder not ready after 30 s; stderr:\n${err}`)), 30_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('READY\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`holder exited early (${c}); stderr:\n${err}`));
    });
  });
  return child;
}

async function release(child: ChildProcessWithoutNullStreams): Promise<void> {
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  child.stdin.end();
  assert.equal(await exited, 0, 'holder closed its store and exited cleanly');
}

test(
  'CLI on a data dir held by another process: exit 3 with a message naming another process and --clickhouse-url',
  async (t) => {
    const data = join(tempDir(t, 'lock'), 'data');
    const holder = await holdStore(t, data);
    const r = await runCli(['query', 'SELECT 1', '--data', data], { timeoutMs: 30_000 });
    await release(holder);
    assert.equal(r.code, EXIT.STORE, describeRun(r));
    assert.match(r.stderr, /in use by another tilewatch process/);
    assert.match(r.stderr, /--clickhouse-url/);
  },
);

test('a ClickHouse server that does not answer: exit 3 (store unavailable), naming the server without credentials', async () => {
  // A port nothing listens on: bind one, close it, use it.
  const port = await freePort();
  const r = await runCli(['query', 'SELECT 1', '--clickhouse-url', `http://user:secret@127.0.0.1:${port}/`], { timeoutMs: 30_000 });
  assert.equal(r.code, EXIT.STORE, describeRun(r));
  assert.match(r.stderr, /Cannot reach ClickHouse at http:\/\/.*127\.0\.0\.1/);
  assert.doesNotMatch(r.stderr, /secret/, 'the password is not printed');
});

test('chDB really locks a data dir across processes: a second process fails fast, nothing is lost, the dir is usable after', async (t) => {
  const data = join(tempDir(t, 'lock-real'), 'data');
  const holder = await holdStore(t, data);
  const [query, migrateRun] = await Promise.all([
    runCli(['query', 'SELECT 1', '--data', data], { timeoutMs: 30_000 }),
    runCli(['migrate', '--data', data], { timeoutMs: 30_000 }),
  ]);
  await release(holder);
  for (const r of [query, migrateRun]) {
    // Documents today's behaviour: refused (not hung, not silently shared), with chDB's lock message.
    assert.notEqual(r.code, EXIT.OK, describeRun(r));
    assert.equal(r.signal, null, 'exited on its own, not killed by the timeout');
    assert.match(r.stderr, /Cannot lock file .*status\. Another server instance in same directory is already running/, describeRun(r));
    assert.equal(r.stdout, '');
  }
  // Once released, the directory opens and the holder's write is there.
  const row = await sqlOne<{ raw: string; n: number }>(data, "SELECT any(raw) AS raw, toUInt32(count()) AS n FROM dead_letters WHERE source = 'holder'");
  assert.deepEqual(row, { raw: 'held', n: 1 });
  const after = await runCli(['query', 'SELECT 1 AS one', '--data', data, '--output', 'json']);
  assert.equal(after.code, EXIT.OK, describeRun(after));
  assert.equal(after.stdout, '{"one":1}\n');
});

/**
 * `npm run bench:hostile` — a generated log of 1,000,000 lines mixing valid lines, out-of-range values
 * (dates in 0001…9999, absurd statuses and sizes), cut and corrupted lines, garbage and blanks
 * (test/support/fuzzLines.ts, fixed seed), through `tilewatch replay` and then, as the same lines, through
 * `tilewatch ingest` from librdkafka's mock cluster. Prints figures and the invariants it checks:
 *
 *   replay: exit 0; stored + dead letters + blank = lines; every valid line stored exactly once;
 *   ingest: no restart; stored + dead-lettered = messages, disjoint; valid messages all stored; no duplicates.
 *
 *   npm run bench:hostile                      1,000,000 lines
 *   npm run bench:hostile -- --lines 100000    smaller run
 *
 * Exits 1 when an invariant fails (it is a benchmark that also proves something, not a timed test).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../services/store/openStore.ts';
import { BIN, childEnv } from '../support/cli.ts';
import { hostileLog } from '../support/fuzzLines.ts';
import { freePort, produceLines, startCluster, stopCluster, topicWatermarks } from '../support/kafka.ts';
import { REPO_ROOT, argValue } from './shared.ts';

const args = process.argv.slice(2);
const N = Math.floor(Number(argValue(args, '--lines') ?? 1_000_000));
const SEED = Number(argValue(args, '--seed') ?? 7);
const T0 = Date.UTC(2026, 2, 2);
const SPAN = 3 * 86_400_000;
const dir = join(REPO_ROOT, '.tilewatch-tmp', 'bench', `hostile-${Date.now()}`);
mkdirSync(dir, { recursive: true });
const log = (m: string): void => void process.stderr.write(`${m}\n`);
const failures: string[] = [];
const check = (ok: boolean, what: string): void => {
  if (!ok) failures.push(what);
  log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

function run(argv: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err, ms: performance.now() - t0 }));
  });
}

async function lineage(data: string, source: string): Promise<{ rows: string[]; dead: Set<string>; rejected: number }> {
  const store = await openStore({ kind: 'embedded', dataDir: data });
  try {
    const q = async <T>(query: string): Promise<T[]> => (await store.client.query({ query, query_params: { source }, format: 'JSONCompactEachRow' })).json<T>();
    const rows = (await q<[number, string]>('SELECT partition, toString(line) FROM tile_requests WHERE source = {source:String}')).map(([p, l]) => `${p}/${l}`);
    const dead = new Set((await q<[number, string]>('SELECT partition, toString(line) FROM dead_letters WHERE source = {source:String}')).map(([p, l]) => `${p}/${l}`));
    const rejected = await q<[string]>("SELECT count() FROM dead_letters WHERE startsWith(reason, 'rejected by the store')");
    return { rows, dead, rejected: Number(rejected[0]?.[0] ?? 0) };
  } finally {
    await store.close();
  }
}

const tGen = performance.now();
const lines = hostileLog(N, SEED, T0, SPAN);
const file = join(dir, 'hostile.log');
writeFileSync(file, lines.map((l) => `${l.text}\n`).join(''));
const valid = lines.flatMap((l, i) => (l.valid ? [i + 1] : []));
const blank = lines.filter((l) => l.text.trim() === '').length;
log(`generated ${N} lines (${valid.length} valid, ${blank} blank) in ${((performance.now() - tGen) / 1000).toFixed(1)} s, ${(statSync(file).size / 1048576).toFixed(0)} MiB`);

// ------------------------------------------------------------------------------------------ replay
const replayData = join(dir, 'replay-data');
const r = await run(['replay', file, '--data', replayData, '--format', 'combined', '--no-hunts', '--quiet']);
const num = (re: RegExp): number => Number(re.exec(r.stdout)?.[1] ?? Number.NaN);
const stored = num(/^ {2}stored +(\d+)/m);
const dead = num(/^ {2}dead letters +(\d+)/m);
const blanks = num(/\+(\d+) blank lines/);
check(r.code === 0, `replay exits 0 (got ${String(r.code)})`);
check(stored + dead + blanks === N, `replay: stored ${stored} + dead letters ${dead} + blank ${blanks} = lines ${N}`);
const rl = await lineage(replayData, file);
const storedLines = new Set(rl.rows.map((k) => Number(k.split('/')[1])));
check(storedLines.size === rl.rows.length, `replay: no line stored twice (${rl.rows.length - storedLines.size} duplicates)`);
check(valid.every((l) => storedLines.has(l)), `replay: every valid line stored (${valid.filter((l) => !storedLines.has(l)).length} missing)`);
check(rl.rejected === 0, `replay: the store rejected nothing (${rl.rejected} rows)`);
const replayLps = N / (r.ms / 1000);

// ------------------------------------------------------------------------------------------ Kafka
// The mock broker keeps ~5 MB per partition (it drops the oldest beyond that): enough partitions, with
// room for uneven keys, that the whole log stays; the watermarks are checked before ingest starts.
const partitions = Math.max(8, Math.ceil(statSync(file).size / (1.5 * 1048576)));
const cluster = startCluster({ brokers: 1, topics: { hostile: partitions } });
let ingestMs: number;
try {
  const tProduce = performance.now();
  await produceLines(
    cluster.bootstrap,
    'hostile',
    lines.map((l, i) => ({ key: `k${i % 1009}`, value: l.text })),
    { batchSize: 2000 },
  );
  log(`produced ${N} messages over ${partitions} partitions in ${((performance.now() - tProduce) / 1000).toFixed(1)} s`);
  const marks = await topicWatermarks(cluster.bootstrap, 'hostile');
  const held = [...marks.values()].reduce((a, m) => a + m.high - m.low, 0);
  if (held !== N) throw new Error(`the mock broker holds ${held} of ${N} messages (it drops the oldest beyond ~5 MB per partition): use more partitions`);
  const kData = join(dir, 'kafka-data');
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [BIN, 'ingest', '--brokers', cluster.bootstrap, '--topic', 'hostile', '--group', 'hostile-bench', '--data', kData, '--http-port', String(port), '--quiet', '--no-hunts', '--format', 'combined', '--log-level', 'warn'],
    { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  let consumed = 0;
  while (child.exitCode === null && consumed < N) {
    await new Promise((res) => setTimeout(res, 500));
    const m = await fetch(`http://127.0.0.1:${port}/metrics`).then((x) => x.text()).catch(() => '');
    consumed = Number(/^tilewatch_ingest_messages_total\{[^}]*\} (\d+)/m.exec(m)?.[1] ?? 0);
  }
  check(child.exitCode === null, `ingest kept running (exit ${String(child.exitCode)}: ${stderr.slice(-300)})`);
  child.kill('SIGTERM');
  const ingestCode = await exited;
  ingestMs = performance.now() - t0;
  check(ingestCode === 0, `ingest stops gracefully with exit 0 (got ${String(ingestCode)})`);
  const kl = await lineage(kData, 'kafka:hostile');
  const rowSet = new Set(kl.rows);
  check(rowSet.size === kl.rows.length, `ingest: no message stored twice (${kl.rows.length - rowSet.size} duplicates)`);
  check([...rowSet].every((k) => !kl.dead.has(k)), 'ingest: stored and dead-lettered are disjoint');
  check(rowSet.size + kl.dead.size === N, `ingest: stored ${rowSet.size} + dead-lettered ${kl.dead.size} = messages ${N}`);
  check(rowSet.size >= valid.length, `ingest: at least the ${valid.length} valid messages stored (${rowSet.size})`);
  check(kl.rejected === 0, `ingest: the store rejected nothing (${kl.rejected} rows)`);
} finally {
  stopCluster(cluster);
}

process.stdout.write(
  [
    '',
    `## Hostile input (${N.toLocaleString('en')} lines, seed ${SEED})`,
    '',
    '| path | lines/s | stored | dead letters | blank | invariants |',
    '|---|---|---|---|---|---|',
    `| replay --no-hunts | ${Math.round(replayLps).toLocaleString('en')} | ${stored} | ${dead} | ${blanks} | ${failures.some((f) => f.startsWith('replay')) ? 'FAIL' : 'hold'} |`,
    `| ingest (start to graceful stop) | ${Math.round(N / (ingestMs / 1000)).toLocaleString('en')} | | | | ${failures.some((f) => f.startsWith('ingest')) ? 'FAIL' : 'hold'} |`,
    '',
  ].join('\n'),
);
if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
if (failures.length > 0) {
  log(`${failures.length} invariant(s) failed`);
  process.exitCode = 1;
}

/**
 * `npm run bench` — replay throughput against the bare engine, measured side by side in one run.
 *
 *   npm run bench                 full size: simulated day, seed 1, scale 7 (≈ 2.5 M lines)
 *   npm run bench -- --quick      scale 1 (≈ 430 k lines), for a quick check
 *   npm run bench -- --scale 6 --runs 1 --no-insert --keep
 *   npm run bench -- --no-history     skip the hunt-cost-against-history runs (72 h simulation, --history-scale N, default 1)
 *
 * Flags (or environment): --quick (BENCH_QUICK=1), --scale N (BENCH_SCALE), --lines N (BENCH_LINES: picks
 * the scale from the simulator's ≈ 78 k + 349 k × scale lines/day), --seed S (BENCH_SEED), --hours H,
 * --runs N (BENCH_RUNS, default 2: bare and tilewatch alternate), --batch-lines N (default 50,000),
 * --no-stages, --no-insert, --no-profile, --keep (keep the chDB directories).
 *
 * Prints figures and ratios only — no assertions, no pass/fail on time (the machine is shared and noisy).
 * The simulated log is generated once and cached in .tilewatch-tmp/bench/sim-seed…-scale…-h…/ (keyed by seed, scale
 * and hours); chDB directories and the pre-encoded insert batches live under .tilewatch-tmp/bench/runs/ during the
 * run and are deleted at the end (unless --keep). The Markdown summary is also written to
 * .tilewatch-tmp/bench/last-replay-bench.md (smaller runs: last-replay-bench-scale<N>-h<H>.md, so a quick check never
 * overwrites the full-size figures).
 *
 * The stage and memory children run with --expose-gc (the bench passes the flag itself: the npm script needs none).
 *
 * Every measured side runs in its own process (chDB allows one data directory per process, and spawning keeps
 * the figures honest about startup): see bareEngine.ts, storeProbe.ts, stages.ts, insertOnly.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { writeSimulation } from '../../services/sim/index.ts';
import { mainThreadProfile, profileTable, summariseProfile, type ProfileSummary } from './profileTop.ts';
import { REPO_ROOT, benchScript, runNode, type ChildRun, type ChildUsage, type TableStorage } from './shared.ts';

// ---------------------------------------------------------------------------------------------- options

const argv = process.argv.slice(2);
const flag = (name: string, env?: string): boolean => argv.includes(name) || (env !== undefined && /^(1|true|yes)$/i.test(process.env[env] ?? ''));
const value = (name: string, env?: string): string | undefined => {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  return env !== undefined ? process.env[env] : undefined;
};
const num = (name: string, env: string | undefined, def: number): number => {
  const v = value(name, env);
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
};

const FULL_SCALE = 7;
const quick = flag('--quick', 'BENCH_QUICK');
const linesWanted = value('--lines', 'BENCH_LINES');
const scaleFromLines = linesWanted ? Math.max(0.25, Math.round(((Number(linesWanted) - 78_000) / 349_000) * 4) / 4) : undefined;
const opts = {
  seed: value('--seed', 'BENCH_SEED') ?? '1',
  hours: num('--hours', undefined, 24),
  scale: num('--scale', 'BENCH_SCALE', scaleFromLines ?? (quick ? 1 : FULL_SCALE)),
  runs: Math.floor(num('--runs', 'BENCH_RUNS', 2)),
  batchLines: Math.floor(num('--batch-lines', undefined, 50_000)),
  stages: !flag('--no-stages'),
  profile: !flag('--no-profile'),
  insert: !flag('--no-insert'),
  keep: flag('--keep'),
  /** Hunt cost per window after 6, 24 and 72 h of history (a 72 h simulation at this scale). */
  history: !flag('--no-history'),
  historyScale: num('--history-scale', undefined, 1),
};

const TMP = join(REPO_ROOT, '.tilewatch-tmp', 'bench');
const started = performance.now();
const log = (s: string): void => void process.stderr.write(`${s}\n`);
const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number): string =>
  bytes >= 100 * 1048576 ? `${(bytes / 1048576).toFixed(0)} MiB` : bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
const rate = (lines: number, ms: number): number => lines / (ms / 1000);
const x = (r: number): string => `${r.toFixed(2)}×`;
const cpuOf = (u: ChildUsage | null): number => (u ? u.userMs + u.systemMs : 0);

// ---------------------------------------------------------------------------------------------- 1. the log

const simDir = join(TMP, `sim-seed${opts.seed}-scale${opts.scale}-h${opts.hours}`);
const file = join(simDir, 'access.log');
const metaPath = join(simDir, 'bench-meta.json');
interface SimMeta {
  lines: number;
  bytes: number;
  generatedMs: number;
}
let meta: SimMeta;
if (existsSync(metaPath) && existsSync(file) && (JSON.parse(readFileSync(metaPath, 'utf8')) as SimMeta).bytes === statSync(file).size) {
  meta = JSON.parse(readFileSync(metaPath, 'utf8')) as SimMeta;
  log(`Using cached simulation ${file}`);
} else {
  log(`Generating the simulated log (seed ${opts.seed}, ${opts.hours} h, scale ${opts.scale}) in ${simDir} …`);
  rmSync(simDir, { recursive: true, force: true });
  const r = await writeSimulation({ out: simDir, seed: opts.seed, hours: opts.hours, scale: opts.scale });
  meta = { lines: r.lines, bytes: statSync(file).size, generatedMs: r.elapsedMs };
  writeFileSync(metaPath, JSON.stringify(meta));
}
const LINES = meta.lines;
log(`Log: ${int(LINES)} lines, ${mb(meta.bytes)} (${(meta.bytes / LINES).toFixed(0)} B/line)${LINES < 2_000_000 && !quick && !linesWanted && !value('--scale', 'BENCH_SCALE') ? ' — WARNING: under 2 M lines' : ''}`);

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runsDir = join(TMP, 'runs', stamp);
mkdirSync(runsDir, { recursive: true });
const load0 = loadavg();

/** A failed part is reported (and the rest still measured) rather than losing the whole run. */
const failures: string[] = [];
async function attempt<T>(label: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    log(`  FAILED ${label}: ${msg.split('\n')[0] ?? ''}`);
    failures.push(`${label}: ${(msg.split('\n').find((l) => /Error|error/.test(l)) ?? msg.split('\n')[0] ?? '').slice(0, 300)}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------- 2+3. bare vs tilewatch

interface BareRun {
  run: ChildRun;
  insertMs: number;
  rows: number;
  version: string;
  maxThreads: number;
  dir: string;
}
interface TwRun {
  run: ChildRun;
  elapsedMs: number;
  insertMs: number;
  linesRead: number;
  stored: number;
  alerts: string;
  batches: number;
  /** Hunt windows and their time, from the summary (null with --no-hunts). */
  hunts: { windows: number; ms: number; waitedMs: number | null } | null;
  dir: string;
}

async function bareRun(i: number): Promise<BareRun> {
  const dir = join(runsDir, `bare-${i}`);
  log(`[bare engine #${i}] INSERT … SELECT extractGroups(…) FROM file(…, LineAsString)`);
  const run = await runNode(benchScript('bareEngine.ts', ['--data', dir, '--file', file]));
  const j = run.json as { insertMs: number; rows: number; version: string; maxThreads: number };
  log(`  ${sec(run.wallMs)} wall, INSERT ${sec(j.insertMs)}, ${int(j.rows)} rows, ${int(rate(LINES, run.wallMs))} lines/s (wall)`);
  return { run, insertMs: j.insertMs, rows: j.rows, version: j.version, maxThreads: j.maxThreads, dir };
}

/**
 * The compared side is ingest with streaming detection (`--no-hunts`), the engine's job; the hunts
 * (scheduled SQL over the stored data) are measured apart, in one more run with them on.
 */
async function twRun(i: number, hunts = false): Promise<TwRun> {
  const dir = join(runsDir, `tilewatch-${i}${hunts ? '-hunts' : ''}`);
  const extra = hunts ? [] : ['--no-hunts'];
  log(`[tilewatch #${i}] node bin/tilewatch.js replay FILE --data DIR --quiet --batch-lines ${opts.batchLines} ${extra.join(' ')}`);
  const run = await runNode([join(REPO_ROOT, 'bin/tilewatch.js'), 'replay', file, '--data', dir, '--quiet', '--batch-lines', String(opts.batchLines), ...extra]);
  const m = /elapsed\s+([\d.]+) s, \d+ lines\/s \(insert (\d+) ms over (\d+) batches/.exec(run.stdout);
  const lines = /lines read\s+(\d+)/.exec(run.stdout);
  const stored = /stored\s+(\d+)/.exec(run.stdout);
  const alerts = /alerts\s+(.*)/.exec(run.stdout);
  const huntLine = /hunts\s+(\d+) event-time windows in ([\d.]+) s/.exec(run.stdout);
  const waited = /the replay waited ([\d.]+) s for them/.exec(run.stdout);
  if (!m || !lines) throw new Error(`cannot parse the replay summary:\n${run.stdout}`);
  const r: TwRun = {
    run,
    elapsedMs: Number(m[1]) * 1000,
    insertMs: Number(m[2]),
    batches: Number(m[3]),
    linesRead: Number(lines[1]),
    stored: Number(stored?.[1] ?? 0),
    alerts: alerts?.[1]?.trim() ?? '',
    hunts: huntLine ? { windows: Number(huntLine[1]), ms: Number(huntLine[2]) * 1000, waitedMs: waited ? Number(waited[1]) * 1000 : null } : null,
    dir,
  };
  log(`  ${sec(run.wallMs)} wall, replay ${sec(r.elapsedMs)}, ${int(r.stored)} rows, ${int(rate(LINES, run.wallMs))} lines/s (wall); alerts ${r.alerts}`);
  return r;
}

// Paired by run number; a failed run leaves a hole (null) so the pairs stay aligned.
const barePairs: Array<BareRun | null> = [];
const twPairs: Array<TwRun | null> = [];
let huntsRun: TwRun | null = null;
for (let i = 1; i <= opts.runs; i++) {
  barePairs.push(await attempt(`bare engine run ${i}`, () => bareRun(i)));
  twPairs.push(await attempt(`tilewatch replay run ${i}`, () => twRun(i)));
  if (i === opts.runs) huntsRun = await attempt('tilewatch replay with hunts', () => twRun(i, true));
  if (i === 1 && opts.runs > 1) {
    const projected = (performance.now() - started) / 60_000;
    log(`  (one bare + one tilewatch run took ${projected.toFixed(1)} min so far)`);
  }
}

// ---------------------------------------------------------------------------------------------- 5. bytes per row

const TW_TABLES = ['tile_requests', 'image_requests', 'hunt_cells', 'traffic_minute', 'client_minute', 'client_image_hour', 'ingest_batches', 'dead_letters', 'alerts', 'images'];
const AGG_TABLES = ['image_requests', 'hunt_cells', 'traffic_minute', 'client_minute', 'client_image_hour'];
interface Probe {
  asLeft: TableStorage[];
  optimized: TableStorage[] | null;
  optimizeMs: number;
}
const bares = barePairs.filter((r): r is BareRun => r !== null);
const tws = twPairs.filter((r): r is TwRun => r !== null);
log('[storage] system.parts / system.columns, as left and after OPTIMIZE FINAL');
const lastTw = tws[tws.length - 1];
const lastBare = bares[bares.length - 1];
const twProbe = lastTw
  ? await attempt('storage probe (tilewatch)', async () => {
      const tables = ['--tables', TW_TABLES.join(','), '--optimize', ['tile_requests', ...AGG_TABLES].join(',')];
      return (await runNode(benchScript('storeProbe.ts', ['--data', lastTw.dir, ...tables]))).json as Probe;
    })
  : null;
const bareProbe = lastBare
  ? await attempt('storage probe (bare engine)', async () => {
      const tables = ['--tables', 'bare_requests', '--optimize', 'bare_requests'];
      return (await runNode(benchScript('storeProbe.ts', ['--data', lastBare.dir, ...tables]))).json as Probe;
    })
  : null;
if (!opts.keep) {
  for (const r of [...bares, ...tws, ...(huntsRun ? [huntsRun] : [])]) rmSync(r.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------- 4+6. stages, detector memory

interface StageResult {
  name: string;
  lines: number;
  ms: number;
  gcMs: number;
  note?: string;
}
interface MemoryResult {
  detachLines: boolean;
  ms: number;
  atLine: number;
  clients: number;
  clientImages: number;
  detectorBytes: number;
  normalizerBytes: number;
  heapBefore: number;
  heapWithDetector: number;
  bytesPerClientImage: number;
  bytesPerClient: number;
  learnedImages: number;
  alerts: number;
}
interface StagesOut {
  stages: StageResult[];
  detectorRun: { clients: number; clientImages: number; alerts: number; peakClientImages: number; peakAtLine: number } | null;
  memory: MemoryResult | null;
  /** The same measurement with every line copied to its own string first (see stages.ts --detach-lines). */
  memoryDetached?: MemoryResult | null;
  gcAvailable: boolean;
  maxRssKb: number;
}
const rowsPrefix = join(runsDir, `rows-b${opts.batchLines}`);
let stages: StagesOut | null = null;
if (opts.stages || opts.insert) {
  // One process per stage: none inherits another's heap, JIT state or garbage.
  const names = opts.stages ? ['read', 'parse', 'normalize', 'detect', 'encode', 'full', 'memory', 'memory-detached'] : ['encode'];
  log(`[stages] in-process passes over the file, one process each (node --expose-gc): ${names.join(', ')}`);
  for (const only of names) {
    const out = await attempt(`stage ${only}`, async () =>
      (
        await runNode(
        benchScript(
          'stages.ts',
          [
            ...['--file', file, '--batch-lines', String(opts.batchLines), '--only', only.replace('-detached', '')],
            ...(only === 'encode' ? ['--rows-out', rowsPrefix] : []),
            ...(only.startsWith('memory') && stages?.detectorRun ? ['--stop-at', String(stages.detectorRun.peakAtLine)] : []),
            ...(only === 'memory-detached' ? ['--detach-lines'] : []),
          ],
            ['--expose-gc'],
          ),
        )
      ).json as StagesOut,
    );
    if (!out) continue;
    if (!stages) stages = out;
    else {
      stages.stages.push(...out.stages);
      stages.detectorRun ??= out.detectorRun;
      if (only === 'memory-detached') stages.memoryDetached = out.memory;
      else stages.memory ??= out.memory;
      stages.gcAvailable &&= out.gcAvailable;
    }
  }
}

// ---------------------------------------------------------------------------------------------- 4a. CPU profile of the line path

/**
 * One more `replay --no-hunts` under `node --cpu-prof` (the sampling profiler slows it a little; its figures
 * are not the throughput above): the main thread's top self-time functions, so the report says where the
 * line path's time goes by function and not only by stage.
 */
let profile: ProfileSummary | null = null;
if (opts.profile) {
  const dir = join(runsDir, 'tilewatch-profile');
  const profDir = join(runsDir, 'cpuprofile');
  log('[profile] node --cpu-prof bin/tilewatch.js replay FILE --no-hunts --quiet');
  profile = await attempt('profile', async () => {
    await runNode(['--cpu-prof', '--cpu-prof-dir', profDir, join(REPO_ROOT, 'bin/tilewatch.js'), 'replay', file, '--data', dir, '--quiet', '--no-hunts', '--batch-lines', String(opts.batchLines)]);
    const main = mainThreadProfile(readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f)));
    if (!main) throw new Error('no .cpuprofile written');
    return summariseProfile(main.profile, { top: 12, root: REPO_ROOT });
  });
  if (profile) log(`  ${sec(profile.totalMs)} sampled, top: ${profile.entries.slice(0, 3).map((e) => `${e.functionName} ${e.selfPct.toFixed(1)} %`).join(', ')}`);
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------- 4b. insert only

interface InsertOut {
  variant: string;
  schema: { views: number; projections: number; indices: number };
  batches: number;
  rows: number;
  stored: number;
  bytes: number;
  insertMs: number;
  usage: ChildUsage | null;
}
const inserts: InsertOut[] = [];
if (opts.insert && existsSync(`${rowsPrefix}.json`)) {
  for (const variant of ['full', 'noimagecopy', 'noviews', 'plain']) {
    const dir = join(runsDir, `insert-${variant}`);
    log(`[insert only] ${variant}`);
    const run = await attempt(`insert only (${variant})`, () => runNode(benchScript('insertOnly.ts', ['--data', dir, '--rows', rowsPrefix, '--variant', variant])));
    if (run) {
      const j = run.json as Omit<InsertOut, 'usage'>;
      inserts.push({ ...j, usage: run.usage });
      log(`  ${int(j.stored)} rows in ${sec(j.insertMs)}: ${int(rate(j.rows, j.insertMs))} rows/s`);
    }
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}
if (!opts.keep) rmSync(runsDir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------- 6b. hunt cost vs history

/**
 * The same event-time windows (the last two hours of a 72 h simulation) hunted after 6, 24 and 72 h of
 * stored history: each log is the simulation's tail from that far back, replayed with the hunts on;
 * `hunt_runs` gives each window's cost (huntHistory.ts). Flat costs mean the hunts grow with new data,
 * not with what is stored.
 */
interface HistoryRun {
  readonly hours: number;
  readonly lines: number;
  readonly wallMs: number;
  readonly huntsMs: number;
  readonly huntWindows: number;
  readonly lastWindows: number;
  readonly lastMs: number;
  readonly perHunt: Record<string, number>;
  readonly maxRssKb: number;
}
const historyRuns: HistoryRun[] = [];
if (opts.history) {
  const hDir = join(TMP, `sim-seed${opts.seed}-scale${opts.historyScale}-h72`);
  const hFile = join(hDir, 'access.log');
  if (!existsSync(hFile)) {
    log(`[history] generating a 72 h simulation (seed ${opts.seed}, scale ${opts.historyScale}) in ${hDir} …`);
    await writeSimulation({ out: hDir, seed: opts.seed, hours: 72, scale: opts.historyScale });
  }
  const all = readFileSync(hFile);
  const tsAt = (offset: number): number => {
    const m = /\[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\]/.exec(all.subarray(offset, offset + 400).toString('latin1'));
    return m ? Date.parse(`${m[2]} ${m[1]} ${m[3]} ${m[4]}:${m[5]}:${m[6]} GMT${m[7]}`) : Number.NaN;
  };
  const lastLine = all.lastIndexOf(10, all.length - 2) + 1;
  const end = Math.ceil(tsAt(lastLine) / 3_600_000) * 3_600_000;
  const runsHist = join(TMP, 'runs-history');
  mkdirSync(runsHist, { recursive: true });
  for (const hours of [6, 24, 72]) {
    const cut = end - hours * 3_600_000;
    // First line at or after the cut (the log is in time order): binary search over line starts.
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const start = mid === 0 ? 0 : all.indexOf(10, mid) + 1;
      if (start <= 0 || start >= all.length || tsAt(start) >= cut) hi = mid;
      else lo = mid + 1;
    }
    const from = lo === 0 ? 0 : all.indexOf(10, lo) + 1;
    const part = join(runsHist, `last-${hours}h.log`);
    writeFileSync(part, all.subarray(hours === 72 ? 0 : from));
    const dir = join(runsHist, `data-${hours}h`);
    rmSync(dir, { recursive: true, force: true });
    log(`[history ${hours} h] replay with the hunts`);
    const run = await attempt(`history ${hours} h`, () => runNode([join(REPO_ROOT, 'bin/tilewatch.js'), 'replay', part, '--data', dir, '--quiet']));
    const probe = run ? await attempt(`history ${hours} h probe`, () => runNode(benchScript('huntHistory.ts', ['--data', dir, '--from', new Date(end - 2 * 3_600_000).toISOString()]))) : null;
    if (run && probe) {
      const h = /hunts\s+(\d+) event-time windows in ([\d.]+) s/.exec(run.stdout);
      const lines = /lines read\s+(\d+)/.exec(run.stdout);
      const j = probe.json as { windows: number; totalMs: number; perHunt: Record<string, number> };
      historyRuns.push({
        hours,
        lines: Number(lines?.[1] ?? 0),
        wallMs: run.wallMs,
        huntsMs: Number(h?.[2] ?? 0) * 1000,
        huntWindows: Number(h?.[1] ?? 0),
        lastWindows: j.windows,
        lastMs: j.totalMs,
        perHunt: j.perHunt,
        maxRssKb: run.usage?.maxRssKb ?? 0,
      });
      log(`  last 2 h: ${j.windows} windows, ${j.totalMs} ms`);
    }
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    rmSync(part, { force: true });
  }
  if (!opts.keep) rmSync(runsHist, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------- 7. report

const load1 = loadavg();
const totalMs = performance.now() - started;
const version = bares[0]?.version ?? '?';
let commit: string;
try {
  const git = (...a: string[]): string => execFileSync('git', a, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  commit = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? ' + uncommitted changes' : '');
} catch {
  commit = '';
}
const md: string[] = [];
const row = (...cells: Array<string | number>): void => void md.push(`| ${cells.join(' | ')} |`);
const best = (xs: number[]): number => Math.min(...xs);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

md.push(
  `### Replay benchmark — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${commit ? `, commit ${commit}` : ''}`,
  '',
  `Simulated day (seed ${opts.seed}, scale ${opts.scale}, ${opts.hours} h): **${int(LINES)} lines, ${mb(meta.bytes)}** nginx combined. ` +
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, Node ${process.version}, chDB ${version} (max_threads ${bares[0]?.maxThreads ?? '?'}). ` +
    `Load average ${load0[0]?.toFixed(2)} at start, ${load1[0]?.toFixed(2)} at end (shared machine: figures are noisy). ` +
    `Each side is a fresh chDB directory in its own spawned process; the runs alternate bare, tilewatch, bare, tilewatch.`,
  '',
);

// Throughput (runs are paired by number: bare i ran just before tilewatch i)
if (bares.length > 0 && tws.length > 0) {
  const runCols = barePairs.map((_, i) => `run ${i + 1}`);
  row('Ingest of the same file', ...runCols, 'lines/s (median)', 'peak RSS', 'CPU time (cores used)');
  row('---', ...runCols.map(() => '---:'), '---:', '---:', '---:');
  const usageCells = (runs: Array<{ run: ChildRun }>): [string, string] => {
    const last = runs[runs.length - 1]!;
    const rss = Math.max(...runs.map((r) => r.run.usage?.maxRssKb ?? 0));
    const cpu = cpuOf(last.run.usage);
    return [rss ? mb(rss * 1024) : '?', cpu ? `${sec(cpu)} (${(cpu / last.run.wallMs).toFixed(2)})` : '?'];
  };
  const cells = <T,>(pairs: Array<T | null>, f: (r: T) => string): string[] => pairs.map((r) => (r ? f(r) : 'failed'));
  const ratio = (i: number, f: (b: BareRun, t: TwRun) => number): string => {
    const b = barePairs[i];
    const t = twPairs[i];
    return b && t ? x(f(b, t)) : '–';
  };
  const bareWall = bares.map((b) => b.run.wallMs);
  const twWall = tws.map((t) => t.run.wallMs);
  row('Bare engine, process wall (INSERT … SELECT extractGroups … FROM file(…, LineAsString))', ...cells(barePairs, (b) => sec(b.run.wallMs)), int(rate(LINES, median(bareWall))), ...usageCells(bares));
  row('Bare engine, INSERT statement only', ...cells(barePairs, (b) => sec(b.insertMs)), int(rate(LINES, median(bares.map((b) => b.insertMs)))), '', '');
  row('tilewatch replay, process wall (`bin/tilewatch.js replay FILE --quiet --no-hunts`)', ...cells(twPairs, (t) => sec(t.run.wallMs)), int(rate(LINES, median(twWall))), ...usageCells(tws));
  row('tilewatch replay, summary "elapsed" (after startup + migrations)', ...cells(twPairs, (t) => sec(t.elapsedMs)), int(rate(LINES, median(tws.map((t) => t.elapsedMs)))), '', '');
  row(
    '**Throughput ratio tilewatch / bare (process wall)**',
    ...barePairs.map((_, i) => ratio(i, (b, t) => b.run.wallMs / t.run.wallMs)),
    `**${x(median(bareWall) / median(twWall))}**`,
    '',
    '',
  );
  row(
    'Throughput ratio tilewatch / bare (replay elapsed / INSERT only)',
    ...barePairs.map((_, i) => ratio(i, (b, t) => b.insertMs / t.elapsedMs)),
    x(median(bares.map((b) => b.insertMs)) / median(tws.map((t) => t.elapsedMs))),
    '',
    '',
  );
  md.push('');
  const lt = tws[tws.length - 1]!;
  md.push(
    `tilewatch stored ${int(lt.stored)} rows in ${lt.batches} batches (BatchWriter insert time ${sec(lt.insertMs)}, overlapping the JS work); alerts: ${lt.alerts}. ` +
      `Best run: bare ${int(rate(LINES, best(bareWall)))} lines/s, tilewatch ${int(rate(LINES, best(twWall)))} lines/s.`,
    '',
  );
  if (huntsRun?.hunts) {
    const hw = huntsRun.run.wallMs;
    md.push(
      `**Default replay (hunts on)**, one more run right after the pairs: process wall ${sec(hw)}, ${int(rate(LINES, hw))} lines/s, ` +
        `**${x(median(bareWall) / hw)} the bare engine** (median bare wall), ${x(lt.run.wallMs / hw)} the --no-hunts run's rate; ` +
        `peak RSS ${huntsRun.run.usage ? mb(huntsRun.run.usage.maxRssKb * 1024) : '?'}; ` +
        `hunts ${huntsRun.hunts.windows} windows in ${sec(huntsRun.hunts.ms)} (${(huntsRun.hunts.ms / huntsRun.hunts.windows).toFixed(0)} ms each), ` +
        (huntsRun.hunts.waitedMs !== null
          ? `they run beside the line path, which waited ${sec(huntsRun.hunts.waitedMs)} for them: **${((100 * huntsRun.hunts.waitedMs) / hw).toFixed(0)} % of the replay's wall** (their own time is ${((100 * huntsRun.hunts.ms) / hw).toFixed(0)} % of it); `
          : `**${((100 * huntsRun.hunts.ms) / hw).toFixed(0)} % of the replay's wall**; `) +
        `alerts: ${huntsRun.alerts}.`,
      '',
    );
  }
}

if (historyRuns.length > 0) {
  const base = historyRuns.find((h) => h.hours === 6);
  md.push(
    `Hunt cost per window against stored history (a 72 h simulation, seed ${opts.seed}, scale ${opts.historyScale}: the same last two hours hunted after 6, 24 and 72 h of history; each a replay with the hunts on, costs from \`hunt_runs\`):`,
    '',
  );
  row('history', 'lines replayed', 'replay wall', 'hunts (all windows)', 'last 2 h: windows', 'last 2 h: ms per window', 'per hunt (ms, last 2 h)', 'vs 6 h', 'peak RSS');
  row('---', '---:', '---:', '---:', '---:', '---:', '---', '---:', '---:');
  for (const h of historyRuns) {
    const per = h.lastWindows > 0 ? h.lastMs / h.lastWindows : 0;
    const basePer = base && base.lastWindows > 0 ? base.lastMs / base.lastWindows : 0;
    row(
      `${h.hours} h`,
      int(h.lines),
      sec(h.wallMs),
      `${h.huntWindows} in ${sec(h.huntsMs)}`,
      h.lastWindows,
      per.toFixed(0),
      Object.entries(h.perHunt).map(([k, v]) => `${k} ${v}`).join(', '),
      basePer > 0 ? x(per / basePer) : '–',
      h.maxRssKb ? mb(h.maxRssKb * 1024) : '?',
    );
  }
  md.push('');
}

// Stages
if (stages && stages.stages.length > 0) {
  row('Stage (in-process, one process and one pass over the file each; rows encoded into a TsvBuffer)', 'time', 'lines/s', 'µs/line', 'added µs/line', 'GC');
  row('---', '---:', '---:', '---:', '---:', '---:');
  const us = (s: StageResult): number => (s.ms * 1000) / s.lines;
  const byName = new Map(stages.stages.map((s) => [s.name, s]));
  const prevOf: Record<string, string> = {
    parse: 'read + split',
    'parse + normalize': 'parse',
    'parse + normalize + detect': 'parse + normalize',
    'parse + normalize + encode rows': 'parse + normalize',
    'normalize + detect + encode (replay minus store)': 'parse + normalize',
  };
  for (const s of stages.stages) {
    const prev = byName.get(prevOf[s.name] ?? '');
    row(s.name, sec(s.ms), int(rate(s.lines, s.ms)), us(s).toFixed(2), prev ? `+${(us(s) - us(prev)).toFixed(2)}` : '', sec(s.gcMs));
  }
  if (inserts.length > 0) {
    const ci = inserts.find((i) => i.variant === 'full');
    if (ci) {
      row('insert only: BatchWriter → migrated schema (see below)', sec(ci.insertMs), int(rate(ci.rows, ci.insertMs)), ((ci.insertMs * 1000) / ci.rows).toFixed(2), '', '');
    }
  }
  md.push('');
  const full = byName.get('normalize + detect + encode (replay minus store)');
  const ci = inserts.find((i) => i.variant === 'full');
  if (full && ci) {
    md.push(
      `Replay minus store ${sec(full.ms)} + insert only ${sec(ci.insertMs)} = ${sec(full.ms + ci.insertMs)} if serial; ` +
        (tws.length > 0 ? `the replay took ${sec(median(tws.map((t) => t.elapsedMs)))} (median elapsed).` : ''),
      '',
    );
  }
}

// Profile
if (profile) {
  md.push(
    `CPU profile of \`replay --no-hunts\` (main thread, \`node --cpu-prof\`, one more run): ${sec(profile.totalMs)} sampled, ${sec(profile.busyMs)} busy ` +
      `(the rest idle, waiting on chDB), GC ${sec(profile.gcMs)}. Top functions by self time (% of busy time; µs per log line):`,
    '',
    ...profileTable(profile, LINES, 10),
    '',
  );
}

// Insert only
if (inserts.length > 0) {
  const what: Record<string, string> = {
    full: 'migrated schema',
    noimagecopy: 'image_requests view dropped (the image-first copy)',
    noviews: 'materialized views dropped',
    plain: 'tile_requests alone (views, projections, skip indexes dropped)',
  };
  row(
    `Insert only (BatchWriter, as replay): ${int(inserts[0]!.rows)} pre-encoded rows (${mb(inserts[0]!.bytes)} TSV), ${inserts[0]!.batches} batches`,
    'views / projections / skip indexes',
    'time',
    'rows/s',
    'peak RSS',
    'CPU time',
  );
  row('---', ':---:', '---:', '---:', '---:', '---:');
  for (const i of inserts) {
    const cpu = cpuOf(i.usage);
    row(
      what[i.variant] ?? i.variant,
      `${i.schema.views} / ${i.schema.projections} / ${i.schema.indices}`,
      sec(i.insertMs),
      int(rate(i.rows, i.insertMs)),
      i.usage ? mb(i.usage.maxRssKb * 1024) : '?',
      cpu ? sec(cpu) : '?',
    );
  }
  const withCopy = inserts.find((i) => i.variant === 'full');
  const withoutCopy = inserts.find((i) => i.variant === 'noimagecopy');
  if (withCopy && withoutCopy)
    md.push('', `The image_requests copy: insert-only ${x(rate(withCopy.rows, withCopy.insertMs) / rate(withoutCopy.rows, withoutCopy.insertMs))} the rate without it.`);
  md.push('', '(Batches handed over as Buffers, as replay builds them with TsvBuffer. CPU and RSS are the whole child process, including loading the TSV file.)', '');
}

// Storage
const perRow = (bytes: number, rows: number): string => (rows > 0 ? (bytes / rows).toFixed(1) : '–');
const storageTable = (title: string, probe: Probe, tables: string[]): void => {
  row(title, 'rows', 'parts', 'compressed B/row', 'uncompressed B/row', 'ratio', 'after OPTIMIZE FINAL: parts', 'compressed B/row', 'compressed B per log line');
  row('---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:');
  for (const t of tables) {
    const a = probe.asLeft.find((s) => s.table === t);
    const o = probe.optimized?.find((s) => s.table === t);
    if (!a || a.rows === 0) continue;
    row(
      `\`${t}\``,
      int(a.rows),
      a.parts,
      perRow(a.compressed, a.rows),
      perRow(a.uncompressed, a.rows),
      a.compressed > 0 ? (a.uncompressed / a.compressed).toFixed(1) : '–',
      o ? o.parts : '',
      o ? perRow(o.compressed, o.rows) : '',
      perRow((o ?? a).compressed, LINES),
    );
    for (const ix of a.indices) {
      const oi = o?.indices.find((q) => q.name === ix.name);
      row(
        `\`${t}\` skip index \`${ix.name}\` (${ix.type})`,
        '',
        '',
        perRow(ix.compressed, a.rows),
        perRow(ix.uncompressed, a.rows),
        ix.compressed > 0 ? (ix.uncompressed / ix.compressed).toFixed(1) : '–',
        '',
        oi && o ? perRow(oi.compressed, o.rows) : '',
        perRow((oi ?? ix).compressed, LINES),
      );
    }
    for (const p of a.projections) {
      const op = o?.projections.find((q) => q.name === p.name);
      row(
        `\`${t}\` projection \`${p.name}\``,
        int(p.rows),
        '',
        perRow(p.compressed, p.rows),
        perRow(p.uncompressed, p.rows),
        p.compressed > 0 ? (p.uncompressed / p.compressed).toFixed(1) : '–',
        '',
        op ? perRow(op.compressed, op.rows) : '',
        perRow((op ?? p).compressed, LINES),
      );
    }
  }
  md.push('');
};
if (twProbe) storageTable('Storage (tilewatch replay)', twProbe, TW_TABLES);
if (bareProbe) storageTable('Storage (bare engine)', bareProbe, ['bare_requests']);
const colTable = (title: string, s: TableStorage | undefined): void => {
  if (!s) return;
  row(title, 'compressed', 'B/row', 'uncompressed B/row', 'ratio');
  row('---', '---:', '---:', '---:', '---:');
  for (const c of s.columns) {
    row(`\`${c.name}\``, mb(c.compressed), perRow(c.compressed, s.rows), perRow(c.uncompressed, s.rows), c.compressed > 0 ? (c.uncompressed / c.compressed).toFixed(1) : '–');
  }
  md.push('');
};
const twOpt = twProbe ? (twProbe.optimized ?? twProbe.asLeft).find((s) => s.table === 'tile_requests') : undefined;
const bareOpt = bareProbe ? (bareProbe.optimized ?? bareProbe.asLeft).find((s) => s.table === 'bare_requests') : undefined;
colTable('Top 10 columns of `tile_requests` (after OPTIMIZE FINAL)', twOpt);
colTable('Columns of `bare_requests` (after OPTIMIZE FINAL)', bareOpt);

// Detector memory
if (stages?.memory) {
  const m = stages.memory;
  const md2 = stages.memoryDetached ?? null;
  const d = stages.detectorRun;
  const both = (f: (r: MemoryResult) => string): string[] => [f(m), md2 ? f(md2) : '–'];
  row('Memory (default config; heapUsed after gc() with the object held minus after dropping it)', 'as replay reads lines', 'lines copied to their own strings first');
  row('---', '---:', '---:');
  if (d) row('client×images held (sampled every 50k lines): peak / end of day', `${int(d.peakClientImages)} at line ${int(d.peakAtLine)} / ${int(d.clientImages)}`, '');
  row('state measured', ...both((r) => `line ${int(r.atLine)}: ${int(r.clients)} clients, ${int(r.clientImages)} client×images`));
  row('detector heap', ...both((r) => mb(r.detectorBytes)));
  row('**detector bytes per client×image**', ...both((r) => `**${int(r.bytesPerClientImage)}**`));
  row('detector bytes per client', ...both((r) => int(r.bytesPerClient)));
  row('normaliser heap (learned extents, referer cache)', ...both((r) => `${mb(r.normalizerBytes)} (${int(r.learnedImages)} images)`));
  row('process heapUsed: before the pass → with both held', ...both((r) => `${mb(r.heapBefore)} → ${mb(r.heapWithDetector)}`));
  if (tws.length > 0) {
    row('tilewatch replay peak RSS (whole CLI process, incl. chDB and 2 batches in flight)', mb(Math.max(...tws.map((t) => t.run.usage?.maxRssKb ?? 0)) * 1024), '');
  }
  md.push(
    '',
    'Lines are `split()` out of ~1 MiB decoded chunks; V8 keeps substrings as slices of their parent, so an ip, user agent, image id or referer ' +
      'kept in long-lived state pins the whole chunk text. The right column copies each line first (what a per-line decode in the reader would do).',
    '',
  );
} else if (stages && !stages.gcAvailable) {
  md.push('Detector memory: skipped (gc() not exposed).', '');
}
if (failures.length > 0) md.push('**Failed parts** (not measured):', '', ...failures.map((f) => `- ${f}`), '');
md.push(`Total bench time ${(totalMs / 60_000).toFixed(1)} min.`);

const report = md.join('\n') + '\n';
mkdirSync(TMP, { recursive: true });
// A smaller run (--quick, --scale, --lines) does not overwrite the full-size figures the README quotes.
const reportPath = join(TMP, opts.scale === FULL_SCALE && opts.hours === 24 ? 'last-replay-bench.md' : `last-replay-bench-scale${opts.scale}-h${opts.hours}.md`);
writeFileSync(reportPath, report);
process.stdout.write(`\n${report}`);
log(`\nWritten to ${reportPath}`);

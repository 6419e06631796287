/**
 * Runs the real CLI (`node bin/tilewatch.js …`) as a child process: the honest end-to-end path, and
 * the way around chDB binding one data directory per process (each CLI run opens and releases it).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** Repository root (cwd of every child process). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(REPO_ROOT, 'bin', 'tilewatch.js');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface RunOptions {
  /** Written to the child's stdin, then stdin is closed. Without it stdin is closed at once. */
  readonly input?: string | Buffer;
  /** Killed (SIGKILL) after this long. Default 60 s. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

/** Environment for children: inherited, minus anything that would send the CLI to a ClickHouse server. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('TILEWATCH_')) delete env[k];
  delete env.NODE_TEST_CONTEXT; // children are plain programs, not test-runner subprocesses
  delete env.NODE_OPTIONS;
  return env;
}

/** Spawns any node command line with the test's environment; resolves with exit code and output. */
export function runNode(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...args], { cwd: opts.cwd ?? REPO_ROOT, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - started,
      });
    });
    child.stdin.on('error', () => {
      /* the child may exit before reading all of stdin; its exit code tells the story */
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** `tilewatch …args`. */
export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  return runNode([BIN, ...args], opts);
}

/** Describes a result for assertion messages. */
export function describeRun(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Runs the CLI and throws (with its output) unless it exits 0. */
export async function runCliOk(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  const r = await runCli(args, opts);
  if (r.code !== 0) throw new Error(`tilewatch ${args.join(' ')} failed: ${describeRun(r)}`);
  return r;
}

/**
 * `tilewatch query SQL --output json` against a data dir: one object per row. 64-bit integers come
 * back quoted from ClickHouse JSON; cast in SQL (toUInt32, toString …) where a type matters.
 */
export async function queryRows<T = Record<string, unknown>>(dataDir: string, sql: string, params: Record<string, string> = {}): Promise<T[]> {
  const args = ['query', sql, '--data', dataDir, '--output', 'json'];
  for (const [k, v] of Object.entries(params)) args.push('--param', `${k}=${v}`);
  const r = await runCliOk(args);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** The single row of a query that must return exactly one. */
export async function queryOne<T = Record<string, unknown>>(dataDir: string, sql: string, params: Record<string, string> = {}): Promise<T> {
  const rows = await queryRows<T>(dataDir, sql, params);
  if (rows.length !== 1) throw new Error(`expected one row from ${sql}, got ${rows.length}: ${JSON.stringify(rows)}`);
  return rows[0]!;
}

/**
 * A fresh temporary directory removed after the test (pass the test's context) — data dirs and
 * generated logs live here, never in the repository.
 */
export function tempDir(t: TestContext, label = 'it'): string {
  const dir = mkdtempSync(join(tmpdir(), `tilewatch-${label}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Parses the numbers out of `tilewatch replay`'s summary block. */
export interface ReplaySummaryText {
  readonly inputs: number;
  readonly format: string;
  readonly linesRead: number;
  readonly stored: number;
  readonly alreadyStored: number;
  readonly deadLetters: number;
  readonly blankLines: number;
  readonly alerts: number;
  readonly batches: number;
}

export function parseSummary(stdout: string): ReplaySummaryText {
  const m = (re: RegExp): RegExpExecArray => {
    const r = re.exec(stdout);
    if (!r) throw new Error(`replay summary has no match for ${re}:\n${stdout}`);
    return r;
  };
  m(/tilewatch replay summary/);
  const inputs = m(/^ {2}inputs +(\d+) \(format ([^)]+)\)$/m);
  const stored = m(/^ {2}stored +(\d+) new rows(?:, (\d+) lines already stored by an earlier replay)?$/m);
  const dead = m(/^ {2}dead letters +(\d+)(?: \(\+(\d+) blank lines skipped\))?$/m);
  return {
    inputs: Number(inputs[1]),
    format: inputs[2]!,
    linesRead: Number(m(/^ {2}lines read +(\d+)$/m)[1]),
    stored: Number(stored[1]),
    alreadyStored: Number(stored[2] ?? 0),
    deadLetters: Number(dead[1]),
    blankLines: Number(dead[2] ?? 0),
    alerts: Number(m(/^ {2}alerts +(\d+)/m)[1]),
    batches: Number(m(/over (\d+) batches/)[1]),
  };
}

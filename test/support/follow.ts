/**
 * `tilewatch follow` as a child process for the follow tests: numbered log lines (the line's number
 * in its `bytes` field, so stored rows name the lines they came from), start, readiness, metrics, stop.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { openStore } from '../../services/store/openStore.ts';
import { BIN, REPO_ROOT, childEnv } from './cli.ts';
import { freePort, waitFor } from './kafka.ts';

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

export function clf(t: number): string {
  const d = new Date(t);
  return `${pad(d.getUTCDate())}/${MON[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** Line number `seq` of a test log: a viewer's tile request whose size field is `seq`. */
export function numberedLine(seq: number, t = Date.now() - 600_000): string {
  const ip = `198.51.100.${1 + (seq % 200)}`;
  return `${ip} - - [${clf(t)}] "GET /dz/painting_files/12/${seq % 9}_${seq % 7}.jpg HTTP/1.1" 200 ${seq} "https://example.org/view" "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"`;
}

/** Appends lines [from, to) to a file. */
export function appendNumbered(path: string, from: number, to: number): void {
  let s = '';
  for (let i = from; i < to; i++) s += `${numberedLine(i)}\n`;
  appendFileSync(path, s);
}

export interface Follower {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `tilewatch follow ARGS --data DATA …extra` and waits for /readyz (unless `waitReady` is false: a follower that kills itself early). */
export async function startFollow(args: readonly string[], data: string, extra: readonly string[] = [], waitReady = true): Promise<Follower> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'follow', ...args, '--data', data, '--http-port', String(port), '--max-batch-ms', '300', '--poll-ms', '100', '--log-level', 'info', ...extra],
    { cwd: REPO_ROOT, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const f = { child, port, stdout: () => out, stderr: () => err, exited };
  if (!waitReady) return f;
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200, 60_000, `follow /readyz (stderr: ${err.slice(-500)})`, 100);
  return f;
}

/** Sum of a metric's samples from the follower's /metrics. */
export async function followMetric(f: Follower, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${f.port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
  return sum;
}

/** Waits until the follower has stored (rows + dead letters) at least `n` lines. */
export async function waitStored(f: Follower, n: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => (await followMetric(f, 'tilewatch_follow_rows_total')) + (await followMetric(f, 'tilewatch_follow_dead_letters_total')) >= n,
    timeoutMs,
    `follow to store ${n} lines (stderr: ${f.stderr().slice(-800)})`,
    100,
  );
}

/** Waits until the follower has read every complete line of its files (its stop stores them). */
export async function waitCaughtUp(f: Follower, timeoutMs = 60_000): Promise<void> {
  let quiet = 0;
  await waitFor(
    async () => {
      const unread = await followMetric(f, 'tilewatch_follow_unread_bytes');
      quiet = unread === 0 ? quiet + 1 : 0;
      return quiet >= 4;
    },
    timeoutMs,
    `follow to read everything (stderr: ${f.stderr().slice(-800)})`,
    250,
  );
}

export async function stopFollow(f: Follower): Promise<number | null> {
  f.child.kill('SIGTERM');
  return (await f.exited).code;
}

/** The `bytes` field (the line number) of every stored request, sorted, and the number of dead letters. */
export async function storedNumbers(data: string): Promise<{ numbers: number[]; deadLetters: number }> {
  const store = await openStore({ kind: 'embedded', dataDir: data });
  try {
    const rows = await (await store.client.query({ query: 'SELECT bytes FROM tile_requests ORDER BY bytes', format: 'JSONEachRow' })).json<{ bytes: number }>();
    const dead = await (await store.client.query({ query: 'SELECT count() AS n FROM dead_letters', format: 'JSONEachRow' })).json<{ n: string }>();
    return { numbers: rows.map((r) => Number(r.bytes)), deadLetters: Number(dead[0]!.n) };
  } finally {
    await store.close();
  }
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

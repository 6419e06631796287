/**
 * `npm run bench:startup` — how long `tilewatch --help` and `--version` take from process start to
 * exit, from the compiled build (dist/, built first when stale) and from the sources through tsx,
 * beside a bare `node -e 0`. Sequential spawns, the first of each discarded; prints median, min, max.
 *
 *   npm run bench:startup                 11 runs each
 *   npm run bench:startup -- --runs 31
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { childEnv } from '../support/cli.ts';
import { REPO_ROOT, argValue } from './shared.ts';

const RUNS = Math.max(3, Math.floor(Number(argValue(process.argv.slice(2), '--runs') ?? 11)));
const BIN = join(REPO_ROOT, 'bin', 'tilewatch.js');

const built = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: REPO_ROOT, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

function time(label: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): void {
  const ms: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, env: { ...childEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${label}: exit ${r.status}\n${r.stderr.toString()}`);
    if (i > 0) ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const f = (x: number): string => `${Math.round(x)} ms`.padStart(8);
  process.stdout.write(`${label.padEnd(40)} median ${f(ms[Math.floor(ms.length / 2)]!)}  min ${f(ms[0]!)}  max ${f(ms.at(-1)!)}\n`);
}

process.stdout.write(`start-up, ${RUNS} runs each (node ${process.version}, ${process.platform}/${process.arch})\n`);
time('node -e 0', ['-e', '0']);
time('tilewatch --help (build)', [BIN, '--help'], { TILEWATCH_ENTRY: 'build' });
time('tilewatch --version (build)', [BIN, '--version'], { TILEWATCH_ENTRY: 'build' });
time('tilewatch --help (sources, tsx)', [BIN, '--help'], { TILEWATCH_ENTRY: 'source' });
time('tilewatch --version (sources, tsx)', [BIN, '--version'], { TILEWATCH_ENTRY: 'source' });

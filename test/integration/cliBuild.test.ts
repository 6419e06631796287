/**
 * The compiled build (issue 17): `npm run build` compiles services/ to dist/; bin/tilewatch.js runs
 * it while it is up to date and the sources through tsx otherwise. Checks output, never timing
 * (test/bench/startup.bench.ts measures the start).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBuild } from '../../bin/freshBuild.js';
import { BIN, childEnv, REPO_ROOT, tempDir } from '../support/cli.ts';

const ROOT_URL = pathToFileURL(REPO_ROOT);
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** Modules `--help` and `--version` must not load: the store, Kafka, the API server, metrics, tsx. */
const HEAVY = ['chdb', 'kafkajs', 'fastify', '@clickhouse/client', 'prom-client', 'pino', 'tsx', 'koffi'];

/** Records every module the child resolves (one file: URL per line on stderr, marked). */
const TRACE_HOOK = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`export async function resolve(s, c, next) {
  const r = await next(s, c);
  if (r.url.startsWith('file:')) process.stderr.write('resolved ' + r.url + '\\\\n');
  return r;
}\`));
`;

/** Builds unless up to date (TILEWATCH_ENTRY=build below runs dist/ even if a source is edited meanwhile). */
function ensureBuild(): void {
  if (freshBuild(ROOT_URL)) return;
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `npm run build failed:\n${r.stderr}`);
}

function run(args: readonly string[], entry: 'build' | 'source', nodeArgs: readonly string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeArgs, BIN, ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...childEnv(), TILEWATCH_ENTRY: entry }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('compiled build', () => {
  test('--version and --help from dist/: the version, every command, and none of the heavy modules loaded', (t) => {
    ensureBuild();
    const version = run(['--version'], 'build');
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);

    const hook = join(tempDir(t, 'build-trace'), 'trace.mjs');
    writeFileSync(hook, TRACE_HOOK);
    for (const args of [['--help'], ['--version'], ['replay', '--help'], ['alerts', '--help']]) {
      const r = run(args, 'build', ['--import', pathToFileURL(hook).href]);
      assert.equal(r.code, 0, r.stderr);
      const loaded = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('resolved '))
        .map((l) => relative(REPO_ROOT, fileURLToPath(l.slice('resolved '.length))));
      assert.ok(loaded.includes(join('dist', 'cli', 'main.js')), `runs the build: ${loaded.join(', ')}`);
      assert.ok(!loaded.some((f) => f.startsWith('services')), 'no TypeScript source loaded');
      for (const m of HEAVY) {
        const hit = loaded.find((f) => f.startsWith(join('node_modules', m) + '/'));
        assert.equal(hit, undefined, `${args.join(' ')} loads ${m}`);
      }
    }

    const help = run(['--help'], 'build');
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: tilewatch \[options\] \[command\]/);
    for (const cmd of ['replay', 'ingest', 'serve', 'hunt', 'query', 'demo', 'check-config', 'alerts', 'api'])
      assert.match(help.stdout, new RegExp(`^  ${cmd}\\b`, 'm'), `--help lists ${cmd}`);
    // The same program as the sources.
    assert.equal(help.stdout, run(['--help'], 'source').stdout);
    assert.equal(run(['replay', '--help'], 'build').stdout, run(['replay', '--help'], 'source').stdout);
  });

  test('a command that opens the store runs from dist/ (migrations and schemas found from the build)', (t) => {
    ensureBuild();
    const data = join(tempDir(t, 'build-migrate'), 'data');
    const r = run(['migrate', '--data', data], 'build');
    assert.equal(r.code, 0, r.stderr);
    const q = run(['query', 'SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = {t:String}', '--param', 't=tile_requests', '--data', data, '--output', 'json'], 'build');
    assert.equal(q.code, 0, q.stderr);
    assert.equal(Number((JSON.parse(q.stdout) as { n: string | number }).n), 1);
  });

  test('every path resolved from import.meta.url in services/ is the same from the build (dist/ keeps the depth)', () => {
    const sources = readdirSync(join(REPO_ROOT, 'services'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    let checked = 0;
    for (const f of sources) {
      const text = readFileSync(join(REPO_ROOT, 'services', f), 'utf8');
      for (const m of text.matchAll(/new URL\(\s*'([^']+)'\s*,\s*import\.meta\.url\s*\)/g)) {
        const fromSource = new URL(m[1]!, pathToFileURL(join(REPO_ROOT, 'services', f))).href;
        const fromBuild = new URL(m[1]!, pathToFileURL(join(REPO_ROOT, 'dist', f.replace(/\.ts$/, '.js')))).href;
        assert.equal(fromBuild, fromSource, `services/${f}: ${m[1]} resolves elsewhere from dist/`);
        checked++;
      }
    }
    assert.ok(checked >= 3, `found the import.meta.url paths (${checked})`);
  });

  test('freshBuild: none without a stamp, stale once a source is newer than the build read it', (t) => {
    const root = tempDir(t, 'build-fresh');
    mkdirSync(join(root, 'services', 'cli'), { recursive: true });
    const source = join(root, 'services', 'cli', 'main.ts');
    writeFileSync(source, 'export {};\n');
    const rootUrl = pathToFileURL(root + '/');
    assert.equal(freshBuild(rootUrl), null, 'no build');
    mkdirSync(join(root, 'dist'));
    const asOf = Date.now();
    writeFileSync(join(root, 'dist', 'build.json'), JSON.stringify({ sourcesAsOf: asOf }));
    utimesSync(source, new Date(asOf - 5000), new Date(asOf - 5000));
    assert.equal(freshBuild(rootUrl), new URL('dist/cli/main.js', rootUrl).href, 'up to date');
    utimesSync(source, new Date(asOf + 5000), new Date(asOf + 5000));
    assert.equal(freshBuild(rootUrl), null, 'a newer source makes the build stale');
    writeFileSync(join(root, 'dist', 'build.json'), '{');
    assert.equal(freshBuild(rootUrl), null, 'a broken stamp is no build');
  });

  test('bin/tilewatch.js: the build while it is up to date, the sources (tsx) once stale or absent; TILEWATCH_ENTRY forces one', (t) => {
    // The real entry point in a small tree whose build and sources each say which ran.
    const root = tempDir(t, 'build-fallback');
    mkdirSync(join(root, 'bin'));
    for (const f of ['tilewatch.js', 'freshBuild.js']) writeFileSync(join(root, 'bin', f), readFileSync(join(REPO_ROOT, 'bin', f)));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}');
    const say = (what: string): string => `export async function main(argv) { process.stdout.write('${what} ' + argv.join(' ')); return 0; }\n`;
    mkdirSync(join(root, 'services', 'cli'), { recursive: true });
    const source = join(root, 'services', 'cli', 'main.ts');
    writeFileSync(source, say('source').replace('(argv)', '(argv: string[]): Promise<number>'));
    const entry = (env: Record<string, string> = {}): { code: number | null; out: string; err: string } => {
      const r = spawnSync(process.execPath, [join(root, 'bin', 'tilewatch.js'), '--version'], { encoding: 'utf8', env: { ...childEnv(), ...env } });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    assert.equal(entry().out, 'source --version', 'no build: the sources');
    const refused = entry({ TILEWATCH_ENTRY: 'build' });
    assert.equal(refused.code, 1);
    assert.match(refused.err, /no build in dist\/ \(run npm run build\)/);

    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(root, 'dist', 'cli', 'main.js'), say('build'));
    const asOf = Date.now();
    writeFileSync(join(root, 'dist', 'build.json'), JSON.stringify({ sourcesAsOf: asOf }));
    utimesSync(source, new Date(asOf - 5000), new Date(asOf - 5000));
    assert.equal(entry().out, 'build --version', 'up to date: the build');
    assert.equal(entry({ TILEWATCH_ENTRY: 'source' }).out, 'source --version');
    utimesSync(source, new Date(asOf + 5000), new Date(asOf + 5000));
    assert.equal(entry().out, 'source --version', 'a source edited after the build: the sources');
    assert.equal(entry({ TILEWATCH_ENTRY: 'build' }).out, 'build --version', 'forced: the build, stale or not');
  });
});

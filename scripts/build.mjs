#!/usr/bin/env node
// npm run build: compiles services/ to dist/ with tsc (tsconfig.build.json; no type check there,
// `npm run typecheck` does that) for a fast start of bin/tilewatch.js, which runs dist/ only while
// no source is newer than this build (bin/freshBuild.js). dist/ keeps services/' depth, so paths
// resolved from import.meta.url (schemas/, package.json) are the same in both.
// --if-stale: do nothing when dist/ is up to date (scripts/ensure-deps.sh).
// The new tree is written beside dist/ and renamed into place: a CLI starting meanwhile runs either
// the old build or, while dist/ is absent for an instant, the sources.
import { spawnSync } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_DIR, BUILD_STAMP, freshBuild } from '../bin/freshBuild.js';

const rootUrl = new URL('../', import.meta.url);
const root = fileURLToPath(rootUrl);
if (process.argv.includes('--if-stale') && freshBuild(rootUrl)) process.exit(0);

// Sources saved from here on make the build stale; the margin covers coarse file-system clocks.
const sourcesAsOf = Date.now() - 100;
const tmp = join(root, `${BUILD_DIR}.tmp-${process.pid}`);
const old = join(root, `${BUILD_DIR}.old-${process.pid}`);
const dist = join(root, BUILD_DIR);
const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('build: typescript is not installed (npm install); bin/tilewatch.js runs the sources with tsx\n');
  process.exit(1);
}
const started = performance.now();
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], { stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(tmp, { recursive: true, force: true });
  process.exit(r.status ?? 1);
}
writeFileSync(join(tmp, BUILD_STAMP), JSON.stringify({ sourcesAsOf, typescript: require('typescript/package.json').version }) + '\n');
try {
  renameSync(dist, old);
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}
try {
  renameSync(tmp, dist);
} catch (e) {
  // Another build swapped its tree in between our two renames: it is as new as ours.
  if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
  rmSync(tmp, { recursive: true, force: true });
}
rmSync(old, { recursive: true, force: true });
process.stderr.write(`build: ${BUILD_DIR}/ in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

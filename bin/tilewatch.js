#!/usr/bin/env node
// Entry point: runs the compiled build (dist/, `npm run build`) when it is up to date with the
// sources, else registers the TypeScript loader (tsx) and runs the sources. TILEWATCH_ENTRY=source
// forces the sources; TILEWATCH_ENTRY=build the build, even if older than the sources (exit 1 when
// there is none).
import { freshBuild } from './freshBuild.js';

const root = new URL('../', import.meta.url);
const entry = process.env.TILEWATCH_ENTRY;
const built = entry === 'source' ? null : freshBuild(root, entry === 'build');
let main;
if (built) {
  ({ main } = await import(built));
} else if (entry === 'build') {
  process.stderr.write('tilewatch: no build in dist/ (run npm run build)\n');
  process.exit(1);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../services/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));

// Whether the compiled build (dist/, written by `npm run build`) may run: it records when it read
// the sources (dist/build.json); it is stale once any services/**/*.ts is newer than that. A few
// milliseconds: one recursive directory listing and a stat per source file.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILD_DIR = 'dist';
export const BUILD_STAMP = 'build.json';

/**
 * The URL of the build's CLI module when the build under `root` is present and up to date (or just
 * present, with `anyAge`), else null.
 */
export function freshBuild(root, anyAge = false) {
  const rootDir = fileURLToPath(root);
  let sourcesAsOf;
  try {
    sourcesAsOf = JSON.parse(readFileSync(join(rootDir, BUILD_DIR, BUILD_STAMP), 'utf8')).sourcesAsOf;
  } catch {
    return null;
  }
  if (typeof sourcesAsOf !== 'number') return null;
  if (anyAge) return new URL(`${BUILD_DIR}/cli/main.js`, root).href;
  try {
    for (const e of readdirSync(join(rootDir, 'services'), { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue;
      // parentPath from Node 20.12; path before it.
      if (statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs > sourcesAsOf) return null;
    }
  } catch {
    // A file removed while listing, or a Node without recursive listings: the sources it is.
    return null;
  }
  return new URL(`${BUILD_DIR}/cli/main.js`, root).href;
}

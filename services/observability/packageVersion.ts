import { readFileSync } from 'node:fs';

/** The version in package.json (its own module: `--version` must not load prom-client). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

import { closeSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';

/**
 * Points file descriptor 0 at /dev/null when tilewatch does not read its standard input.
 *
 * Why: the embedded engine (chDB) treats data waiting on the process's stdin as the body of an
 * INSERT, so `cat x | tilewatch replay file.log` or a CI runner's open pipe made every insert fail
 * ("both inlined and external data"). Closing fd 0 and opening /dev/null reuses the lowest free
 * descriptor, 0. Call it before the store opens, and only when no input is '-'.
 */
export function detachStdin(): void {
  if (isatty(0)) return;
  try {
    closeSync(0);
    const fd = openSync('/dev/null', 'r');
    if (fd !== 0) closeSync(fd);
  } catch {
    // No stdin to detach (already closed): nothing to protect against.
  }
}

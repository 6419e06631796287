import type { Logger } from 'pino';
import { EXIT } from '../exitCodes.ts';

/**
 * The stop of a long-running command (ingest, follow): once, whatever signals arrive; bounded by
 * `timeoutMs`, after which the process exits with a failure and `lostNote` says what the next start
 * reads again. `steps` store and close what is held and give the exit code.
 */
export function gracefulStop(log: Logger, opts: { timeoutMs: number; what: string; lostNote: string }, steps: () => Promise<number>): (signal: string) => Promise<number> {
  let stopping: Promise<number> | null = null;
  return (signal) => {
    stopping ??= (async () => {
      log.info({ signal }, `stopping: ${opts.what}`);
      const timer = setTimeout(() => {
        log.error({ timeoutMs: opts.timeoutMs }, `shutdown did not finish in time; exiting (${opts.lostNote})`);
        process.exit(EXIT.FAILURE);
      }, opts.timeoutMs);
      timer.unref();
      try {
        return await steps();
      } catch (err) {
        log.error({ err }, 'stop failed');
        return EXIT.FAILURE;
      }
    })();
    return stopping;
  };
}

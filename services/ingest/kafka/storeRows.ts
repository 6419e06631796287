import type { MessageProducer } from '../../kafka/producer.ts';
import { dedupSettings, insertBisecting, rejectedRowsAsDeadLetters } from '../../store/insertBisecting.ts';
import type { Store } from '../../store/openStore.ts';
import { DEAD_LETTER_COLUMNS, TILE_REQUEST_COLUMNS } from '../../store/tileRequestRows.ts';
import type { AssembledBatch } from './batchAssembly.ts';

export interface RowsTarget {
  readonly store: Store;
  /** Also produce each dead letter here, before its batch is stored. */
  readonly deadLetterTopic?: { readonly topic: string; readonly producer: MessageProducer } | undefined;
  /** Runs one write, retrying it while its target is out (the caller's backoff); rejects on anything else. */
  readonly attempt: (what: string, fn: () => Promise<void>) => Promise<void>;
  /** Wall clock for the receipt time of rows the engine refused. */
  readonly now: () => number;
}

/**
 * Stores one closed batch, every write with the batch's deduplication token so a retry is
 * identical: its dead letters to the dead-letter topic first (a crash before the store re-sends
 * them: at least once), then tile_requests (rows the engine still refuses are bisected out and
 * become dead letters: a poison message never stops the consumer), then dead_letters. Returns what
 * was stored.
 */
export async function storeRows(t: RowsTarget, b: AssembledBatch, token: string): Promise<{ rowCount: number; deadCount: number; rejectedCount: number }> {
  const dlt = t.deadLetterTopic;
  if (b.deadLetterMessages.length > 0 && dlt) await t.attempt('dead-letter topic', () => dlt.producer.send(dlt.topic, b.deadLetterMessages));
  const rejected =
    b.rowCount > 0
      ? await insertBisecting(t.store, {
          table: 'tile_requests',
          columns: TILE_REQUEST_COLUMNS,
          body: b.rows,
          token,
          attempt: (fn) => t.attempt('tile_requests', async () => void (await fn())),
        })
      : [];
  const dead = rejected.length > 0 ? Buffer.concat([b.dead, rejectedRowsAsDeadLetters(rejected, t.now())]) : b.dead;
  const deadCount = b.deadCount + rejected.length;
  if (deadCount > 0) {
    await t.attempt('dead_letters', () =>
      t.store.insertRaw({ table: 'dead_letters', columns: DEAD_LETTER_COLUMNS, body: dead, format: 'TabSeparated', settings: dedupSettings(`${token}:dl`) }),
    );
  }
  return { rowCount: b.rowCount - rejected.length, deadCount, rejectedCount: rejected.length };
}

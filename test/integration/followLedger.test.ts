/**
 * Where followed logs stand (services/ingest/follow/followLedger.ts) on the real schema in chDB: the
 * newest batch of each log by its numeric end offset, and whether its store was confirmed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { followSourceId, readFollowState, writeIntent, type FollowIntent } from '../../services/ingest/follow/followLedger.ts';
import { BatchWriter, batchToken } from '../../services/store/batchWriter.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';

test('the newest batch per log is the one with the highest end offset (numeric, not text); an unconfirmed one is reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-followledger-'));
  const store = await openStore({ kind: 'embedded', dataDir: dir });
  try {
    await migrate(store.client);
    const key = '65024:77:abcdef0123456789';
    const intent = (start: number, end: number, firstLine: number, nextLine: number): FollowIntent => ({
      key,
      path: '/var/log/nginx/access.log',
      dev: 65024,
      ino: 77,
      head: 'ab'.repeat(32),
      start,
      end,
      firstLine,
      nextLine,
      lastLineHash: `h${end}`,
      token: batchToken({ sourceId: followSourceId(key), partition: -1, firstLine: start, lastLine: end }),
    });
    const writer = new BatchWriter({ store });
    // Three stored batches whose end offsets sort differently as text (8942 > 48895 > 120000).
    for (const i of [intent(0, 8942, 1, 46), intent(8942, 48895, 46, 227), intent(48895, 120_000, 227, 600)]) {
      await writeIntent(store, i, Date.now());
      await writer.write({ sourceId: followSourceId(key), file: i.path, partition: -1, firstLine: i.start, lastLine: i.end, rows: Buffer.alloc(0), rowCount: 0, deadLetters: Buffer.alloc(0), deadLetterCount: 0 });
      await writer.drain();
    }
    let s = await readFollowState(store);
    assert.equal(s.positions.get(key)?.offset, 120_000);
    assert.equal(s.positions.get(key)?.nextLine, 600);
    assert.equal(s.positions.get(key)?.lastLineHash, 'h120000');
    assert.deepEqual(s.unstored, []);
    // A batch recorded, then the process died before its store: reported with its range and token.
    const pending = intent(120_000, 130_500, 600, 650);
    await writeIntent(store, pending, Date.now());
    s = await readFollowState(store);
    assert.equal(s.positions.get(key)?.offset, 130_500);
    assert.deepEqual(s.unstored, [pending]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The unit state of Kafka ingest (services/ingest/kafka/unitState.ts) on the real engine: where each
 * partition's stored data ends comes from the confirmations; a unit with an intent beyond its
 * partition's end is open (whichever of its partitions is asked about), one confirmed is not; two
 * clusters with a topic of the same name keep apart; a store from before the unit state is read once
 * by scanning tile_requests and dead_letters, recorded as a confirmation, and never scanned again.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { confirmUnit, readStreamState, recordUnit, streamId } from '../../services/ingest/kafka/unitState.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore, type Store } from '../../services/store/openStore.ts';
import { DEAD_LETTER_COLUMNS } from '../../services/store/tileRequestRows.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

// Wall time: kafka_units rows older than its 30-day TTL are dropped on insert.
const T = Date.now();

describe('Kafka unit state (chDB)', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tw-unit-state-'));
    store = await openStore({ kind: 'embedded', dataDir: join(dir, 'data') });
    await migrate(store.client);
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends come from confirmations; an intent without one is an open unit, with all its ranges', async () => {
    const s = streamId('cluster-a', 'tiles');
    const u1 = new Map([
      [0, { first: 0, last: 99 }],
      [1, { first: 0, last: 49 }],
    ]);
    const u2 = new Map([
      [0, { first: 100, last: 149 }],
      [2, { first: 0, last: 9 }],
    ]);
    await recordUnit(store, s, 'tok-1', u1, 'm1', T);
    await confirmUnit(store, s, 'tok-1', u1, T + 1);
    await recordUnit(store, s, 'tok-2', u2, 'm1', T + 2);
    const st = await readStreamState(store, s, 'tiles', 'kafka:tiles', [0, 1]);
    assert.deepEqual(Object.fromEntries(st.stored), { 0: { data: 99, dead: 99 }, 1: { data: 49, dead: 49 } });
    assert.equal(st.open.length, 1);
    assert.equal(st.open[0]!.token, 'tok-2');
    assert.deepEqual(Object.fromEntries(st.open[0]!.ranges), { 0: { first: 100, last: 149 }, 2: { first: 0, last: 9 } }, 'also the range of partition 2, not asked about');
    // Asked about partition 2 only: the same unit.
    const only2 = await readStreamState(store, s, 'tiles', 'kafka:tiles', [2]);
    assert.deepEqual(Object.fromEntries(only2.stored), { 2: { data: -1, dead: -1 } });
    assert.deepEqual(only2.open.map((u) => u.token), ['tok-2']);
    // Once confirmed, nothing is open and the ends moved.
    await confirmUnit(store, s, 'tok-2', u2, T + 3);
    const done = await readStreamState(store, s, 'tiles', 'kafka:tiles', [0, 1, 2]);
    assert.deepEqual(done.open, []);
    assert.deepEqual(Object.fromEntries(done.stored), { 0: { data: 149, dead: 149 }, 1: { data: 49, dead: 49 }, 2: { data: 9, dead: 9 } });
    // Another cluster's topic of the same name shares nothing.
    const other = await readStreamState(store, streamId('cluster-b', 'tiles'), 'tiles', 'kafka:tiles', [0]);
    assert.deepEqual(Object.fromEntries(other.stored), { 0: { data: -1, dead: -1 } });
    assert.deepEqual(other.open, []);
  });

  it('a store from before the unit state: one scan of the lineage columns, recorded, then confirmations only', async () => {
    const topic = 'legacy';
    const source = `kafka:${topic}`;
    // Rows an older version stored: dead letters of partition 3 up to offset 7, partition 4 up to 12.
    const dead = (p: number, line: number): string => [new Date(T).toISOString().replace('T', ' ').replace('Z', ''), source, p, line, 'old', 'x'].join('\t');
    assert.deepEqual(DEAD_LETTER_COLUMNS.slice(0, 4), ['received_at', 'source', 'partition', 'line'], 'the columns this test writes');
    const body = Buffer.from([dead(3, 5), dead(3, 7), dead(4, 12)].join('\n') + '\n');
    await store.insertRaw({ table: 'dead_letters', columns: DEAD_LETTER_COLUMNS.slice(0, 6), body, format: 'TabSeparated' });
    const s = streamId('cluster-a', topic);
    const st = await readStreamState(store, s, topic, source, [3]);
    assert.deepEqual(Object.fromEntries(st.stored), { 3: { data: 7, dead: 7 } });
    const recorded = await store.client.query({ query: "SELECT partition, last_offset FROM kafka_offsets WHERE token = 'legacy-scan' ORDER BY partition", format: 'JSONEachRow' });
    assert.deepEqual(await recorded.json(), [
      { partition: 3, last_offset: 7 },
      { partition: 4, last_offset: 12 },
    ]);
    // Later rows of the old kind are not scanned again: the confirmations answer.
    await store.insertRaw({ table: 'dead_letters', columns: DEAD_LETTER_COLUMNS.slice(0, 6), body: Buffer.from(dead(4, 40) + '\n'), format: 'TabSeparated' });
    const again = await readStreamState(store, s, topic, source, [4]);
    assert.deepEqual(Object.fromEntries(again.stored), { 4: { data: 12, dead: 12 } });
  });
});

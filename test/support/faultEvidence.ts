/**
 * What a fault left behind, read after it (the ingest stopped): so a fault test can show that its
 * fault landed where it claims (a kill -9 between a batch's insert and its commit, or between its
 * intent and its confirmation) instead of passing on the clean run that follows it.
 */
import { withStore } from './store.ts';
import { committedOffsets } from './kafka.ts';

export interface StoreState {
  /** Every stored Kafka (partition/offset) pair of tile_requests, duplicates included. */
  readonly pairs: string[];
  /** Per partition: one past the highest offset stored in tile_requests. */
  readonly storedEnd: ReadonlyMap<number, number>;
  /** The group's committed offset per partition (-1 where none). */
  readonly committed: ReadonlyMap<number, number>;
  /** Tokens of units whose intent (kafka_units) has no confirmation (kafka_offsets) on some partition. */
  readonly openUnits: ReadonlySet<string>;
}

/** Reads the store (no process may hold `data`) and the group's committed offsets. */
export async function storeState(data: string, bootstrap: string, group: string, topic: string): Promise<StoreState> {
  const { pairs, open } = await withStore(data, async (r) => ({
    pairs: (await r.rows<{ partition: number; line: string }>("SELECT partition, toString(line) AS line FROM tile_requests WHERE source LIKE 'kafka:%'")).map(
      (x) => `${x.partition}/${x.line}`,
    ),
    // The query of the kill-before-confirmation test (kafkaFaults.test.ts): a range beyond its partition's highest confirmation.
    open: await r.rows<{ token: string }>(
      `SELECT DISTINCT u.token AS token FROM kafka_units AS u
       WHERE u.last_offset > (SELECT coalesce(max(o.last_offset), -1) FROM kafka_offsets AS o WHERE o.stream = u.stream AND o.partition = u.partition)`,
    ),
  }));
  const storedEnd = new Map<number, number>();
  for (const pair of pairs) {
    const [p, o] = pair.split('/').map(Number) as [number, number];
    storedEnd.set(p, Math.max(storedEnd.get(p) ?? 0, o + 1));
  }
  return { pairs, storedEnd, committed: await committedOffsets(bootstrap, group, topic), openUnits: new Set(open.map((u) => u.token)) };
}

export interface KillWindow {
  /** Partitions this run stored further than before and the group has not committed that far: killed between insert and commit. */
  readonly aheadOfCommitted: number[];
  /** Units this run wrote the intent of and never confirmed: killed between intent and confirmation. */
  readonly newOpenUnits: string[];
  readonly hit: boolean;
}

/** Whether the run between `before` and `after` (a kill) was killed inside a batch's store-to-commit window. */
export function killWindow(before: StoreState | null, after: StoreState): KillWindow {
  const aheadOfCommitted = [...after.storedEnd]
    .filter(([p, end]) => end > (after.committed.get(p) ?? -1) && end > (before?.storedEnd.get(p) ?? 0))
    .map(([p]) => p)
    .sort((a, b) => a - b);
  const newOpenUnits = [...after.openUnits].filter((t) => !before?.openUnits.has(t));
  return { aheadOfCommitted, newOpenUnits, hit: aheadOfCommitted.length > 0 || newOpenUnits.length > 0 };
}

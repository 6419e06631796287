import type { Store } from '../../store/openStore.ts';
import { jsonEachRow } from '../../store/openStore.ts';
import { NO_TIME_LIMIT, readRows } from '../../store/sql.ts';
import type { OffsetRange, StoredOffsets } from './offsetLedger.ts';

/**
 * The exactly-once state of Kafka batches ("units") in the store (tables kafka_units and
 * kafka_offsets, migration 013): an intent row per partition range before a unit's inserts, a
 * confirmation per partition after them. Where each partition's stored data ends is read from the
 * confirmations, not by scanning tile_requests; a unit with a range beyond its partition's end is
 * unconfirmed and is repaired by whoever is assigned one of its partitions (unitRepair.ts).
 */

/** One unconfirmed unit: its token and its range per partition. */
export interface OpenUnit {
  readonly token: string;
  readonly ranges: ReadonlyMap<number, OffsetRange>;
}

export interface StreamState {
  /** Where the stored data of each asked partition ends (-1: nothing stored). */
  readonly stored: Map<number, StoredOffsets>;
  /** Units touching the asked partitions that were cut but not confirmed, oldest first. */
  readonly open: OpenUnit[];
}

/**
 * The stream id of a topic on a cluster: `<cluster id>/<topic>`. Two clusters with a topic of the same
 * name keep apart; the lineage `source` of stored rows stays `kafka:<topic>`.
 */
export function streamId(clusterId: string, topic: string): string {
  return `${clusterId}/${topic}`;
}

/** Written before a unit's inserts: its ranges, with how many messages each holds. */
export async function recordUnit(store: Store, stream: string, token: string, ranges: ReadonlyMap<number, OffsetRange>, member: string, now: number): Promise<void> {
  const rows = [...ranges].map(([partition, r]) => ({ stream, token, partition, first_offset: r.first, last_offset: r.last, rows: r.last - r.first + 1, member, written_at: now }));
  await store.insertRaw({ table: 'kafka_units', body: jsonEachRow(rows), format: 'JSONEachRow', settings: { date_time_input_format: 'best_effort' } });
}

/** Written after a unit's inserts: each of its partitions is stored up to its range's end. */
export async function confirmUnit(store: Store, stream: string, token: string, ranges: ReadonlyMap<number, OffsetRange>, now: number): Promise<void> {
  const rows = [...ranges].map(([partition, r]) => ({ stream, partition, last_offset: r.last, token, event_ts: r.eventTs !== undefined && Number.isFinite(r.eventTs) ? Math.round(r.eventTs) : 0, stored_at: now }));
  await store.insertRaw({ table: 'kafka_offsets', body: jsonEachRow(rows), format: 'JSONEachRow', settings: { date_time_input_format: 'best_effort' } });
}

async function confirmedEnds(store: Store, stream: string, partitions: readonly number[], eventTs?: Map<number, number>): Promise<Map<number, number>> {
  const rows = await readRows<{ partition: number; last: string; ts: string }>(
    store.client,
    'SELECT partition, toString(max(last_offset)) AS last, toString(max(event_ts)) AS ts FROM kafka_offsets WHERE stream = {stream:String} AND partition IN {parts:Array(Int32)} GROUP BY partition',
    { stream, parts: [...partitions] },
    NO_TIME_LIMIT,
  );
  for (const r of rows) if (Number(r.ts) > 0) eventTs?.set(Number(r.partition), Number(r.ts));
  return new Map(rows.map((r) => [Number(r.partition), Number(r.last)]));
}

/**
 * Stores written before the unit state existed: the highest stored offset per partition of the
 * lineage source, read once by scanning tile_requests and dead_letters (only while no partition of the
 * topic has a confirmation on any cluster).
 */
async function legacyEnds(store: Store, source: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const table of ['tile_requests', 'dead_letters']) {
    const rows = await readRows<{ partition: number; max: string }>(
      store.client,
      `SELECT partition, toString(max(line)) AS max FROM ${table} WHERE source = {source:String} GROUP BY partition`,
      { source },
      NO_TIME_LIMIT,
    );
    // The higher end of the two tables: nothing is stored twice. (An older version inserted a batch's
    // rows and its dead letters one after the other; a crash between the two lost those dead letters.)
    for (const r of rows) out.set(Number(r.partition), Math.max(out.get(Number(r.partition)) ?? -1, Number(r.max)));
  }
  return out;
}

/**
 * Where the asked partitions stand, and the unconfirmed units touching them. `topic` and `source`
 * only serve the one-time reading of a store from before the unit state (see {@link legacyEnds}).
 */
export async function readStreamState(store: Store, stream: string, topic: string, source: string, partitions: readonly number[]): Promise<StreamState> {
  const stored = new Map<number, StoredOffsets>();
  if (partitions.length === 0) return { stored, open: [] };
  const eventTs = new Map<number, number>();
  let ends = await confirmedEnds(store, stream, partitions, eventTs);
  if (ends.size === 0) {
    const anyOnTopic = await readRows<{ n: string }>(
      store.client,
      'SELECT toString(count()) AS n FROM kafka_offsets WHERE endsWith(stream, {suffix:String})',
      { suffix: `/${topic}` },
      NO_TIME_LIMIT,
    );
    if (Number(anyOnTopic[0]?.n ?? 0) === 0) {
      const legacy = await legacyEnds(store, source);
      if (legacy.size > 0) {
        // Recorded as confirmations, so this scan happens once per store.
        await confirmUnit(store, stream, 'legacy-scan', new Map([...legacy].map(([p, last]) => [p, { first: last, last }])), Date.now());
        ends = new Map([...legacy].filter(([p]) => partitions.includes(p)));
      }
    }
  }
  for (const p of partitions) {
    const end = ends.get(p) ?? -1;
    const ts = eventTs.get(p);
    stored.set(p, ts !== undefined ? { data: end, dead: end, eventTs: ts } : { data: end, dead: end });
  }
  // Units with a range of an asked partition beyond its end; then every range of those units.
  const tokens = await readRows<{ token: string }>(
    store.client,
    `SELECT DISTINCT token FROM kafka_units
     WHERE stream = {stream:String} AND partition IN {parts:Array(Int32)}
       AND last_offset > transform(partition, {parts:Array(Int32)}, {ends:Array(Int64)}, toInt64(-1))`,
    { stream, parts: [...partitions], ends: partitions.map((p) => ends.get(p) ?? -1) },
    NO_TIME_LIMIT,
  );
  if (tokens.length === 0) return { stored, open: [] };
  const rows = await readRows<{ token: string; partition: number; first: string; last: string; at: string }>(
    store.client,
    `SELECT token, partition, toString(first_offset) AS first, toString(last_offset) AS last, toString(min(written_at) OVER (PARTITION BY token)) AS at
     FROM kafka_units WHERE stream = {stream:String} AND token IN {tokens:Array(String)} ORDER BY at, token, partition`,
    { stream, tokens: tokens.map((t) => t.token) },
    NO_TIME_LIMIT,
  );
  const otherEnds = await confirmedEnds(store, stream, [...new Set(rows.map((r) => Number(r.partition)))]);
  const units = new Map<string, Map<number, OffsetRange>>();
  for (const r of rows) {
    let u = units.get(r.token);
    if (!u) units.set(r.token, (u = new Map()));
    u.set(Number(r.partition), { first: Number(r.first), last: Number(r.last) });
  }
  const open: OpenUnit[] = [];
  for (const [token, ranges] of units) {
    // Unconfirmed when any of its ranges ends beyond its partition's stored end (a confirmation covers all of a unit's partitions at once).
    if ([...ranges].some(([p, r]) => r.last > (otherEnds.get(p) ?? -1))) open.push({ token, ranges });
  }
  return { stored, open };
}

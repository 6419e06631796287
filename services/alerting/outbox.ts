import type { Alert } from '../core/alert.ts';
import type { Store } from '../store/openStore.ts';
import { execute, NO_TIME_LIMIT, readRows } from '../store/sql.ts';

/**
 * What an alert version is for the sinks (the `outbox` column of `alerts`, `kind` of `alert_outbox`):
 * nothing, an incident notice (every sink), or an update between notices (only the sinks that follow
 * every version, the block list).
 */
export const OUTBOX_NONE = 0;
export const OUTBOX_NOTICE = 1;
export const OUTBOX_UPDATE = 2;
export type OutboxKind = typeof OUTBOX_NONE | typeof OUTBOX_NOTICE | typeof OUTBOX_UPDATE;

/** One version waiting in the outbox, at its position in its writer's sequence. */
export interface OutboxEntry {
  readonly seq: number;
  /** True for an incident notice, false for an update only every-version sinks take. */
  readonly notice: boolean;
  readonly alert: Alert;
}

/**
 * The durable side of alert delivery for one writer (`origin`): the versions the alerts table stored
 * for the sinks, read in batches in sequence order, and where each sink stands.
 */
export interface OutboxStore {
  readonly origin: string;
  /**
   * Entries after `afterSeq` up to `upToSeq` (inclusive), in sequence order, of at most `limit`
   * positions, of every kind (a sink skips what is not for it, and a missing position is a gap the
   * reader sees). A position holds one entry, or several when two writers shared the origin.
   */
  read(afterSeq: number, upToSeq: number, limit: number): Promise<OutboxEntry[]>;
  /** How many entries after `afterSeq` up to `upToSeq` are for a sink (notices, and updates when `everyVersion`). */
  count(afterSeq: number, upToSeq: number, everyVersion: boolean): Promise<number>;
  /** The last position each sink of this origin passed (sinks never saved are absent). */
  cursors(): Promise<Map<string, number>>;
  /** Records positions; the highest saved per sink wins. */
  saveCursors(positions: ReadonlyArray<{ readonly sink: string; readonly seq: number }>): Promise<void>;
  /** The highest position written for this origin (0 when none): the next version gets one more. */
  lastSeq(): Promise<number>;
}

/**
 * The outbox in ClickHouse (schemas/clickhouse/012_alert_outbox.sql): `alert_outbox`, filled by the
 * materialized view over `alerts`, and `sink_cursors`. Reads are batched (one statement per `limit`
 * entries); parameterised SQL only.
 */
export function clickhouseOutbox(store: Pick<Store, 'client'>, origin: string): OutboxStore {
  const client = store.client;
  return {
    origin,
    async read(afterSeq, upToSeq, limit) {
      // One row per position; a position written twice (an insert repeated after a failure) is one
      // entry, but two different versions under one position (two processes sharing this origin)
      // are both returned rather than one hidden.
      const rows = await readRows<{ seq: number; entries: Array<[number, string]> }>(
        client,
        `SELECT seq, groupUniqArray((kind, body)) AS entries FROM alert_outbox
         WHERE origin = {origin:String} AND seq > {after:UInt64} AND seq <= {upTo:UInt64}
         GROUP BY seq ORDER BY seq LIMIT {limit:UInt32}`,
        { origin, after: afterSeq, upTo: upToSeq, limit },
        NO_TIME_LIMIT,
      );
      return rows.flatMap((r) => r.entries.map(([kind, body]) => ({ seq: Number(r.seq), notice: Number(kind) === OUTBOX_NOTICE, alert: JSON.parse(body) as Alert })));
    },
    async count(afterSeq, upToSeq, everyVersion) {
      const [row] = await readRows<{ n: number }>(
        client,
        `SELECT uniqExact(seq) AS n FROM alert_outbox
         WHERE origin = {origin:String} AND seq > {after:UInt64} AND seq <= {upTo:UInt64} AND kind IN {kinds:Array(UInt8)}`,
        { origin, after: afterSeq, upTo: upToSeq, kinds: everyVersion ? [OUTBOX_NOTICE, OUTBOX_UPDATE] : [OUTBOX_NOTICE] },
        NO_TIME_LIMIT,
      );
      return Number(row?.n ?? 0);
    },
    async cursors() {
      const rows = await readRows<{ sink: string; seq: number }>(
        client,
        'SELECT sink, max(seq) AS seq FROM sink_cursors WHERE origin = {origin:String} GROUP BY sink',
        { origin },
        NO_TIME_LIMIT,
      );
      return new Map(rows.map((r) => [r.sink, Number(r.seq)]));
    },
    async saveCursors(positions) {
      if (positions.length === 0) return;
      // INSERT … SELECT with parameters: no inline data (see store/migrate.ts).
      await execute(
        client,
        `INSERT INTO sink_cursors (origin, sink, seq, updated_at)
         SELECT {origin:String}, p.1, p.2, now64(3) FROM (SELECT arrayJoin(arrayZip({sinks:Array(String)}, {seqs:Array(UInt64)})) AS p)`,
        { origin, sinks: positions.map((p) => p.sink), seqs: positions.map((p) => p.seq) },
      );
    },
    async lastSeq() {
      // The outbox, the alerts rows it was copied from (should a copy be missing) and the cursors (should
      // the outbox rows have expired): a new position is never one a sink has passed.
      const [row] = await readRows<{ seq: number }>(
        client,
        `SELECT greatest(
           (SELECT max(seq) FROM alert_outbox WHERE origin = {origin:String}),
           (SELECT max(outbox_seq) FROM alerts WHERE outbox_origin = {origin:String}),
           (SELECT max(seq) FROM sink_cursors WHERE origin = {origin:String})) AS seq`,
        { origin },
        NO_TIME_LIMIT,
      );
      return Number(row?.seq ?? 0);
    },
  };
}

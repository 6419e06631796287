/**
 * An in-memory Store (services/store/openStore.ts) with what Kafka ingest uses of ClickHouse:
 * - insertRaw of TabSeparated bodies: every attempt is recorded with its deduplication token and
 *   bytes; a block whose token the table already stored is dropped (ClickHouse's insert
 *   deduplication); failures are scripted per table ({@link failNext}); a table can be held
 *   ({@link hold}: a slow store) until the test releases it;
 * - the reads of services/ingest/kafka/storedState.ts answered from what was inserted: the highest
 *   stored line (offset) per partition of a source in tile_requests and dead_letters, and the alert
 *   versions in {@link alertVersions}; the detector restore read (restoreDetector.ts) answers no rows.
 * Any other query throws, so a new read in the code under test is noticed here.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { RawInsert, Store } from '../../services/store/openStore.ts';

export interface InsertAttempt {
  readonly table: string;
  readonly token: string | undefined;
  readonly body: Buffer;
  /** 'stored', 'deduplicated' (token already stored), or the scripted error's message. */
  readonly outcome: string;
}

interface QueryArgs {
  readonly query: string;
  readonly query_params?: Record<string, unknown>;
  readonly format?: string;
}

export class FakeStore {
  /** Stored rows per table, each a column → TSV field map (fields as sent, still escaped). */
  readonly tables = new Map<string, Array<Record<string, string>>>();
  readonly attempts: InsertAttempt[] = [];
  /** Highest version per alert id, for the alerts-table read. */
  readonly alertVersions = new Map<string, number>();
  /** Reads answered, by kind ('stored offsets', 'alert versions', 'restore'). */
  readonly reads: string[] = [];
  private readonly tokens = new Map<string, Set<string>>();
  private readonly failures = new Map<string, { remaining: number; message: string }>();
  private readonly holds = new Map<string, Promise<void>>();

  constructor(
    /** Receives 'insert <table> <token>' for each stored (or deduplicated) insert, for ordering checks. */
    private readonly journal: string[] = [],
  ) {}

  /** The next `n` inserts into `table` fail with `message` (default: a retryable timeout). */
  failNext(table: string, n: number, message = 'Code: 159. DB::Exception: Timeout exceeded: elapsed 30 seconds. (TIMEOUT_EXCEEDED)'): void {
    this.failures.set(table, { remaining: n, message });
  }

  /** Inserts into `table` wait from now until the returned function is called. */
  hold(table: string): () => void {
    let release!: () => void;
    this.holds.set(table, new Promise<void>((r) => (release = r)));
    return () => {
      this.holds.delete(table);
      release();
    };
  }

  /** Stored rows of a table. */
  rows(table: string): ReadonlyArray<Record<string, string>> {
    return this.tables.get(table) ?? [];
  }

  /** `partition/line` of every stored row of a table, in insert order. */
  lineage(table: string): string[] {
    return this.rows(table).map((r) => `${r.partition}/${r.line}`);
  }

  /** Attempts at one table. */
  attemptsAt(table: string): InsertAttempt[] {
    return this.attempts.filter((a) => a.table === table);
  }

  readonly store: Store = {
    client: { query: (q: QueryArgs) => this.query(q) } as unknown as ClickHouseClient,
    target: { kind: 'embedded', dataDir: '/nonexistent/fake-store' },
    description: 'in-memory fake store',
    insertRaw: (ins) => this.insertRaw(ins),
    close: () => Promise.resolve(),
  };

  private async insertRaw(ins: RawInsert): Promise<void> {
    const held = this.holds.get(ins.table);
    if (held) await held;
    const token = ins.settings?.insert_deduplication_token === undefined ? undefined : String(ins.settings.insert_deduplication_token);
    const record = (outcome: string): void => void this.attempts.push({ table: ins.table, token, body: Buffer.from(ins.body), outcome });
    const failure = this.failures.get(ins.table);
    if (failure && failure.remaining > 0) {
      failure.remaining--;
      record(failure.message);
      throw new Error(failure.message);
    }
    if (ins.format === 'JSONEachRow' && (ins.table === 'kafka_units' || ins.table === 'kafka_offsets')) {
      // The unit state (services/ingest/kafka/unitState.ts): rows kept as sent, numbers as strings like the TSV tables.
      const table = this.tables.get(ins.table) ?? [];
      this.tables.set(ins.table, table);
      for (const line of ins.body.toString('utf8').split('\n').filter((l) => l.length > 0)) {
        table.push(Object.fromEntries(Object.entries(JSON.parse(line) as Record<string, unknown>).map(([k, v]) => [k, String(v)])));
      }
      record('stored');
      this.journal.push(`unit-state ${ins.table}`);
      return;
    }
    if (ins.format !== 'TabSeparated' || !ins.columns) throw new Error(`FakeStore: only TabSeparated inserts with columns (${ins.table})`);
    const seen = this.tokens.get(ins.table) ?? new Set<string>();
    this.tokens.set(ins.table, seen);
    if (token !== undefined && seen.has(token)) {
      record('deduplicated');
      this.journal.push(`insert ${ins.table} ${token} (deduplicated)`);
      return;
    }
    if (token !== undefined) seen.add(token);
    const columns = ins.columns;
    const rows = ins.body
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => {
        const f = l.split('\t');
        if (f.length !== columns.length) throw new Error(`FakeStore: ${ins.table} row has ${f.length} fields, ${columns.length} columns`);
        return Object.fromEntries(columns.map((c, i) => [c, f[i]!]));
      });
    const table = this.tables.get(ins.table) ?? [];
    this.tables.set(ins.table, table);
    table.push(...rows);
    record('stored');
    this.journal.push(`insert ${ins.table} ${token ?? ''}`.trim());
  }

  private query(q: QueryArgs): Promise<{ json: () => Promise<unknown[]> }> {
    const params = q.query_params ?? {};
    const answer = (names: readonly string[], rows: readonly unknown[][]): Promise<{ json: () => Promise<unknown[]> }> => {
      // JSONEachRow: objects; the typed read format (JSONCompactEachRowWithNames): names, then positional rows.
      const out = q.format === 'JSONCompactEachRowWithNames' ? [names, ...rows] : rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]])));
      return Promise.resolve({ json: () => Promise.resolve(out) });
    };
    const text = q.query.replace(/\s+/g, ' ');
    const unitAnswer = this.unitState(text, params);
    if (unitAnswer) return answer(unitAnswer.names, unitAnswer.rows);
    if (/\bmax\(line\)/.test(text)) {
      this.reads.push('stored offsets');
      const table = /FROM (tile_requests|dead_letters)\b/.exec(text)?.[1];
      if (!table) throw new Error(`FakeStore: stored-offset read of an unknown table: ${text}`);
      const parts = params.parts === undefined ? { has: () => true } : new Set((params.parts as number[]).map(Number));
      const max = new Map<number, number>();
      for (const r of this.rows(table)) {
        const p = Number(r.partition);
        if (r.source !== params.source || !parts.has(p)) continue;
        max.set(p, Math.max(max.get(p) ?? -1, Number(r.line)));
      }
      return answer(['partition', 'max'], [...max].map(([p, m]) => [p, String(m)]));
    }
    if (/argMax\(body, version\)/.test(text)) {
      this.reads.push('open alerts');
      return answer(['body'], []);
    }
    if (/FROM alerts\b/.test(text)) {
      this.reads.push('alert versions');
      const ids = (params.ids as string[]).filter((id) => this.alertVersions.has(id));
      return answer(['id', 'v'], ids.map((id) => [id, this.alertVersions.get(id)]));
    }
    if (/\bbounds AS\b/.test(text)) {
      this.reads.push('restore');
      return answer(['ts'], []);
    }
    throw new Error(`FakeStore: unexpected query: ${text.slice(0, 200)}`);
  }

  /** The reads of services/ingest/kafka/unitState.ts, answered from the kafka_units and kafka_offsets rows inserted. */
  private unitState(text: string, params: Record<string, unknown>): { names: string[]; rows: unknown[][] } | null {
    const offsets = this.rows('kafka_offsets');
    const units = this.rows('kafka_units');
    const ends = (stream: unknown): Map<number, number> => {
      const m = new Map<number, number>();
      for (const r of offsets) if (r.stream === stream) m.set(Number(r.partition), Math.max(m.get(Number(r.partition)) ?? -1, Number(r.last_offset)));
      return m;
    };
    if (/FROM kafka_offsets WHERE endsWith/.test(text)) {
      this.reads.push('unit state');
      return { names: ['n'], rows: [[String(offsets.filter((r) => r.stream!.endsWith(String(params.suffix))).length)]] };
    }
    if (/FROM kafka_offsets WHERE stream/.test(text)) {
      this.reads.push('unit state');
      const parts = new Set((params.parts as number[]).map(Number));
      return { names: ['partition', 'last'], rows: [...ends(params.stream)].filter(([p]) => parts.has(p)).map(([p, l]) => [p, String(l)]) };
    }
    if (/SELECT DISTINCT token FROM kafka_units/.test(text)) {
      const parts = (params.parts as number[]).map(Number);
      const partEnds = (params.ends as number[]).map(Number);
      const tokens = new Set<string>();
      for (const r of units) {
        const i = parts.indexOf(Number(r.partition));
        if (r.stream === params.stream && i >= 0 && Number(r.last_offset) > partEnds[i]!) tokens.add(r.token!);
      }
      return { names: ['token'], rows: [...tokens].map((t) => [t]) };
    }
    if (/FROM kafka_units WHERE stream = \{stream:String\} AND token IN/.test(text)) {
      const tokens = new Set(params.tokens as string[]);
      const at = new Map<string, string>();
      for (const r of units) if (tokens.has(r.token!) && (!at.has(r.token!) || r.written_at! < at.get(r.token!)!)) at.set(r.token!, r.written_at!);
      const rows = units
        .filter((r) => r.stream === params.stream && tokens.has(r.token!))
        .map((r) => [r.token, Number(r.partition), r.first_offset, r.last_offset, at.get(r.token!)]);
      return { names: ['token', 'partition', 'first', 'last', 'at'], rows };
    }
    return null;
  }
}

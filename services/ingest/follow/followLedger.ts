import type { Store } from '../../store/openStore.ts';
import { NO_TIME_LIMIT, readRows } from '../../store/sql.ts';
import { tsvDateTime64, tsvString } from '../../store/tsv.ts';
import type { FilePosition } from './tailedFile.ts';

/** One batch of one followed log: the complete lines in bytes [start, end) of the log `key`. */
export interface FollowIntent {
  readonly key: string;
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly head: string;
  readonly start: number;
  readonly end: number;
  readonly firstLine: number;
  readonly nextLine: number;
  readonly lastLineHash: string;
  readonly token: string;
}

/** The source id of a followed log in ingest_batches; the insert token is `<it>:-1:<start>-<end>` (store/batchWriter.ts batchToken). */
export const followSourceId = (key: string): string => `follow:${key}`;

const COLUMNS = ['file_key', 'path', 'dev', 'ino', 'head', 'start_offset', 'end_offset', 'first_line', 'next_line', 'last_line_hash', 'token', 'written_at'];

/** Records a batch before its inserts (services/ingest/follow/followIngest.ts): where the log stands once it is stored, and its token. */
export async function writeIntent(store: Pick<Store, 'insertRaw'>, i: FollowIntent, now: number): Promise<void> {
  const row = [tsvString(i.key), tsvString(i.path), i.dev, i.ino, tsvString(i.head), i.start, i.end, i.firstLine, i.nextLine, tsvString(i.lastLineHash), tsvString(i.token), tsvDateTime64(now)].join('\t');
  await store.insertRaw({ table: 'follow_batches', columns: COLUMNS, body: Buffer.from(`${row}\n`), format: 'TabSeparated' });
}

interface Row {
  file_key: string;
  path: string;
  dev_s: string;
  ino_s: string;
  head: string;
  start_s: string;
  end_s: string;
  first_s: string;
  next_s: string;
  last_line_hash: string;
  token: string;
  written_ms: string;
  stored: number;
}

/**
 * Where every followed log stands: its newest intent (resume after its end), and whether that intent
 * was stored (its token in ingest_batches). Batches are stored one at a time, so only a log's newest
 * intent can be unstored.
 */
export async function readFollowState(store: Store): Promise<{ positions: Map<string, FilePosition>; unstored: FollowIntent[] }> {
  const rows = await readRows<Row>(
    store.client,
    // The numbers come back as text under other names: an alias named like its column would also
    // rename the column for ORDER BY, which would then sort offsets as text ("8942" after "48895").
    `SELECT file_key, path, toString(dev) AS dev_s, toString(ino) AS ino_s, head, toString(start_offset) AS start_s,
            toString(end_offset) AS end_s, toString(first_line) AS first_s, toString(next_line) AS next_s,
            last_line_hash, token, toString(toUnixTimestamp64Milli(written_at)) AS written_ms,
            token IN (SELECT token FROM ingest_batches WHERE source LIKE 'follow:%') AS stored
     FROM follow_batches FINAL
     ORDER BY file_key, end_offset DESC
     LIMIT 1 BY file_key`,
    {},
    NO_TIME_LIMIT,
  );
  const positions = new Map<string, FilePosition>();
  const unstored: FollowIntent[] = [];
  for (const r of rows) {
    const i: FollowIntent = {
      key: r.file_key,
      path: r.path,
      dev: Number(r.dev_s),
      ino: Number(r.ino_s),
      head: r.head,
      start: Number(r.start_s),
      end: Number(r.end_s),
      firstLine: Number(r.first_s),
      nextLine: Number(r.next_s),
      lastLineHash: r.last_line_hash,
      token: r.token,
    };
    positions.set(i.key, { key: i.key, path: i.path, dev: i.dev, ino: i.ino, head: i.head, offset: i.end, nextLine: i.nextLine, lastLineHash: i.lastLineHash, writtenAt: Number(r.written_ms) });
    if (!Number(r.stored)) unstored.push(i);
  }
  return { positions, unstored };
}

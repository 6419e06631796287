/**
 * Evidence export: the raw stored rows behind an alert, a client or an incident report as NDJSON,
 * the subject as JSON, and manifest.json naming each query (SQL text and parameters), its row count
 * and the SHA-256 of every file — one tar archive that can be verified without tilewatch.
 * (The client column is exported as `client_ip` text: an alias named `client` would shadow the
 * IPv6 column in WHERE.)
 */
import { createHash } from 'node:crypto';
import tar from 'tar-stream';
import type { Store } from '../store/openStore.ts';
import { getAlert } from './alerts.ts';
import { completeRange, parseClientIp, type ClientIp, type TimeRange } from './inputs.ts';
import { incidentReport, type ReportQuery } from './report.ts';
import { clientExtent } from './timeline.ts';
import { readJsonLines, type Params } from '../store/sql.ts';
import { iso } from './iso.ts';

export class TooManyRowsError extends Error {
  readonly code = 'too_many_rows';
}

export class NotFoundError extends Error {
  readonly code = 'not_found';
}

export type EvidenceSubject =
  | { readonly alert: string }
  | { readonly client: ClientIp; readonly range: Partial<TimeRange> }
  | { readonly report: ReportQuery };

export interface EvidenceOptions {
  readonly now: number;
  readonly actor: string;
  readonly maxRows: number;
  readonly maxSpanMs: number;
}

export interface EvidenceArchive {
  readonly tar: Buffer;
  readonly manifest: Manifest;
  /** Suggested file name. */
  readonly name: string;
}

export interface Manifest {
  readonly format: 'tilewatch-evidence/1';
  readonly generatedAt: string;
  readonly generatedBy: string;
  readonly subject: Readonly<Record<string, unknown>>;
  readonly queries: ReadonlyArray<{ file: string; sql: string; params: Params; rows: number }>;
  readonly files: ReadonlyArray<{ name: string; bytes: number; sha256: string }>;
}

const ROW_COLUMNS = `ts, toString(client) AS client_ip, client_key, method, status, bytes, host, path, referer, user_agent, protocol, kind,
  image_id, level, tile_x, tile_y, rect_x, rect_y, rect_w, rect_h, scale, source, partition, line`;

const ROWS_SQL = `SELECT ${ROW_COLUMNS} FROM tile_requests
WHERE client IN {clients:Array(IPv6)} AND ({images:Array(String)} = [] OR image_id IN {images:Array(String)})
  AND ts >= fromUnixTimestamp64Milli({from:Int64}) AND ts < fromUnixTimestamp64Milli({to:Int64})
ORDER BY client, ts, source, partition, line
LIMIT {limit:UInt64}`;

/** The raw rows as ClickHouse prints them (JSONEachRow), refusing more than `maxRows`. */
async function rawRows(store: Store, params: { clients: string[]; images: string[]; from: number; to: number }, maxRows: number): Promise<{ text: string; rows: number }> {
  if (params.clients.length === 0) return { text: '', rows: 0 };
  const text = await readJsonLines(store.client, ROWS_SQL, { ...params, limit: maxRows + 1 }, { settings: { max_execution_time: 120 } });
  let rows = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) rows++;
  if (rows > maxRows) throw new TooManyRowsError(`the evidence holds more than ${maxRows} rows; narrow the time range`);
  return { text, rows };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export async function exportEvidence(store: Store, subject: EvidenceSubject, opts: EvidenceOptions): Promise<EvidenceArchive> {
  const files: Array<{ name: string; body: Buffer }> = [];
  const queries: Array<{ file: string; sql: string; params: Params; rows: number }> = [];
  let subjectInfo: Record<string, unknown>;
  let name: string;
  let rowParams: { clients: string[]; images: string[]; from: number; to: number };

  if ('alert' in subject) {
    const detail = await getAlert(store, subject.alert, { now: opts.now, withClient: true });
    if (!detail) throw new NotFoundError(`no alert ${subject.alert}`);
    const a = detail.alert;
    const ips = [...new Set([a.client?.ip ?? '', ...(a.client?.ips ?? [])].filter((s) => s !== ''))].map((s) => parseClientIp(s).v6);
    rowParams = { clients: ips, images: [], from: Date.parse(a.firstSeen), to: Date.parse(a.lastSeen) + 1 };
    subjectInfo = { type: 'alert', id: a.id, version: a.version, client: a.client?.ip ?? '', from: a.firstSeen, to: iso(rowParams.to) };
    files.push({ name: 'alert.json', body: Buffer.from(`${JSON.stringify(detail, null, 2)}\n`) });
    name = `evidence-alert-${a.id}.tar`;
  } else if ('client' in subject) {
    const extent = await clientExtent(store, subject.client);
    if (extent === null) throw new NotFoundError(`no stored requests from ${subject.client.text}`);
    const range = completeRange(subject.range, extent, opts.maxSpanMs);
    rowParams = { clients: [subject.client.v6], images: [], from: range.from, to: range.to };
    subjectInfo = { type: 'client', ip: subject.client.text, from: iso(range.from), to: iso(range.to) };
    name = `evidence-client-${subject.client.text.replace(/[^0-9A-Za-z.]/g, '_')}.tar`;
  } else {
    const report = await incidentReport(store, subject.report);
    const clients = [...new Set(report.images.flatMap((i) => i.clients.map((c) => parseClientIp(c.ip).v6)))];
    rowParams = { clients, images: [...subject.report.imageIds], from: subject.report.range.from, to: subject.report.range.to };
    subjectInfo = { type: 'report', images: subject.report.imageIds, from: report.from, to: report.to, minLongEdge: report.minLongEdge, minCoverage: report.minCoverage };
    files.push({ name: 'report.json', body: Buffer.from(`${JSON.stringify(report, null, 2)}\n`) });
    name = `evidence-report-${new Date(opts.now).toISOString().replace(/[:.]/g, '-')}.tar`;
  }

  const raw = await rawRows(store, rowParams, opts.maxRows);
  files.unshift({ name: 'requests.ndjson', body: Buffer.from(raw.text) });
  queries.push({ file: 'requests.ndjson', sql: ROWS_SQL, params: { ...rowParams, limit: opts.maxRows + 1 }, rows: raw.rows });

  const manifest: Manifest = {
    format: 'tilewatch-evidence/1',
    generatedAt: iso(opts.now),
    generatedBy: opts.actor,
    subject: subjectInfo,
    queries,
    files: files.map((f) => ({ name: f.name, bytes: f.body.length, sha256: sha256(f.body) })),
  };
  const pack = tar.pack();
  const mtime = new Date(opts.now);
  const all = [...files, { name: 'manifest.json', body: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) }];
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const f of all) pack.entry({ name: f.name, size: f.body.length, mtime, mode: 0o644 }, f.body);
  pack.finalize();
  await done;
  return { tar: Buffer.concat(chunks), manifest, name };
}

/**
 * The triage list: incidents ranked by severity (critical first), then latest activity, filtered by
 * the kind of any alert in them, severity and status, one page at a time, with the number of open
 * incidents per severity (whatever the filters) at the top.
 */
import type { Severity } from '../core/alert.ts';
import type { Store } from '../store/openStore.ts';
import { InvalidInputError } from './inputs.ts';
import { openIncidentCounts, selectIncidents, toIncident, type IncidentStatus, type IncidentSummary } from './incidentView.ts';

export interface IncidentFilter {
  readonly kind?: string;
  readonly severity?: string;
  readonly status?: IncidentStatus;
  /** The previous page's `nextCursor`. */
  readonly cursor?: string;
  readonly limit: number;
}

export interface IncidentPage {
  /** Open incidents per severity, over all incidents (not only this page or filter). */
  readonly counts: Readonly<Record<Severity, number>>;
  readonly items: readonly IncidentSummary[];
  readonly nextCursor: string | null;
}

/** A position in the ranking: severity rank, latest activity (ms), id. */
export function encodeIncidentCursor(rank: number, lastMs: number, id: string): string {
  return Buffer.from(JSON.stringify([rank, lastMs, id])).toString('base64url');
}

export function decodeIncidentCursor(cursor: string): { rank: number; lastMs: number; id: string } {
  try {
    if (cursor.length > 300) throw new Error('long');
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 3 &&
      Number.isInteger(v[0]) &&
      v[0] >= -1 &&
      v[0] <= 3 &&
      Number.isSafeInteger(v[1]) &&
      typeof v[2] === 'string' &&
      /^[A-Za-z0-9._:-]{1,128}$/.test(v[2])
    ) {
      return { rank: v[0] as number, lastMs: v[1] as number, id: v[2] };
    }
  } catch {
    /* fall through */
  }
  throw new InvalidInputError('cursor is not one this API issued');
}

export async function listIncidents(store: Store, f: IncidentFilter, opts: { now: number; withClient: boolean }): Promise<IncidentPage> {
  const after = f.cursor !== undefined ? decodeIncidentCursor(f.cursor) : undefined;
  const [rows, counts] = await Promise.all([
    selectIncidents(
      store,
      {
        ...(f.kind ? { kind: f.kind } : {}),
        ...(f.severity ? { severity: f.severity } : {}),
        ...(f.status ? { status: f.status } : {}),
        ...(after ? { after } : {}),
        limit: f.limit + 1,
      },
      opts.now,
    ),
    openIncidentCounts(store, opts.now),
  ]);
  const last = rows.length > f.limit ? rows[f.limit - 1] : undefined;
  return {
    counts,
    items: rows.slice(0, f.limit).map((r) => toIncident(r, opts.withClient)),
    nextCursor: last ? encodeIncidentCursor(last.sev_rank, last.last_ms, last.id) : null,
  };
}

import type { DetectorEvent } from '../core/detect/clientState.ts';
import { clientKeyOf, type DetectorConfig } from '../core/detect/detectorConfig.ts';
import type { AccessRecord, Lineage, TileRequest } from '../core/types.ts';
import type { DeadLetterTally } from '../core/validate/deadLetterReason.ts';
import { writeDeadLetterRow, writeTileRequestRow } from '../store/tileRequestRows.ts';
import type { TsvBuffer } from '../store/tsvBuffer.ts';
import { detectorEvent, type Normalized, type Normalizer } from './normalizer.ts';

export type ClientKeyMode = DetectorConfig['clientKey'];

/** A structured record parsed by the source itself (JSON messages), or why it could not be. */
export type ParsedRecord = { readonly ok: true; readonly record: AccessRecord } | { readonly ok: false; readonly reason: string };

/** What one source (an input file, a topic) turns its lines into until a batch is stored. */
export interface LineStep {
  readonly normalizer: Normalizer;
  readonly clientKey: ClientKeyMode;
  /** tile_requests rows (store/tileRequestRows.ts TILE_REQUEST_COLUMNS). */
  readonly rows: TsvBuffer;
  /** dead_letters rows, each with its reason and the raw line. */
  readonly dead: TsvBuffer;
  /** Wall clock written as the dead letter's receipt time. */
  readonly now: () => number;
  /** Counts each dead letter written to `dead` by its reason's category (the metric's `reason` label). */
  readonly deadReasons?: DeadLetterTally;
}

export type ProcessedLine =
  | { readonly ok: true; readonly record: AccessRecord; readonly request: TileRequest; readonly clientKey: string; readonly event: DetectorEvent }
  | { readonly ok: false; readonly reason: string };

/**
 * The one step every source takes for a line (replay, Kafka ingest and any source after them):
 * normalise it, write its tile_requests row or, when it cannot be stored, its dead letter with the
 * reason, and return the detector event. `storeRow` / `storeDead` say what is still to be written: an
 * earlier run may have stored the line already (replay's stored line ranges, Kafka's stored offsets);
 * the line is still processed, so the caller can feed the detector (detection is deterministic), but
 * nothing is written twice. `parsed` is a record a structured source parsed itself (JSON messages);
 * without it the line is parsed as text.
 */
export function processLine(step: LineStep, line: string, lineage: Lineage, storeRow: boolean, storeDead: boolean, parsed?: ParsedRecord): ProcessedLine {
  let n: Normalized;
  if (parsed === undefined) n = step.normalizer.normalize(line);
  else n = parsed.ok ? step.normalizer.normalizeRecord(parsed.record) : parsed;
  if (!n.ok) {
    if (storeDead) {
      writeDeadLetterRow(step.dead, step.now(), lineage, n.reason, line);
      step.deadReasons?.add(n.reason);
    }
    return n;
  }
  const clientKey = clientKeyOf(step.clientKey, n.record);
  if (storeRow) writeTileRequestRow(step.rows, n.record, n.request, lineage, clientKey);
  return { ok: true, record: n.record, request: n.request, clientKey, event: detectorEvent(n, lineage) };
}

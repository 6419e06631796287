import type { LineParser } from '../../core/logformat/lineParser.ts';
import type { Lineage } from '../../core/types.ts';
import type { ConsumedMessage } from '../../kafka/consumer.ts';
import { writeDeadLetterRow } from '../../store/tileRequestRows.ts';
import { processLine, type LineStep, type ProcessedLine } from '../processLine.ts';
import type { BatchAssembly } from './batchAssembly.ts';
import { decodeMessage } from './decodeMessage.ts';
import { deadLetterMessage, republishValue } from './topicMessages.ts';

/** Where one topic's messages go: the batch being filled and the outputs configured for the topic. */
export interface MessageTarget {
  readonly topic: string;
  /** Lineage source of the rows (`kafka:<topic>`). */
  readonly source: string;
  readonly maxMessageBytes: number;
  readonly asm: BatchAssembly;
  /** The line step writing into `asm` (built from the first lines seen: the log format is detected on them). */
  readonly stepFor: (sample: readonly string[]) => LineStep;
  readonly parseJson: LineParser;
  /** Store requests in tile_requests (off for detection workers). */
  readonly storeRequests: boolean;
  /** Also copy each dead letter for the dead-letter topic. */
  readonly deadLetterTopic: boolean;
  /** Also re-publish each request keyed by client. */
  readonly republish: boolean;
  readonly now: () => number;
}

/**
 * One delivered message into the batch: its rows (when `newData`), its dead letters and their
 * dead-letter-topic copies (when `newDead`), its re-published records. `onRequest` gets each request
 * it holds (the caller detects). Returns false when nothing of it was new (stored before). The one
 * message step of live consumption and of a batch's repair.
 */
export function processMessage(
  t: MessageTarget,
  msg: ConsumedMessage,
  partition: number,
  admitted: { readonly newData: boolean; readonly newDead: boolean },
  onRequest?: (p: Extract<ProcessedLine, { ok: true }>) => void,
): boolean {
  const offset = Number(msg.offset);
  const lineage: Lineage = { source: t.source, line: offset, partition };
  const decoded = decodeMessage(msg.value, t.maxMessageBytes);
  if (!decoded.ok) {
    // A message that yields no lines: its dead letter, and its copy to the dead-letter topic.
    if (!admitted.newDead) return true;
    const raw = msg.value ?? Buffer.alloc(0);
    writeDeadLetterRow(t.asm.dead, t.now(), lineage, decoded.reason, raw.toString('latin1'));
    t.asm.deadReasons.add(decoded.reason);
    if (t.deadLetterTopic) t.asm.addDeadLetterMessage(deadLetterMessage(t.topic, partition, offset, decoded.reason, raw, msg.key));
    return true;
  }
  if (!admitted.newData && !admitted.newDead) return false;
  const step = t.stepFor(decoded.lines);
  for (const line of decoded.lines) {
    const p = processLine(step, line, lineage, t.storeRequests && admitted.newData, admitted.newDead, decoded.json ? t.parseJson(line) : undefined);
    if (!p.ok) {
      if (admitted.newDead && t.deadLetterTopic) t.asm.addDeadLetterMessage(deadLetterMessage(t.topic, partition, offset, p.reason, line, msg.key));
      continue;
    }
    if (!admitted.newData) continue;
    if (t.republish) t.asm.addRepublished({ key: p.clientKey, value: republishValue(p.record, t.topic, partition, offset) });
    onRequest?.(p);
  }
  return true;
}

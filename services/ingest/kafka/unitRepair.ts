import type { LineParser } from '../../core/logformat/lineParser.ts';
import type { Lineage } from '../../core/types.ts';
import type { ConsumedMessage } from '../../kafka/consumer.ts';
import { writeDeadLetterRow } from '../../store/tileRequestRows.ts';
import { processLine, type LineStep } from '../processLine.ts';
import { BatchAssembly, type AssembledBatch } from './batchAssembly.ts';
import { decodeMessage } from './decodeMessage.ts';
import { deadLetterMessage, republishValue } from './topicMessages.ts';

export interface UnitAssemblyOptions {
  readonly topic: string;
  /** Lineage source of the rows (`kafka:<topic>`). */
  readonly source: string;
  readonly maxMessageBytes: number;
  /** Builds the line step writing into the given assembly (its own normalizer: the live one's event-time sample is not disturbed). */
  readonly step: (asm: BatchAssembly) => LineStep;
  readonly parseJson: LineParser;
  readonly storeRequests: boolean;
  readonly withDeadLetterTopic: boolean;
  readonly withRepublish: boolean;
  readonly now: () => number;
}

/**
 * The batch of an unconfirmed unit, rebuilt from its messages read again from Kafka: the same rows,
 * dead letters, dead-letter topic copies and re-published records the owner that cut it built (the
 * detector is not fed: whoever owns the partitions restores it from the stored rows). Inserted with
 * the unit's token, so whatever of it the first insert stored is dropped by the engine and the rest
 * fills the holes.
 */
export function assembleUnit(o: UnitAssemblyOptions, messages: ReadonlyMap<number, readonly ConsumedMessage[]>): AssembledBatch {
  const asm = new BatchAssembly({ maxRows: Number.MAX_SAFE_INTEGER, maxMs: Number.MAX_SAFE_INTEGER }, o.now);
  const step = o.step(asm);
  for (const [partition, msgs] of [...messages].sort((a, b) => a[0] - b[0])) {
    asm.startSegment(partition);
    for (const msg of msgs) {
      const offset = Number(msg.offset);
      asm.addMessage();
      const lineage: Lineage = { source: o.source, line: offset, partition };
      const decoded = decodeMessage(msg.value, o.maxMessageBytes);
      if (!decoded.ok) {
        const raw = msg.value ?? Buffer.alloc(0);
        writeDeadLetterRow(asm.dead, o.now(), lineage, decoded.reason, raw.toString('latin1'));
        asm.deadReasons.add(decoded.reason);
        if (o.withDeadLetterTopic) asm.addDeadLetterMessage(deadLetterMessage(o.topic, partition, offset, decoded.reason, raw, msg.key));
        continue;
      }
      for (const line of decoded.lines) {
        const p = processLine(step, line, lineage, o.storeRequests, true, decoded.json ? o.parseJson(line) : undefined);
        if (!p.ok) {
          if (o.withDeadLetterTopic) asm.addDeadLetterMessage(deadLetterMessage(o.topic, partition, offset, p.reason, line, msg.key));
          continue;
        }
        if (o.withRepublish) asm.addRepublished({ key: p.clientKey, value: republishValue(p.record, o.topic, partition, offset) });
      }
    }
  }
  return asm.take();
}

import type { LineParser } from '../../core/logformat/lineParser.ts';
import type { ConsumedMessage } from '../../kafka/consumer.ts';
import type { LineStep } from '../processLine.ts';
import { BatchAssembly, type AssembledBatch } from './batchAssembly.ts';
import { processMessage } from './processMessage.ts';

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
  const target = {
    topic: o.topic,
    source: o.source,
    maxMessageBytes: o.maxMessageBytes,
    asm,
    stepFor: () => step,
    parseJson: o.parseJson,
    storeRequests: o.storeRequests,
    deadLetterTopic: o.withDeadLetterTopic,
    republish: o.withRepublish,
    now: o.now,
  };
  for (const [partition, msgs] of [...messages].sort((a, b) => a[0] - b[0])) {
    asm.startSegment(partition);
    for (const msg of msgs) {
      asm.addMessage();
      processMessage(target, msg, partition, { newData: true, newDead: true });
    }
  }
  return asm.take();
}

import type { AccessRecord } from '../../core/types.ts';
import type { ProducedMessage } from '../../kafka/producer.ts';

/**
 * The dead-letter topic's copy of a dead letter: the raw value, headers reason and source
 * topic/partition/offset, keyed by the source message's key, else its partition (a partition's dead
 * letters stay in order).
 */
export function deadLetterMessage(topic: string, partition: number, offset: number, reason: string, raw: string | Buffer, key: Buffer | null): ProducedMessage {
  return {
    key: key ? key.toString('latin1') : `${topic}/${partition}`,
    value: raw,
    headers: { reason, 'source-topic': topic, 'source-partition': String(partition), 'source-offset': String(offset) },
  };
}

/**
 * The re-published form of a parsed request: one compact JSON object in the field names tilewatch's
 * JSON log parser reads (so a detection worker is an ordinary `ingest` of that topic), with `src`
 * naming the original message (topic/partition/offset).
 */
export function republishValue(rec: AccessRecord, topic: string, partition: number, offset: number): string {
  return JSON.stringify({
    ts: rec.ts,
    ip: rec.ip,
    method: rec.method,
    path: rec.target,
    status: rec.status,
    bytes: rec.bytes,
    referer: rec.referer,
    ua: rec.userAgent,
    host: rec.host,
    src: `${topic}/${partition}/${offset}`,
  });
}

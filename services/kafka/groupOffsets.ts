import type { Logger } from 'pino';
import type { KafkaConnection } from './consumer.ts';
import { createKafkajsClient } from './kafkajsConsumer.ts';

/** Where one partition of a topic stands for a consumer group. */
export interface GroupPartitionState {
  readonly partition: number;
  /** Log start and end (the next offset to be written). */
  readonly low: number;
  readonly high: number;
  /** The group's committed offset (next to read); -1: nothing committed. */
  readonly committed: number;
  /** The metadata committed with it (null: none). */
  readonly metadata: string | null;
}

/** Reads a group's committed offsets (with their metadata) beside the topic's watermarks: every partition of the topic. */
export interface GroupOffsetsReader {
  read(topic: string, groupId: string): Promise<GroupPartitionState[]>;
  close(): Promise<void>;
}

/** GroupOffsetsReader over a kafkajs admin client (ListOffsets + OffsetFetch), connected on first use. */
export function createKafkajsGroupOffsets(settings: KafkaConnection, logger: Logger): GroupOffsetsReader {
  const admin = createKafkajsClient(settings, logger, 'kafkajs-admin', { retries: 2 }).admin();
  let connected: Promise<void> | null = null;
  return {
    async read(topic, groupId) {
      connected ??= admin.connect().catch((err: unknown) => {
        connected = null;
        throw err;
      });
      await connected;
      const [marks, offsets] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      const committed = new Map((offsets[0]?.partitions ?? []).map((p) => [p.partition, p]));
      return marks.map((m) => {
        const c = committed.get(m.partition);
        return { partition: m.partition, low: Number(m.low), high: Number(m.high), committed: c ? Number(c.offset) : -1, metadata: c?.metadata ?? null };
      });
    },
    async close() {
      if (connected) await connected.then(() => admin.disconnect()).catch(() => undefined);
      connected = null;
    },
  };
}

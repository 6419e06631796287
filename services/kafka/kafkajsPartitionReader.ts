import { randomUUID } from 'node:crypto';
import type { Admin, Consumer } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConsumedMessage, KafkaConnection, OffsetSpan, PartitionReader } from './consumer.ts';
import { createKafkajsClient } from './kafkajsConsumer.ts';

export interface PartitionReaderOptions {
  /** A read that has not finished after this long fails (ms). Default 120 s. */
  readonly timeoutMs?: number;
  /** Session timeout of the reading consumer's own group (ms). Default 10 s. */
  readonly sessionTimeoutMs?: number;
}

/**
 * PartitionReader over kafkajs. kafkajs has no consumer without a group, so a read joins a group of
 * its own (`tilewatch-repair-<uuid>`: the only member, it is assigned every partition), seeks each
 * wanted partition to its first offset, pauses the others, collects up to each last offset, leaves
 * and deletes the group. Reads are rare (a batch left unconfirmed by a crash or a fenced member) and
 * cost one group join (the broker's initial rebalance delay, 3 s by default).
 */
export function createKafkajsPartitionReader(connection: KafkaConnection, logger: Logger, opts: PartitionReaderOptions = {}): PartitionReader {
  const kafka = createKafkajsClient(connection, logger, 'kafkajs-reader');
  const log = logger.child({ component: 'partition-reader' });
  let admin: Admin | null = null;
  let clusterId: string | null = null;
  const adminClient = async (): Promise<Admin> => {
    if (!admin) {
      const a = kafka.admin();
      await a.connect();
      admin = a;
    }
    return admin;
  };

  return {
    async clusterId() {
      clusterId ??= (await (await adminClient()).describeCluster()).clusterId;
      return clusterId;
    },

    async readRanges(topic, ranges) {
      const out = new Map<number, ConsumedMessage[]>();
      const want = new Map<number, OffsetSpan>();
      const a = await adminClient();
      const marks = new Map((await a.fetchTopicOffsets(topic)).map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
      for (const [p, r] of ranges) {
        out.set(p, []);
        const m = marks.get(p);
        if (!m) throw new Error(`topic ${topic} has no partition ${p}`);
        const first = Math.max(r.first, m.low);
        const last = Math.min(r.last, m.high - 1);
        if (first > r.first) log.error({ topic, partition: p, first: r.first, low: m.low }, 'offsets of an unconfirmed batch are gone from the log (retention): they cannot be stored again');
        if (first <= last) want.set(p, { first, last });
      }
      if (want.size === 0) return out;
      const groupId = `tilewatch-repair-${randomUUID()}`;
      const sessionTimeout = opts.sessionTimeoutMs ?? 10_000;
      const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout, heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)), maxWaitTimeInMs: 250, retry: { retries: 5 } });
      const pending = new Set(want.keys());
      /** Per partition, the offset after the last one collected. */
      const next = new Map<number, number>();
      let finish!: () => void;
      let abort!: (err: Error) => void;
      const finished = new Promise<void>((resolve, reject) => {
        finish = resolve;
        abort = reject;
      });
      const timer = setTimeout(() => abort(new Error(`reading ${want.size} partition range(s) of ${topic} took longer than ${opts.timeoutMs ?? 120_000} ms`)), opts.timeoutMs ?? 120_000);
      consumer.on(consumer.events.CRASH, (e) => {
        if (!e.payload.restart) abort(e.payload.error);
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const mine = e.payload.memberAssignment[topic] ?? [];
        const others = mine.filter((p) => !want.has(p));
        if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
        for (const [p, r] of want) if (pending.has(p)) consumer.seek({ topic, partition: p, offset: String(r.first) });
      });
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }) => {
            const r = want.get(batch.partition);
            if (!r || !pending.has(batch.partition)) return;
            const got = out.get(batch.partition)!;
            let done = false;
            for (const m of batch.messages) {
              const o = Number(m.offset);
              if (o < (next.get(batch.partition) ?? r.first)) continue; // before the range, or fetched again after the seek
              if (o > r.last) {
                done = true;
                break;
              }
              got.push({ offset: m.offset, key: m.key, value: m.value });
              next.set(batch.partition, o + 1);
              if (o === r.last) done = true;
            }
            // The range's last offset was compacted away: the batch reached past it.
            if (!done && batch.messages.length > 0 && Number(batch.lastOffset()) >= r.last) done = true;
            if (done) {
              pending.delete(batch.partition);
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              if (pending.size === 0) finish();
            }
          },
        });
        await finished;
        return out;
      } finally {
        clearTimeout(timer);
        await consumer.disconnect().catch(() => undefined);
        await a.deleteGroups([groupId]).catch(() => undefined);
      }
    },

    async close() {
      const a = admin;
      admin = null;
      await a?.disconnect().catch(() => undefined);
    },
  };
}

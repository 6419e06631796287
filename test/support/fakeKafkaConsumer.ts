/**
 * An in-memory KafkaConsumer (services/kafka/consumer.ts) for unit tests of Kafka ingest: the test
 * appends messages to partition logs and delivers them as fetches; the consumer records commits,
 * resolved offsets and heartbeats, and simulates a rebalance (flush request, revocation of the
 * partitions a fetch in progress belongs to, new assignment). Nothing is fetched on its own: a
 * fetch is `deliver()`, whose promise is the handler's (the next fetch waits for it: backpressure).
 */
import type { BatchControl, ConsumedMessage, ConsumerHandlers, KafkaConsumer, OffsetSpan, PartitionReader, TopicPartition } from '../../services/kafka/consumer.ts';

export type Committed = ReadonlyArray<TopicPartition & { readonly offset: string }>;

interface LogMessage {
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

export class FakeKafkaConsumer implements KafkaConsumer {
  private handlers: ConsumerHandlers | null = null;
  private readonly logs = new Map<number, LogMessage[]>();
  /** Next offset each partition's fetches start from (after the last resolved offset). */
  private readonly position = new Map<number, number>();
  private owned = new Set<number>();
  /** Every commit call, in order (also those that failed, see {@link failCommits}). */
  readonly commits: Committed[] = [];
  /** Committed offset (next to read) per partition, as the group coordinator holds it. */
  readonly committed = new Map<number, number>();
  heartbeats = 0;
  stopped = false;
  /** While set, commit() rejects (e.g. a stale generation after a rebalance). */
  failCommits = false;
  /** The next heartbeat from a fetch handler rejects with an error of this kafkajs type (then it is cleared). */
  heartbeatError: string | null = null;

  constructor(
    readonly topic: string,
    /** Receives 'commit p:offset,…', 'rebalance' and 'assigned …' (once the handler took the assignment) as they happen, for ordering checks. */
    private readonly journal: string[] = [],
  ) {}

  start(handlers: ConsumerHandlers): Promise<void> {
    this.handlers = handlers;
    return Promise.resolve();
  }

  commit(offsets: Committed): Promise<void> {
    this.commits.push(offsets);
    if (this.failCommits) return Promise.reject(new Error('The coordinator is not aware of this member (stale generation)'));
    this.journal.push(`commit ${offsets.map((o) => `${o.partition}:${o.offset}`).join(',')}`);
    for (const o of offsets) this.committed.set(o.partition, Number(o.offset));
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }

  /** Appends values to a partition's log (offsets continue from its end); returns their offsets. */
  append(partition: number, values: ReadonlyArray<string | { key: string; value: string } | null>): number[] {
    const log = this.logs.get(partition) ?? [];
    this.logs.set(partition, log);
    return values.map((v) => {
      const offset = log.length;
      const value = v === null ? null : Buffer.from(typeof v === 'string' ? v : v.value);
      const key = v !== null && typeof v === 'object' ? Buffer.from(v.key) : null;
      log.push({ offset, key, value });
      return offset;
    });
  }

  /** The group assigns these partitions: fetches start at the committed offset (or 0). */
  async assign(partitions: readonly number[]): Promise<void> {
    this.owned = new Set(partitions);
    for (const p of partitions) this.position.set(p, this.committed.get(p) ?? 0);
    await this.need().onAssigned(partitions.map((partition) => ({ topic: this.topic, partition })));
    this.journal.push(`assigned ${partitions.join(',')}`);
  }

  /**
   * A rebalance: the handler is told (it flushes what it holds), then the partitions not in `next`
   * are revoked (a fetch still running on them sees isStale()), then `next` is assigned.
   */
  async rebalance(next: readonly number[]): Promise<void> {
    this.journal.push('rebalance');
    this.need().onRebalancing();
    this.owned = new Set([...this.owned].filter((p) => next.includes(p)));
    await this.assign(next);
  }

  /**
   * One fetch: up to `max` messages of `partition` from its position (or from `from`, a re-delivery)
   * handed to onBatch. Resolves when the handler returns.
   */
  deliver(partition: number, opts: { max?: number; from?: number } = {}): Promise<void> {
    const log = this.logs.get(partition) ?? [];
    const from = opts.from ?? this.position.get(partition) ?? 0;
    const messages = log.slice(from, from + (opts.max ?? log.length)).map((m) => ({ offset: String(m.offset), key: m.key, value: m.value }));
    const control: BatchControl = {
      heartbeat: () => {
        this.heartbeats++;
        const type = this.heartbeatError;
        if (type === null) return Promise.resolve();
        this.heartbeatError = null;
        this.journal.push(`heartbeat ${type}`);
        return Promise.reject(Object.assign(new Error(`heartbeat refused: ${type}`), { type }));
      },
      isStale: () => !this.owned.has(partition),
      resolveOffset: (offset) => {
        this.position.set(partition, Math.max(this.position.get(partition) ?? 0, Number(offset) + 1));
      },
    };
    return this.need().onBatch({ topic: this.topic, partition, messages, highWatermark: String(log.length) }, control);
  }

  /** Reads the partition logs outside the group (services/kafka/consumer.ts PartitionReader); counts its reads. */
  readonly reader: PartitionReader & { reads: number } = {
    reads: 0,
    clusterId: () => Promise.resolve('fake-cluster'),
    readRanges: (_topic: string, ranges: ReadonlyMap<number, OffsetSpan>): Promise<Map<number, ConsumedMessage[]>> => {
      this.reader.reads++;
      const out = new Map<number, ConsumedMessage[]>();
      for (const [p, r] of ranges) {
        out.set(
          p,
          (this.logs.get(p) ?? []).filter((m) => m.offset >= r.first && m.offset <= r.last).map((m) => ({ offset: String(m.offset), key: m.key, value: m.value })),
        );
      }
      return Promise.resolve(out);
    },
    close: () => Promise.resolve(),
  };

  /** The client crashed (kafkajs gave up). */
  crash(err: Error): void {
    this.need().onCrash(err);
  }

  private need(): ConsumerHandlers {
    if (!this.handlers) throw new Error('FakeKafkaConsumer: not started');
    return this.handlers;
  }
}

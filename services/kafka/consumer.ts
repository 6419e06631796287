/**
 * The one seam between tilewatch and a Kafka client library. kafkajs is in maintenance mode upstream:
 * everything Kafka-specific the pipeline needs is this interface, implemented in kafkajsConsumer.ts,
 * so a maintained client (e.g. @platformatic/kafka) can replace it without touching the pipeline.
 * Re-delivered messages are skipped by the pipeline (ClickHouse is the offset store), so the seam
 * needs no seek.
 */

export interface ConsumedMessage {
  /** Offset as a decimal string (64-bit). */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly ConsumedMessage[];
  /** High watermark of the partition when fetched (for lag). */
  readonly highWatermark: string;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface BatchControl {
  heartbeat(): Promise<void>;
  /** The partition was revoked by a rebalance: stop processing this batch. */
  isStale(): boolean;
  /** Marks a message processed so the next fetch starts after it (this is not a commit). */
  resolveOffset(offset: string): void;
}

export interface ConsumerHandlers {
  /** Called for each fetched batch, one partition at a time; the next fetch waits for it (backpressure). */
  onBatch(batch: ConsumedBatch, control: BatchControl): Promise<void>;
  /** The group assigned these partitions (after every rebalance). */
  onAssigned(partitions: readonly TopicPartition[]): Promise<void>;
  /** A rebalance is starting: flush and commit what is stored for the partitions held now. */
  onRebalancing(): void;
  /** The client crashed and will not restart by itself. */
  onCrash(err: Error): void;
  /** The group coordinator accepted a heartbeat: this member still belonged to the group just now (the hunt lease's fence). */
  onHeartbeat?(): void;
}

/** A commit: the next offset to read of a partition and, optionally, a short note kept with it by the group (Kafka's offset metadata). */
export type CommitOffset = TopicPartition & { readonly offset: string; readonly metadata?: string };

export interface KafkaConsumer {
  /** Connects, subscribes and starts delivering batches; resolves once running. */
  start(handlers: ConsumerHandlers): Promise<void>;
  /** Commits `offset` = next offset to read, per partition. Only offsets of stored data are committed. */
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /** Stops fetching, waits for the batch in progress, leaves the group. */
  stop(): Promise<void>;
}

/** Where and how to connect (consumers and producers alike). */
export interface KafkaConnection {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean;
  readonly sasl?: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string };
}

export interface KafkaSettings extends KafkaConnection {
  readonly topic: string;
  readonly groupId: string;
  /** Where a new group starts: 'earliest' (default: a log is evidence, keep all of it) or 'latest'. */
  readonly fromBeginning: boolean;
  readonly sessionTimeoutMs: number;
  /** Fetch sizing; defaults: 16 MiB per fetch, 4 MiB per partition, idle fetches answered after 250 ms. */
  readonly fetch?: { readonly maxBytes?: number; readonly maxBytesPerPartition?: number; readonly maxWaitTimeInMs?: number };
}

/** An inclusive range of offsets of one partition. */
export interface OffsetSpan {
  readonly first: number;
  readonly last: number;
}

/**
 * Reads a topic outside the consumer group: the cluster's id (part of every insert token, so two
 * clusters with a topic of the same name never share offsets) and exact offset ranges of any
 * partition, assigned to this member or not — the repair of a batch another member cut and never
 * confirmed (services/ingest/kafka/unitRepair.ts).
 */
export interface PartitionReader {
  clusterId(): Promise<string>;
  /**
   * The messages of each range, in offset order. Offsets the log no longer holds (retention,
   * compaction) are missing from the answer; the rest is complete.
   */
  readRanges(topic: string, ranges: ReadonlyMap<number, OffsetSpan>): Promise<Map<number, ConsumedMessage[]>>;
  close(): Promise<void>;
}

/**
 * kafka/earlyStart.ts: a consumer started before its handlers exist (the group join overlaps the
 * store's opening). What it is given before the handlers are attached waits for them; nothing is
 * processed, resolved or committed meanwhile.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BatchControl, ConsumedBatch, ConsumerHandlers, KafkaConsumer } from '../../../services/kafka/consumer.ts';
import { startEarly } from '../../../services/kafka/earlyStart.ts';

/** An inner consumer that records what it is asked and lets the test fire its handlers. */
function innerConsumer(): KafkaConsumer & { handlers: () => ConsumerHandlers; stops: number; starts: number } {
  let h: ConsumerHandlers | null = null;
  const c = {
    starts: 0,
    stops: 0,
    handlers: () => h!,
    start: (handlers: ConsumerHandlers) => {
      c.starts++;
      h = handlers;
      return Promise.resolve();
    },
    commit: () => Promise.resolve(),
    stop: () => {
      c.stops++;
      return Promise.resolve();
    },
  };
  return c;
}

const batch: ConsumedBatch = { topic: 't', partition: 0, highWatermark: '1', messages: [{ offset: '0', key: null, value: Buffer.from('x') }] };
const control: BatchControl = { heartbeat: () => Promise.resolve(), isStale: () => false, resolveOffset: () => undefined };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Kafka consumer started early', () => {
  it('starts the inner consumer at once; assignments and batches wait for the handlers, in order', async () => {
    const inner = innerConsumer();
    const early = startEarly(inner);
    assert.equal(inner.starts, 1, 'connect and join begin before start()');
    const seen: string[] = [];
    const assigned = inner.handlers().onAssigned([{ topic: 't', partition: 0 }]);
    let delivered = false;
    const delivery = inner
      .handlers()
      .onBatch(batch, control)
      .then(() => void (delivered = true));
    await tick();
    assert.equal(delivered, false, 'a batch waits for the handlers');
    await early.start({
      onBatch: async (b) => void seen.push(`batch ${b.partition}`),
      onAssigned: async (tps) => void seen.push(`assigned ${tps.map((x) => x.partition).join(',')}`),
      onRebalancing: () => seen.push('rebalancing'),
      onCrash: (err) => seen.push(`crash ${err.message}`),
    });
    await Promise.all([assigned, delivery]);
    inner.handlers().onRebalancing();
    assert.deepEqual(seen, ['assigned 0', 'batch 0', 'rebalancing']);
    await assert.rejects(early.start({ onBatch: async () => undefined, onAssigned: async () => undefined, onRebalancing: () => undefined, onCrash: () => undefined }));
  });

  it('stopped before start: leaves the group, and a held batch is dropped unprocessed', async () => {
    const inner = innerConsumer();
    const early = startEarly(inner);
    const delivery = inner.handlers().onBatch(batch, control);
    await early.stop();
    await delivery;
    assert.equal(inner.stops, 1);
  });
});

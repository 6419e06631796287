/**
 * Re-publish mode (`ingest --republish-topic`) on fakes: the keyed copy of a batch is produced, and
 * acknowledged, before the batch is stored. Stored offsets are skipped on a re-read, so the old order
 * (insert, then produce) lost a batch's re-published requests when the process died between the two;
 * the new order re-produces them instead (at least once, never lost).
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { createAllowlist, loadConfig } from '../../../services/cli/config.ts';
import { emptyCatalog } from '../../../services/ingest/catalog.ts';
import { KafkaIngest } from '../../../services/ingest/kafka/kafkaIngest.ts';
import type { MessageProducer, ProducedMessage } from '../../../services/kafka/producer.ts';
import { createMetrics } from '../../../services/observability/metrics.ts';
import { FakeClock, flush } from '../../support/fakeClock.ts';
import { FakeKafkaConsumer } from '../../support/fakeKafkaConsumer.ts';
import { FakeStore } from '../../support/fakeStore.ts';
import { tileLine } from '../../support/ingest.ts';
import { T0 } from '../../support/logs.ts';

const TOPIC = 'tiles';
const KEYED = 'tiles-keyed';
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36';
const config = loadConfig({}, {});

function browsing(n: number): string[] {
  return Array.from({ length: n }, (_, i) => tileLine(`198.51.${(i >> 8) & 255}.${i & 255}`, T0 + i * 10, i % 7, i % 5, BROWSER));
}

/** A producer that journals each acknowledged send, or fails every send while `dead` (the process dies before the acks). */
class FakeProducer implements MessageProducer {
  readonly acked: ProducedMessage[] = [];
  dead = false;
  constructor(private readonly journal: string[]) {}
  connect(): Promise<void> {
    return Promise.resolve();
  }
  send(topic: string, messages: readonly ProducedMessage[]): Promise<void> {
    // Not a store outage (those are retried): the run ends here, as a kill would end it.
    if (this.dead) return Promise.reject(new Error('Code: 62. simulated crash before the acks'));
    this.acked.push(...messages);
    this.journal.push(`produce ${topic} ${messages.length}`);
    return Promise.resolve();
  }
  disconnect(): Promise<void> {
    return Promise.resolve();
  }
}

async function republisher(t: TestContext, store: FakeStore, journal: string[], producer: FakeProducer): Promise<{ ingest: KafkaIngest; consumer: FakeKafkaConsumer; clock: FakeClock }> {
  const consumer = new FakeKafkaConsumer(TOPIC, journal);
  const clock = new FakeClock(T0 + 3_600_000);
  const ingest = new KafkaIngest({
    consumer,
    reader: consumer.reader,
    store: store.store,
    topic: TOPIC,
    parser: config.parser,
    recognise: config.recognise,
    detector: config.detector,
    catalog: emptyCatalog(),
    isAllowed: createAllowlist(config.allowlist),
    maxBatchRows: 100,
    maxBatchMs: 1000,
    detect: false,
    republish: { topic: KEYED, producer },
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    clock,
    random: () => 0,
    onAlert: () => undefined,
  });
  await ingest.start();
  t.after(async () => {
    if (consumer.stopped || ingest.crash) return;
    let done = false;
    const p = ingest.stop().finally(() => void (done = true));
    await clock.runUntil(() => done, 10_000);
    await p;
  });
  return { ingest, consumer, clock };
}

const idle = async (): Promise<void> => {
  for (let i = 0; i < 8; i++) await flush();
};

describe('Kafka ingest re-publish order (fakes)', () => {
  it('produces a batch (acknowledged) before it stores it: the insert follows the produce', async (t) => {
    const journal: string[] = [];
    const store = new FakeStore(journal);
    const producer = new FakeProducer(journal);
    const r = await republisher(t, store, journal, producer);
    await r.consumer.assign([0]);
    r.consumer.append(0, browsing(100));
    await r.consumer.deliver(0);
    await idle();
    const kinds = journal.filter((e) => /^(produce|insert tile_requests|commit)/.test(e)).map((e) => e.split(' ')[0]);
    assert.deepEqual(kinds, ['produce', 'insert', 'commit'], `produce, then insert, then commit: ${journal.join(' | ')}`);
    assert.equal(producer.acked.length, 100);
  });

  it('a crash before the produce is acknowledged stores nothing, and the restart re-produces every request (none lost)', async (t) => {
    const journal: string[] = [];
    const store = new FakeStore(journal);
    const lines = browsing(100);

    // First run: the batch is cut, the produce never gets its acks (the process dies there).
    const dying = new FakeProducer(journal);
    dying.dead = true;
    const first = await republisher(t, store, journal, dying);
    await first.consumer.assign([0]);
    first.consumer.append(0, lines);
    await first.consumer.deliver(0);
    await idle();
    assert.ok(first.ingest.crash, 'the run ended at the failed produce');
    assert.equal(store.lineage('tile_requests').length, 0, 'nothing stored before the re-published copy was acknowledged');
    assert.equal(first.consumer.committed.size, 0, 'nothing committed');

    // Restart on the same store: every message is read again and re-published.
    const producer = new FakeProducer(journal);
    const second = await republisher(t, store, journal, producer);
    second.consumer.append(0, lines);
    await second.consumer.assign([0]);
    await second.consumer.deliver(0);
    await idle();
    const srcs = producer.acked.map((m) => (JSON.parse(String(m.value)) as { src: string }).src);
    assert.deepEqual(
      new Set(srcs),
      new Set(lines.map((_, i) => `${TOPIC}/0/${i}`)),
      'every request of the batch reached the keyed topic after the restart (the old order skipped them as stored)',
    );
    assert.equal(store.lineage('tile_requests').length, 100, 'and each is stored once');
    assert.equal(new Set(store.lineage('tile_requests')).size, 100);
    assert.equal(second.consumer.committed.get(0), 100);
  });
});

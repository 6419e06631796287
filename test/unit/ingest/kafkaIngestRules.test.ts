/**
 * The exactly-once and backpressure rules of Kafka ingest (ARCHITECTURE.md, "Kafka ingest:
 * exactly-once effect") on in-memory fakes: KafkaIngest over a FakeKafkaConsumer, a FakeStore and a
 * FakeClock, so every wait (batch age, retry backoff, heartbeats while waiting) is on a clock the
 * test moves. The same rules are proven against a real broker and engine in
 * test/integration/kafkaIngest.test.ts and kafkaFaults.test.ts; these run in milliseconds.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { Alert } from '../../../services/core/alert.ts';
import { createAllowlist, loadConfig } from '../../../services/cli/config.ts';
import { emptyCatalog } from '../../../services/ingest/catalog.ts';
import { BATCH_GROWTH } from '../../../services/ingest/kafka/batchAssembly.ts';
import { KafkaIngest, type KafkaIngestOptions } from '../../../services/ingest/kafka/kafkaIngest.ts';
import { createMetrics } from '../../../services/observability/metrics.ts';
import { FakeClock, flush } from '../../support/fakeClock.ts';
import { FakeKafkaConsumer } from '../../support/fakeKafkaConsumer.ts';
import { FakeStore } from '../../support/fakeStore.ts';
import { tileLine } from '../../support/ingest.ts';
import { T0 } from '../../support/logs.ts';

const TOPIC = 'tiles';
const SOURCE = `kafka:${TOPIC}`;
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36';
const config = loadConfig({}, {});

/** `n` requests of distinct browser clients (no alert), event time from t0. */
function browsing(n: number, t0 = T0, net = '198.51'): string[] {
  return Array.from({ length: n }, (_, i) => tileLine(`${net}.${(i >> 8) & 255}.${i & 255}`, t0 + i * 10, i % 7, i % 5, BROWSER));
}

/** A raster sweep of a 40×32-tile level by one client, one tile per second of event time (raises alerts). */
function sweep(ip: string, t0 = T0): string[] {
  const out: string[] = [];
  for (let row = 0; row < 32; row++) for (let col = 0; col < 40; col++) out.push(tileLine(ip, t0 + out.length * 1000, col, row));
  return out;
}

interface Rig {
  readonly ingest: KafkaIngest;
  readonly consumer: FakeKafkaConsumer;
  readonly store: FakeStore;
  readonly clock: FakeClock;
  readonly alerts: Alert[];
  /** 'insert …', 'commit …', 'alert …', 'assigned …', 'rebalance', in the order they happened. */
  readonly journal: string[];
}

/** A started KafkaIngest on fakes (stopped after the test); `store` and `journal` may be shared by a restarted one. */
async function rig(t: TestContext, over: Omit<Partial<KafkaIngestOptions>, 'store'> & { store?: FakeStore; journal?: string[] } = {}): Promise<Rig> {
  const journal = over.journal ?? [];
  const store = over.store ?? new FakeStore(journal);
  const consumer = new FakeKafkaConsumer(TOPIC, journal);
  // Event time of the test lines is T0 on; the wall clock must be after it (input limits).
  const clock = new FakeClock(T0 + 3_600_000);
  const alerts: Alert[] = [];
  const { store: _s, journal: _j, ...opts } = over;
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
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    clock,
    random: () => 0,
    onAlert: (a) => {
      alerts.push(a);
      journal.push(`alert ${a.id}`);
    },
    ...opts,
  });
  await ingest.start();
  t.after(async () => {
    if (!consumer.stopped) await stopOn(clock, ingest);
  });
  return { ingest, consumer, store, clock, alerts, journal };
}

/** Runs `p` to its end, firing the fake clock's timers as it waits on them. */
async function settle<T>(clock: FakeClock, p: Promise<T>): Promise<T> {
  let done = false;
  const q = p.finally(() => void (done = true));
  await clock.runUntil(() => done, 10_000);
  return q;
}

const stopOn = (clock: FakeClock, ingest: KafkaIngest): Promise<void> => settle(clock, ingest.stop());

/** Lets pending continuations run without moving time. */
const idle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await flush();
};

describe('Kafka ingest rules on fakes', () => {
  it('commits offsets only after the batch rows are stored', async (t) => {
    const r = await rig(t);
    await r.consumer.assign([0, 1]);
    r.consumer.append(0, browsing(60));
    r.consumer.append(1, browsing(40, T0, '198.52'));
    const release = r.store.hold('tile_requests');
    await r.consumer.deliver(0);
    assert.equal(r.store.attempts.length, 0, 'below 100 rows and younger than 1 s: nothing cut yet');
    await r.consumer.deliver(1); // 100 rows: due, cut
    await idle();
    assert.deepEqual(r.consumer.commits, [], 'nothing committed while the insert is pending');
    release();
    await idle();
    assert.equal(r.store.lineage('tile_requests').length, 100);
    assert.ok(r.store.rows('tile_requests').every((x) => x.source === SOURCE), 'lineage: source kafka:topic');
    // Each commit carries its partition's stored event-time watermark (the hunt lease reads it): the newest request's time.
    assert.deepEqual(r.consumer.commits, [
      [
        { topic: TOPIC, partition: 0, offset: '60', metadata: JSON.stringify({ eventTs: Math.floor((T0 + 59 * 10) / 1000) * 1000 }) },
        { topic: TOPIC, partition: 1, offset: '40', metadata: JSON.stringify({ eventTs: Math.floor((T0 + 39 * 10) / 1000) * 1000 }) },
      ],
    ]);
    const insert = r.journal.findIndex((e) => e.startsWith('insert tile_requests'));
    const commit = r.journal.findIndex((e) => e.startsWith('commit'));
    assert.ok(insert >= 0 && insert < commit, `insert before commit: ${r.journal.join(' | ')}`);
  });

  it('cuts a batch by age on the clock; on a rebalance the client announces it drops the uncut batch, which comes again from the committed offsets', async (t) => {
    const r = await rig(t);
    await r.consumer.assign([0, 1]);
    r.consumer.append(0, browsing(5));
    await r.consumer.deliver(0);
    await r.clock.advance(999);
    assert.equal(r.store.attempts.length, 0, 'younger than maxBatchMs');
    await r.clock.advance(300);
    assert.deepEqual(r.store.lineage('tile_requests'), ['0/0', '0/1', '0/2', '0/3', '0/4'], 'cut by the batch tick');
    assert.deepEqual(r.consumer.committed.get(0), 5);

    r.consumer.append(1, browsing(3, T0, '198.52'));
    await r.consumer.deliver(1);
    await settle(r.clock, r.consumer.rebalance([0]));
    const rebalance = r.journal.indexOf('rebalance');
    const after = r.journal.slice(rebalance);
    // The client rejoins without waiting: a batch cut and stored now could land after the partition's
    // next owner read where it stands. So it is dropped, nothing of partition 1 is stored or committed.
    assert.deepEqual(
      after.map((e) => e.split(' ')[0]),
      ['rebalance', 'assigned'],
      `the uncut batch dropped, not stored: ${after.join(' | ')}`,
    );
    assert.equal(r.consumer.committed.get(1), undefined);
    assert.deepEqual(r.ingest.assigned(), [0]);
    // Partition 1 comes back (here, or to another member): read again from its committed offset, stored once.
    await settle(r.clock, r.consumer.rebalance([0, 1]));
    await r.consumer.deliver(1);
    await r.clock.advance(1300);
    assert.deepEqual(r.store.lineage('tile_requests').filter((l) => l.startsWith('1/')), ['1/0', '1/1', '1/2']);
    assert.equal(r.consumer.committed.get(1), 3);
  });

  it('a rebalance seen by the fetch handler stores and commits what is held before the handler returns', async (t) => {
    const r = await rig(t);
    await r.consumer.assign([0, 1]);
    r.consumer.append(1, browsing(4, T0, '198.52'));
    r.consumer.heartbeatError = 'REBALANCE_IN_PROGRESS';
    await r.consumer.deliver(1); // no clock advance: only the rebalance makes the handler store
    const kinds = r.journal.map((e) => e.split(' ')[0]).filter((k) => k !== 'unit-state');
    assert.deepEqual(kinds.slice(kinds.indexOf('heartbeat')), ['heartbeat', 'insert', 'commit'], r.journal.join(' | '));
    assert.deepEqual(r.store.lineage('tile_requests'), ['1/0', '1/1', '1/2', '1/3']);
    assert.equal(r.consumer.committed.get(1), 4);
  });

  it('fences: a heartbeat refused as an unknown member drops what is not stored, inserts nothing until reassigned, then stores every message once', async (t) => {
    const r = await rig(t);
    await r.consumer.assign([0]);
    r.consumer.append(0, browsing(6));
    r.consumer.heartbeatError = 'UNKNOWN_MEMBER_ID';
    await r.consumer.deliver(0);
    await r.clock.advance(5000);
    assert.equal(r.store.attemptsAt('tile_requests').length, 0, 'a member that may be evicted inserts nothing');
    assert.equal(r.ingest.health().ready, false);
    // The client rejoins; the group assigns partition 0 again (to this member), from the committed offset.
    await settle(r.clock, r.consumer.assign([0]));
    await r.consumer.deliver(0);
    await r.clock.advance(1300);
    assert.deepEqual(r.store.lineage('tile_requests'), ['0/0', '0/1', '0/2', '0/3', '0/4', '0/5']);
    assert.equal(r.consumer.committed.get(0), 6);
    assert.equal(r.ingest.health().ready, true);
  });

  it('holds the hunt lease only with partition 0 and while it has heard from the group within the session timeout', async (t) => {
    const r = await rig(t);
    const SESSION = 3000;
    assert.equal(r.ingest.holdsHuntLease(SESSION), false, 'nothing assigned yet');
    await r.consumer.assign([0, 1]);
    assert.equal(r.ingest.holdsHuntLease(SESSION), true, 'partition 0, just assigned');
    await r.clock.advance(SESSION);
    assert.equal(r.ingest.holdsHuntLease(SESSION), false, 'a session timeout without a heartbeat, assignment or commit: maybe evicted');
    r.consumer.append(0, browsing(5));
    await r.consumer.deliver(0);
    await r.clock.advance(1300);
    assert.equal(r.consumer.committed.get(0), 5);
    assert.equal(r.ingest.holdsHuntLease(SESSION), true, 'a commit the group accepted');
    await settle(r.clock, r.consumer.rebalance([1]));
    assert.equal(r.ingest.holdsHuntLease(SESSION), false, 'partition 0 moved to another member');
    await settle(r.clock, r.consumer.rebalance([0, 1]));
    assert.equal(r.ingest.holdsHuntLease(SESSION), true, 'partition 0 back');
    await stopOn(r.clock, r.ingest);
    assert.equal(r.ingest.holdsHuntLease(SESSION), false, 'a stopped member holds nothing');
  });

  it('retries a failed insert with the same token and bytes, commits nothing meanwhile, and backs off on the clock', async (t) => {
    const r = await rig(t, { backoffMs: 200, maxBackoffMs: 1000 });
    await r.consumer.assign([0]);
    r.consumer.append(0, browsing(100));
    r.store.failNext('tile_requests', 4);
    await r.consumer.deliver(0);
    await idle();
    assert.equal(r.store.attemptsAt('tile_requests').length, 1);
    assert.equal(r.ingest.health().ready, false);
    assert.match(r.ingest.health().reason, /store unavailable: tile_requests: .*TIMEOUT_EXCEEDED/);
    // Backoff steps 200, 400, 800, 1000 (capped); random() = 0 waits half of each.
    for (const wait of [100, 200, 400]) {
      await r.clock.advance(wait - 1);
      assert.deepEqual(r.consumer.commits, [], 'nothing committed during the outage');
      const before = r.store.attemptsAt('tile_requests').length;
      await r.clock.advance(1);
      assert.equal(r.store.attemptsAt('tile_requests').length, before + 1, `retried after ${wait} ms`);
    }
    await r.clock.advance(500);
    const attempts = r.store.attemptsAt('tile_requests');
    assert.equal(attempts.length, 5);
    assert.deepEqual(
      attempts.map((a) => a.outcome === 'stored'),
      [false, false, false, false, true],
    );
    assert.equal(new Set(attempts.map((a) => a.token)).size, 1, 'one deduplication token');
    assert.ok(attempts.every((a) => a.body.equals(attempts[0]!.body)), 'identical bytes');
    assert.deepEqual(
      r.consumer.commits.map((c) => c.map(({ topic, partition, offset }) => ({ topic, partition, offset }))),
      [[{ topic: TOPIC, partition: 0, offset: '100' }]],
    );
    assert.equal(r.ingest.health().ready, true, 'ready again without a restart');
  });

  it('releases alerts only after their batch is stored, and before its commit', async (t) => {
    const r = await rig(t, { maxBatchRows: 2000 });
    await r.consumer.assign([0]);
    r.consumer.append(0, [...sweep('203.0.113.9'), ...browsing(720)]); // 2000 messages: one batch
    const release = r.store.hold('tile_requests');
    await r.consumer.deliver(0);
    await idle();
    assert.equal(r.store.attemptsAt('tile_requests').length, 0, 'insert pending');
    assert.equal(r.ingest.stats.messages, 2000, 'the sweep went through the detector');
    assert.equal(r.alerts.length, 0, 'no alert while its requests are not stored');
    release();
    await idle();
    assert.ok(r.alerts.length > 0, 'the sweep raised an alert');
    assert.ok(r.alerts.every((a) => a.client.ip === '203.0.113.9'));
    const kinds = r.journal.map((e) => e.split(' ')[0]);
    assert.ok(kinds.indexOf('insert') < kinds.indexOf('alert') && kinds.lastIndexOf('alert') < kinds.indexOf('commit'), `insert, alerts, commit: ${kinds.join(' ')}`);
  });

  it('does not insert again a redelivered message at or below the stored offset (crash between insert and commit)', async (t) => {
    const journal: string[] = [];
    const store = new FakeStore(journal);
    const first = await rig(t, { store, journal });
    await first.consumer.assign([0]);
    first.consumer.append(0, browsing(100));
    first.consumer.failCommits = true; // stored, then the commit is lost (a crash, a stale generation)
    await first.consumer.deliver(0);
    await idle();
    assert.equal(store.lineage('tile_requests').length, 100);
    assert.equal(first.consumer.committed.size, 0);
    await stopOn(first.clock, first.ingest);

    // The restarted consumer reads the stored offsets and gets everything again from offset 0.
    const second = await rig(t, { store, journal });
    const lines = browsing(130);
    second.consumer.append(0, lines);
    await second.consumer.assign([0]);
    assert.ok(store.reads.includes('stored offsets'));
    await second.consumer.deliver(0);
    await stopOn(second.clock, second.ingest);
    assert.equal(second.ingest.stats.rows, 30, 'only the 30 new offsets are stored');
    assert.deepEqual(
      store.attemptsAt('tile_requests').map((a) => a.outcome),
      ['stored', 'stored'],
      'the stored offsets are never sent again (not merely dropped by a deduplication token)',
    );
    const stored = store.lineage('tile_requests');
    assert.equal(stored.length, 130);
    assert.equal(new Set(stored).size, 130, 'each offset stored once');
    assert.deepEqual(second.consumer.committed.get(0), 130);
  });

  it('pauses consumption while the store is slow: the fetch handler waits (heartbeating) and nothing more is taken', async (t) => {
    const r = await rig(t);
    await r.consumer.assign([0]);
    r.consumer.append(0, browsing(1000));
    const release = r.store.hold('tile_requests');
    await r.consumer.deliver(0, { max: 100 }); // batch 1: cut, its insert waits
    await idle();
    // While batch 1 is stored, batch 2 keeps filling up to BATCH_GROWTH × maxBatchRows before it is cut…
    for (let i = 0; i < BATCH_GROWTH - 1; i++) await r.consumer.deliver(0, { max: 100 });
    let returned = false;
    const fetch = r.consumer.deliver(0, { max: 100 }).then(() => void (returned = true));
    await idle();
    // …then the handler waits for batch 1: the next fetch cannot start.
    assert.equal(returned, false, 'the fetch handler does not return while a batch is in flight and the next is full');
    const held = 100 * (BATCH_GROWTH + 1);
    assert.equal(r.ingest.stats.messages, held);
    const beats = r.consumer.heartbeats;
    await r.clock.advance(3000);
    assert.equal(returned, false);
    assert.ok(r.consumer.heartbeats >= beats + 3, 'the group heartbeat is kept while waiting');
    assert.equal(r.consumer.commits.length, 0, 'nothing committed while batch 1 is being stored');
    release();
    await settle(r.clock, fetch);
    assert.equal(returned, true);
    await idle();
    assert.deepEqual(
      r.consumer.commits.map((c) => c.map((o) => o.offset)),
      [['100'], [String(held)]],
      'batch 1, then the grown batch 2',
    );
    assert.equal(r.store.lineage('tile_requests').length, held);
  });

  it('runs the alerts, sinks flush and commit of a stored batch off the insert path: the next insert starts, the one after waits', async (t) => {
    let openGate: () => void = () => undefined;
    let gate: Promise<void> = new Promise<void>((r) => (openGate = r));
    const r = await rig(t, { afterStore: () => gate });
    await r.consumer.assign([0]);
    r.consumer.append(0, browsing(300));
    await r.consumer.deliver(0, { max: 100 }); // batch 1: cut and stored; its release waits on the sinks
    await idle();
    await r.consumer.deliver(0, { max: 100 }); // batch 2: its insert does not wait for batch 1's commit
    await idle();
    assert.equal(r.store.lineage('tile_requests').length, 200, 'batch 2 stored while batch 1 waits for its commit');
    assert.equal(r.consumer.commits.length, 0, 'nothing committed before the sinks are flushed');
    await r.consumer.deliver(0, { max: 100 }); // batch 3: waits for batch 1's release (at most one lags)
    await idle();
    assert.equal(r.store.lineage('tile_requests').length, 200, 'batch 3 waits');
    openGate();
    gate = Promise.resolve();
    await settle(
      r.clock,
      (async () => {
        while (r.consumer.commits.length < 3) await flush();
      })(),
    );
    assert.deepEqual(
      r.consumer.commits.map((c) => c.map((o) => o.offset)),
      [['100'], ['200'], ['300']],
      'commits in batch order, each after its own store',
    );
    assert.equal(r.store.lineage('tile_requests').length, 300);
    const events = r.journal.filter((e) => e.startsWith('insert tile_requests') || e.startsWith('commit'));
    const inserts = events.flatMap((e, i) => (e.startsWith('insert') ? [i] : []));
    const commits = events.flatMap((e, i) => (e.startsWith('commit') ? [i] : []));
    assert.equal(inserts.length, 3);
    assert.ok(inserts[1]! < commits[0]!, `batch 2 inserted before batch 1 is committed: ${events.join(' | ')}`);
    assert.ok(inserts[2]! > commits[0]!, `batch 3 inserted only after batch 1's commit: ${events.join(' | ')}`);
    commits.forEach((c, k) => assert.ok(c > inserts[k]!, `commit ${k + 1} after its own insert`));
  });
  it('counts dead letters by topic and reason category once their batch is stored, the store\'s refusals as store_rejected', async (t) => {
    const metrics = createMetrics();
    const r = await rig(t, { metrics, maxBatchRows: 7 });
    await r.consumer.assign([0]);
    const good = browsing(2);
    r.consumer.append(0, [
      good[0]!,
      'garbage that is no log line',
      null, // an empty message
      tileLine('198.51.100.7', Date.UTC(1990, 0, 1), 1, 1), // before limits.earliestEventMs
      tileLine('198.51.100.8', T0, 1, 1).replace(' 31000 ', ' -5 '), // a negative size
      'also garbage "with quotes" 12345',
      good[1]!,
    ]);
    // The engine refuses the first of the two rows (bisected out; the other is stored).
    r.store.failNext('tile_requests', 2, 'Code: 27. DB::Exception: Cannot parse input: expected \'\\t\' (CANNOT_PARSE_INPUT_ASSERTION_FAILED)');
    const held = r.store.hold('tile_requests');
    await r.consumer.deliver(0);
    await idle();
    const series = async (): Promise<Record<string, number>> => {
      const m = await metrics.deadLetters.get();
      return Object.fromEntries(m.values.map((v) => [`${v.labels.topic}/${v.labels.reason}`, v.value]));
    };
    assert.deepEqual(await series(), {}, 'nothing counted before the batch is stored');
    held();
    await idle();
    assert.equal(r.store.lineage('tile_requests').length, 1);
    assert.equal(r.store.lineage('dead_letters').length, 6);
    assert.deepEqual(await series(), {
      'tiles/format_mismatch': 2,
      'tiles/empty': 1,
      'tiles/event_time_out_of_range': 1,
      'tiles/invalid_size': 1,
      'tiles/store_rejected': 1,
    });
    assert.equal(r.ingest.stats.deadLetters, 6);
  });
});

/**
 * The alerts table sink on a fake clock: a failed insert is retried with backoff; when every attempt
 * fails the versions stay buffered, in order, and the next flush writes them ahead of newer ones;
 * flushes run one at a time; the stored outbox position moves only when an insert holding it succeeded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertsTableSink, type OutboxMark } from '../../../services/alerting/alertsTable.ts';
import { OUTBOX_NOTICE } from '../../../services/alerting/outbox.ts';
import type { RawInsert } from '../../../services/store/openStore.ts';
import { makeAlert } from '../../support/alerts.ts';
import { FakeClock, flush } from '../../support/fakeClock.ts';

/** An insertRaw that fails while `down`, and records the (id:version, position) of each insert that succeeded. */
function store() {
  const s = {
    down: false,
    attempts: 0,
    inFlight: 0,
    maxInFlight: 0,
    inserts: [] as string[][],
    /** While set, inserts wait for it. */
    gate: null as Promise<void> | null,
    async insertRaw(ins: RawInsert): Promise<void> {
      s.attempts++;
      s.inFlight++;
      s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
      await (s.gate ?? Promise.resolve());
      s.inFlight--;
      if (s.down) throw new Error('Code: 210. Connection refused');
      const rows = ins.body
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { id: string; version: number; outbox_seq?: number });
      s.inserts.push(rows.map((r) => `${r.id}:${r.version}@${r.outbox_seq ?? '-'}`));
    },
  };
  return s;
}

const v = (n: number) => makeAlert({ id: 'tw-0000000000000000000a', version: n });
const mark = (seq: number): OutboxMark => ({ origin: 'test', seq, kind: OUTBOX_NOTICE });

test('a store outage: retried with backoff, then the versions stay buffered and go first in the next flush; never dropped', async () => {
  const clock = new FakeClock();
  const st = store();
  const retries: number[] = [];
  const table = new AlertsTableSink(st, { clock, random: () => 0, retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 }, onRetry: (_e, attempt) => retries.push(attempt) });
  table.push(v(1), mark(1));
  table.push(v(2)); // stored only, no position
  st.down = true;
  const failed = table.flush();
  const outcome = failed.then(
    () => 'resolved',
    (err: Error) => err.message,
  );
  await clock.runUntil(() => st.attempts === 3);
  assert.equal(await outcome, 'Code: 210. Connection refused', 'flush rejects after its attempts');
  assert.deepEqual(retries, [1, 2]);
  assert.deepEqual(clock.sleeps, [50, 100], 'backoff between attempts');
  assert.equal(table.buffered, 2, 'nothing dropped');
  assert.equal(table.stored, 0, 'no position stored');
  assert.equal(table.written, 0);

  st.down = false;
  table.push(v(3), mark(2));
  await table.flush();
  assert.deepEqual(st.inserts, [['tw-0000000000000000000a:1@1', 'tw-0000000000000000000a:2@-', 'tw-0000000000000000000a:3@2']], 'the buffered versions first, in order, with the new one');
  assert.equal(table.buffered, 0);
  assert.equal(table.stored, 2);
  assert.equal(table.written, 3);
});

test('flushes run one at a time: a version pushed during an insert goes in the next one', async () => {
  const st = store();
  let open = (): void => undefined;
  st.gate = new Promise<void>((r) => (open = r));
  const table = new AlertsTableSink(st);
  table.push(v(1), mark(1));
  const first = table.flush();
  await flush();
  assert.equal(st.inFlight, 1, 'the first insert is in flight');
  table.push(v(2), mark(2));
  const second = table.flush();
  await flush();
  assert.equal(st.inFlight, 1, 'the second flush waits for the first');
  open();
  await Promise.all([first, second]);
  assert.equal(st.maxInFlight, 1, 'never two inserts at once');
  assert.deepEqual(st.inserts, [['tw-0000000000000000000a:1@1'], ['tw-0000000000000000000a:2@2']]);
  assert.equal(table.stored, 2);
});

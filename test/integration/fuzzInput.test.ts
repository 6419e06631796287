/**
 * Fuzzing the whole line path against the real engine: random and adversarial lines (fast-check)
 * through parse → normalise → row encoding → chDB, by replay and by Kafka ingest. Invariants: no
 * crash, exit 0; every line is stored, a dead letter, or blank (replay) — exactly one of them; every
 * line built valid is stored exactly once; the store rejects nothing (no "rejected by the store"
 * dead letters: the range checks caught every value it would refuse). The seed is in the test name,
 * so a failure reproduces.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeRun, parseSummary, runCli, tempDir } from '../support/cli.ts';
import { hostileLog } from '../support/fuzzLines.ts';
import { startIngest, stopGracefully } from '../support/ingest.ts';
import { produceLines, startCluster, stopCluster, topicWatermarks, waitFor, type MockKafkaCluster } from '../support/kafka.ts';
import { writeLines } from '../support/logs.ts';
import { sqlRows } from '../support/store.ts';

const SEED = 20261202;
const T0 = Date.UTC(2026, 2, 2);
const SPAN = 3 * 86_400_000;

describe(`fuzzed input through the real store (seed ${SEED})`, () => {
  it('replay: stored + dead letters + blank = lines; every valid line stored once; nothing rejected by the store', async (t) => {
    const dir = tempDir(t, 'fuzz-replay');
    const lines = hostileLog(4000, SEED, T0, SPAN);
    writeLines(join(dir, 'hostile.log'), lines.map((l) => l.text));
    const r = await runCli(['replay', join(dir, 'hostile.log'), '--data', join(dir, 'data'), '--format', 'combined', '--no-hunts', '--quiet', '--batch-lines', '500'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, describeRun(r));
    const s = parseSummary(r.stdout);
    assert.equal(s.linesRead, lines.length);
    assert.equal(s.stored + s.deadLetters + s.blankLines, lines.length, `stored + dead + blank = lines\n${describeRun(r)}`);
    const stored = await sqlRows<{ line: string }>(join(dir, 'data'), 'SELECT toString(line) AS line FROM tile_requests');
    const storedLines = stored.map((x) => Number(x.line));
    assert.equal(new Set(storedLines).size, storedLines.length, 'no line stored twice');
    const storedSet = new Set(storedLines);
    const missing = lines.flatMap((l, i) => (l.valid && !storedSet.has(i + 1) ? [`${i + 1}: ${l.text}`] : []));
    assert.deepEqual(missing.slice(0, 5), [], 'valid lines not stored');
    const rejected = await sqlRows<{ n: string }>(join(dir, 'data'), "SELECT count() AS n FROM dead_letters WHERE startsWith(reason, 'rejected by the store')");
    assert.equal(Number(rejected[0]!.n), 0, 'the range checks leave the store nothing to reject');
    const blanks = lines.filter((l) => l.text.trim() === '').length;
    assert.equal(s.blankLines, blanks);
  });
});

describe(`fuzzed input through Kafka ingest (seed ${SEED + 1})`, () => {
  const TOPIC = 'fuzz';
  let cluster: MockKafkaCluster;
  before(() => {
    cluster = startCluster({ brokers: 1, topics: { [TOPIC]: 3 } });
  });
  after(() => stopCluster(cluster));

  it('every message stored or dead-lettered exactly once, valid ones stored, no restart', async (t) => {
    const dir = tempDir(t, 'fuzz-kafka');
    const data = join(dir, 'data');
    const lines = hostileLog(3000, SEED + 1, T0, SPAN);
    await produceLines(
      cluster.bootstrap,
      TOPIC,
      lines.map((l, i) => ({ key: `k${i % 97}`, value: l.text })),
    );
    const marks = await topicWatermarks(cluster.bootstrap, TOPIC);
    const total = [...marks.values()].reduce((a, m) => a + m.high - m.low, 0);
    assert.equal(total, lines.length);
    const ing = await startIngest({ bootstrap: cluster.bootstrap, topic: TOPIC, group: 'fuzz-g', data, extra: ['--no-hunts', '--format', 'combined'] });
    try {
      await waitFor(
        async () => {
          if (ing.child.exitCode !== null) throw new Error(`ingest exited ${ing.child.exitCode}: ${ing.stderr().slice(-800)}`);
          const m = await fetch(`http://127.0.0.1:${ing.port}/metrics`).then((res) => res.text()).catch(() => '');
          return Number(/^tilewatch_ingest_messages_total\{[^}]*\} (\d+)/m.exec(m)?.[1] ?? 0) >= lines.length;
        },
        90_000,
        'ingest to consume every message',
        250,
      );
    } finally {
      // A graceful stop stores and commits what is held.
      await stopGracefully(ing);
    }
    const stored = await sqlRows<{ p: number; o: string }>(data, "SELECT partition AS p, toString(line) AS o FROM tile_requests WHERE source = 'kafka:fuzz'");
    const dead = await sqlRows<{ p: number; o: string; reason: string }>(data, "SELECT DISTINCT partition AS p, toString(line) AS o, reason FROM dead_letters WHERE source = 'kafka:fuzz'");
    const rowKeys = stored.map((r) => `${r.p}/${r.o}`);
    assert.equal(new Set(rowKeys).size, rowKeys.length, 'no message stored twice');
    const deadKeys = new Set(dead.map((r) => `${r.p}/${r.o}`));
    for (const k of rowKeys) assert.ok(!deadKeys.has(k), `message ${k} both stored and dead-lettered`);
    assert.equal(rowKeys.length + deadKeys.size, lines.length, 'every message stored or dead-lettered');
    assert.ok(!dead.some((d) => d.reason.startsWith('rejected by the store')), 'the range checks leave the store nothing to reject');
    // Valid lines: the stored count is at least theirs (a spoiled line may still be valid, e.g. a cut Referer).
    assert.ok(rowKeys.length >= lines.filter((l) => l.valid).length, `stored ${rowKeys.length} < valid ${lines.filter((l) => l.valid).length}`);
  });
});

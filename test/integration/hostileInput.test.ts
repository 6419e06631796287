/**
 * Hostile and careless input never stops the pipeline: out-of-range values are dead letters with
 * their reason, the good lines around them are stored, and no spread of timestamps can make the hunt
 * schedule explode. Real CLI, real engine (chDB), real mock Kafka cluster.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeRun, parseSummary, runCli, tempDir } from '../support/cli.ts';
import { background, startIngest, stopGracefully, tileLine } from '../support/ingest.ts';
import { produceLines, startCluster, stopCluster, waitFor, type MockKafkaCluster } from '../support/kafka.ts';
import { combined, goodLines, goodRequests, jsonLine, writeLines } from '../support/logs.ts';
import { sqlRows } from '../support/store.ts';

/** A good combined line with its `[dd/Mon/yyyy:…]` date replaced. */
function dated(line: string, date: string): string {
  return line.replace(/\[[^\]]+\]/, `[${date}]`);
}

const BAD_DATES = ['31/Dec/9999:23:59:59 +0000', '01/Jan/0001:00:00:00 +0000', '31/Dec/1899:12:00:00 +0000', '01/Jan/1900:00:00:00 +0000', '01/Jan/1970:00:00:00 +0000', '01/Jan/2300:00:00:00 +0000'];

async function deadReasons(data: string): Promise<Array<{ line: number; reason: string }>> {
  const rows = await sqlRows<{ line: string; reason: string }>(data, 'SELECT toUInt64(line) AS line, reason FROM dead_letters ORDER BY line');
  return rows.map((r) => ({ line: Number(r.line), reason: r.reason }));
}

describe('hostile input never stops the pipeline', () => {
  it('replay: lines dated 9999, 0001, 1899, 1900, 1970 and 2300 are dead letters; the 100 good lines are stored (exit 0)', async (t) => {
    const dir = tempDir(t, 'hostile-dates');
    const good = goodLines(100);
    const lines = [...good];
    // Interleaved, so each bad line shares a batch with good ones.
    BAD_DATES.forEach((d, i) => lines.splice(10 + i * 15, 0, dated(good[i]!, d)));
    writeLines(join(dir, 'access.log'), lines);
    const r = await runCli(['replay', join(dir, 'access.log'), '--data', join(dir, 'data'), '--no-hunts', '--quiet', '--batch-lines', '30']);
    assert.equal(r.code, 0, describeRun(r));
    const s = parseSummary(r.stdout);
    assert.deepEqual({ stored: s.stored, dead: s.deadLetters, read: s.linesRead }, { stored: 100, dead: 6, read: 106 }, describeRun(r));
    const dead = await deadReasons(join(dir, 'data'));
    assert.equal(dead.length, 6);
    for (const d of dead) assert.match(d.reason, /^event time .* (before|ahead of the clock)/, JSON.stringify(d));
  });

  it('replay: JSON lines with "time": 0 and a negative size are dead letters, the rest stored', async (t) => {
    const dir = tempDir(t, 'hostile-json');
    const reqs = goodRequests(50);
    const lines = reqs.map(jsonLine);
    lines.splice(20, 0, JSON.stringify({ ...JSON.parse(lines[0]!), time: 0 }));
    lines.splice(30, 0, JSON.stringify({ ...JSON.parse(lines[1]!), body_bytes_sent: -5 }));
    writeLines(join(dir, 'access.jsonl'), lines);
    const r = await runCli(['replay', join(dir, 'access.jsonl'), '--data', join(dir, 'data'), '--no-hunts', '--quiet']);
    assert.equal(r.code, 0, describeRun(r));
    const s = parseSummary(r.stdout);
    assert.deepEqual({ stored: s.stored, dead: s.deadLetters }, { stored: 50, dead: 2 }, describeRun(r));
  });

  it('replay: tile URLs with absurd levels or tile numbers are stored as plain requests and teach no image size', async (t) => {
    const dir = tempDir(t, 'hostile-tiles');
    const good = goodRequests(40);
    const lines = good.map(combined);
    lines.splice(5, 0, combined({ ...good[0]!, path: '/dz/painting_files/99999/1_1.jpg' }));
    lines.splice(9, 0, combined({ ...good[0]!, path: '/tiles/12/99999999999/3.png' }));
    lines.splice(12, 0, combined({ ...good[0]!, path: '/iiif/2/img-good/0,0,99999999999,256/256,/0/default.jpg' }));
    writeLines(join(dir, 'access.log'), lines);
    const r = await runCli(['replay', join(dir, 'access.log'), '--data', join(dir, 'data'), '--no-hunts', '--quiet']);
    assert.equal(r.code, 0, describeRun(r));
    const s = parseSummary(r.stdout);
    assert.deepEqual({ stored: s.stored, dead: s.deadLetters }, { stored: 43, dead: 0 }, describeRun(r));
    const odd = await sqlRows<{ protocol: string; kind: string; level: number }>(join(dir, 'data'), "SELECT protocol, kind, level FROM tile_requests WHERE path LIKE '%99999%'");
    assert.deepEqual(odd.map((o) => [o.protocol, o.kind, o.level]), [['none', 'other', -1], ['none', 'other', -1], ['none', 'other', -1]]);
    assert.match(r.stdout, /images learned 1$/m, 'only the real image');
  });

  it('replay with hunts: event times years apart run a few hunt windows, not every window between them', async (t) => {
    const dir = tempDir(t, 'hostile-spread');
    const base = goodLines(4);
    // Accepted (inside the default window) but decades apart; then one dated 2200 (refused).
    const lines = [dated(base[0]!, '01/Jan/2001:00:00:00 +0000'), dated(base[1]!, '15/Jun/2012:10:00:00 +0000'), dated(base[2]!, '02/Mar/2026:14:00:00 +0000'), dated(base[3]!, '03/Mar/2026:14:00:00 +0000'), dated(base[3]!, '01/Jan/2200:00:00:00 +0000')];
    writeLines(join(dir, 'min.log'), lines);
    const r = await runCli(['replay', join(dir, 'min.log'), '--data', join(dir, 'data'), '--batch-lines', '4', '--quiet'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, describeRun(r));
    const s = parseSummary(r.stdout);
    assert.deepEqual({ stored: s.stored, dead: s.deadLetters }, { stored: 4, dead: 1 }, describeRun(r));
    const windows = Number(/hunts +(\d+) event-time windows/.exec(r.stdout)?.[1]);
    // Six 10-minute windows whose last hour holds each event (the last only up to the grid point after it).
    assert.ok(windows > 0 && windows <= 4 * 6, `hunt windows ${windows}\n${describeRun(r)}`);
  });
});

describe('Kafka ingest never crash-loops on a message', () => {
  const TOPIC = 'hostile';
  let cluster: MockKafkaCluster;
  before(() => {
    cluster = startCluster({ brokers: 1, topics: { [TOPIC]: 2 } });
  });
  after(() => stopCluster(cluster));

  it('400 good messages and one dated 9999: the 400 are stored, the poison is a dead letter, the consumer keeps running', async (t) => {
    const dir = tempDir(t, 'hostile-kafka');
    const data = join(dir, 'data');
    const good = background(400, Date.UTC(2026, 2, 2, 10));
    const poison = { key: 'poison', value: dated(tileLine('203.0.113.9', Date.UTC(2026, 2, 2, 10), 1, 1), '31/Dec/9999:23:59:59 +0000') };
    await produceLines(cluster.bootstrap, TOPIC, [...good.slice(0, 200), poison, ...good.slice(200)]);
    const ing = await startIngest({ bootstrap: cluster.bootstrap, topic: TOPIC, group: 'hostile-g', data, extra: ['--no-hunts'] });
    let stderr = '';
    try {
      await waitFor(
        async () => {
          stderr = ing.stderr();
          if (ing.child.exitCode !== null) throw new Error(`ingest exited ${ing.child.exitCode}: ${stderr.slice(-800)}`);
          const m = await fetch(`http://127.0.0.1:${ing.port}/metrics`).then((res) => res.text()).catch(() => '');
          const rows = Number(/^tilewatch_ingest_rows_total\{[^}]*\} (\d+)/m.exec(m)?.[1] ?? 0);
          const dead = Number(/^tilewatch_dead_letters_total\{[^}]*reason="event_time_out_of_range"[^}]*\} (\d+)/m.exec(m)?.[1] ?? 0);
          return rows === 400 && dead === 1;
        },
        60_000,
        'ingest to store 400 rows and 1 dead letter',
        250,
      );
    } finally {
      await stopGracefully(ing);
    }
    const rows = await sqlRows<{ n: string; d: string }>(data, "SELECT count() AS n, uniqExact(partition, line) AS d FROM tile_requests WHERE source LIKE 'kafka:%'");
    assert.deepEqual([Number(rows[0]!.n), Number(rows[0]!.d)], [400, 400]);
    const dead = await sqlRows<{ reason: string }>(data, 'SELECT reason FROM dead_letters');
    assert.equal(dead.length, 1);
    assert.match(dead[0]!.reason, /^event time .* ahead of the clock/);
  });
});

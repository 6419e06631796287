/**
 * Helpers for the exactly-once fault tests (issue 16): a producer that keeps messages flowing while a
 * test injects faults, the lineage and rollups of a store read through any Store (a shared store over
 * ClickHouse's HTTP interface or an embedded one), assertions that name the duplicated
 * (partition/offset) pairs, and evidence that a fault happened (who held which partition, what was
 * stored ahead of the group's commits).
 */
import assert from 'node:assert/strict';
import type { Producer } from 'kafkajs';
import type { Store } from '../../services/store/openStore.ts';
import { loggedLines, tileLine, type Ingest } from './ingest.ts';
import { committedOffsets, createProducer, kafkaClient, topicWatermarks, waitFor } from './kafka.ts';

/**
 * `n` keyed messages whose event time advances `stepMs` per message: viewers (distinct addresses,
 * at most two tiles each) with one raster scrape by `scraper` interleaved every `every` messages
 * (1,280 tiles of a 40×32 level, sequentially), so the scrape spans the whole stream.
 */
export function flowWithScrape(n: number, t0: number, scraper: string, every: number, stepMs = 12): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  let tile = 0;
  for (let i = 0; i < n; i++) {
    const t = t0 + i * stepMs;
    if (i % every === Math.floor(every / 2) && tile < 40 * 32) {
      out.push({ key: scraper, value: tileLine(scraper, t, tile % 40, Math.floor(tile / 40)) });
      tile++;
      continue;
    }
    const ip = `198.51.${(i >> 8) & 255}.${i & 255}`;
    out.push({ key: ip, value: tileLine(ip, t, i % 7, i % 5, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36') });
  }
  assert.equal(tile, 40 * 32, `the scrape fits in ${n} messages every ${every}`);
  return out;
}

/**
 * Produces a fixed list of messages in the background, only as far as the test allows
 * ({@link allow}): the test lets a chunk flow, injects a fault while it flows, and can tell how many
 * messages were acknowledged before and after. `phase` labels what each acknowledged batch was
 * produced during (see {@link phaseOf}).
 */
export class Feeder {
  produced = 0;
  phase = 'start';
  private allowed = 0;
  private wake: (() => void) | null = null;
  private failed: Error | null = null;
  /** Per partition, in order: the first offset each acknowledged send wrote there, and its phase. */
  private readonly starts = new Map<number, Array<{ first: number; phase: string }>>();
  readonly done: Promise<void>;
  private readonly producer: Producer;

  constructor(
    bootstrap: string,
    private readonly topic: string,
    private readonly messages: ReadonlyArray<{ key: string; value: string }>,
    private readonly opts: { batchSize?: number; pauseMs?: number } = {},
  ) {
    this.producer = createProducer(kafkaClient(bootstrap, { clientId: 'tilewatch-test-feeder' }));
    this.done = this.run().catch((err: unknown) => {
      this.failed = err as Error;
      throw err;
    });
    this.done.catch(() => undefined);
  }

  get total(): number {
    return this.messages.length;
  }

  /** Lets `n` more messages flow (capped at the list's end). */
  allow(n: number): void {
    this.allowed = Math.min(this.messages.length, this.allowed + n);
    this.wake?.();
  }

  allowAll(): void {
    this.allow(this.messages.length);
  }

  /** Waits until at least `n` messages are acknowledged. */
  async reached(n: number, timeoutMs = 120_000): Promise<void> {
    await waitFor(() => {
      if (this.failed) throw this.failed;
      return this.produced >= Math.min(n, this.messages.length);
    }, timeoutMs, `${n} messages produced (have ${this.produced})`, 50);
  }

  /** Which phase a (partition, offset) was produced in (its send is the last one that began at or before it). */
  phaseOf(partition: number, offset: number): string {
    let phase = '?';
    for (const s of this.starts.get(partition) ?? []) {
      if (s.first > offset) break;
      phase = s.phase;
    }
    return phase;
  }

  private async run(): Promise<void> {
    const batchSize = this.opts.batchSize ?? 200;
    const pauseMs = this.opts.pauseMs ?? 10;
    await this.producer.connect();
    try {
      while (this.produced < this.messages.length) {
        if (this.produced >= this.allowed) {
          await new Promise<void>((r) => (this.wake = r));
          this.wake = null;
          continue;
        }
        const batch = this.messages.slice(this.produced, Math.min(this.allowed, this.produced + batchSize));
        const phase = this.phase;
        const meta = await this.producer.send({ topic: this.topic, acks: -1, messages: batch.map((m) => ({ key: m.key, value: m.value })) });
        // One entry per partition written, with the first offset written there.
        for (const m of meta) (this.starts.get(m.partition) ?? this.starts.set(m.partition, []).get(m.partition)!).push({ first: Number(m.baseOffset), phase });
        this.produced += batch.length;
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    } finally {
      await this.producer.disconnect();
    }
  }

  async stop(): Promise<void> {
    this.allowed = this.produced;
    this.wake?.();
    await this.producer.disconnect().catch(() => undefined);
  }
}

/** Every stored Kafka (partition/offset) pair of `table` (tile_requests or image_requests). */
export async function storedPairs(store: Store, table: 'tile_requests' | 'image_requests' = 'tile_requests'): Promise<string[]> {
  const rows = await (
    await store.client.query({ query: `SELECT partition, toString(line) AS line FROM ${table} WHERE source LIKE 'kafka:%'`, format: 'JSONEachRow' })
  ).json<{ partition: number; line: string }>();
  return rows.map((r) => `${r.partition}/${r.line}`);
}

/** Highest stored offset + 1 per partition (the stored end), from tile_requests. */
export async function storedEnds(store: Store): Promise<Map<number, number>> {
  const rows = await (
    await store.client.query({ query: "SELECT partition, toString(max(line)) AS m FROM tile_requests WHERE source LIKE 'kafka:%' GROUP BY partition", format: 'JSONEachRow' })
  ).json<{ partition: number; m: string }>();
  return new Map(rows.map((r) => [Number(r.partition), Number(r.m) + 1]));
}

/** Duplicated pairs with their copy count. */
export function duplicates(pairs: readonly string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const p of pairs) seen.set(p, (seen.get(p) ?? 0) + 1);
  for (const [k, n] of seen) if (n === 1) seen.delete(k);
  return seen;
}

/**
 * Asserts `stored` equals `expected` exactly (count, set, no copies). On failure the message names
 * the duplicated pairs (up to 20, with copy counts and, given `phaseOf`, the phase each was produced
 * in), the duplicates per partition and per phase, missing and unexpected pairs.
 */
export function assertExactPairs(stored: readonly string[], expected: readonly string[], what: string, phaseOf?: (partition: number, offset: number) => string): void {
  const dups = duplicates(stored);
  const extra = [...dups.values()].reduce((a, n) => a + n - 1, 0);
  const storedSet = new Set(stored);
  const expectedSet = new Set(expected);
  const missing = expected.filter((e) => !storedSet.has(e));
  const unexpected = [...storedSet].filter((s) => !expectedSet.has(s));
  if (extra === 0 && missing.length === 0 && unexpected.length === 0 && stored.length === expected.length) return;
  const byPartition: Record<string, number> = {};
  const byPhase: Record<string, number> = {};
  const missingByPhase: Record<string, number> = {};
  if (phaseOf)
    for (const m of missing) {
      const ph = phaseOf(Number(m.split('/')[0]), Number(m.split('/')[1]));
      missingByPhase[ph] = (missingByPhase[ph] ?? 0) + 1;
    }
  for (const [k, n] of dups) {
    const [p, o] = k.split('/').map(Number) as [number, number];
    byPartition[p] = (byPartition[p] ?? 0) + n - 1;
    if (phaseOf) byPhase[phaseOf(p, o)] = (byPhase[phaseOf(p, o)] ?? 0) + n - 1;
  }
  const sample = [...dups]
    .sort((a, b) => {
      const [pa, oa] = a[0].split('/').map(Number) as [number, number];
      const [pb, ob] = b[0].split('/').map(Number) as [number, number];
      return pa - pb || oa - ob;
    })
    .slice(0, 20)
    .map(([k, n]) => `${k}×${n}${phaseOf ? `(${phaseOf(Number(k.split('/')[0]), Number(k.split('/')[1]))})` : ''}`);
  assert.fail(
    `${what}: ${stored.length} stored for ${expected.length} expected; ${extra} extra copies of ${dups.size} pairs` +
      ` (per partition ${JSON.stringify(byPartition)}${phaseOf ? `, per phase produced ${JSON.stringify(byPhase)}` : ''}): ${sample.join(' ')}` +
      `; missing ${missing.length}${phaseOf && missing.length > 0 ? ` (per phase produced ${JSON.stringify(missingByPhase)})` : ''}: ${missing.slice(0, 10).join(' ')}; unexpected ${unexpected.length}: ${unexpected.slice(0, 10).join(' ')}`,
  );
}

/**
 * Checks every rollup that tile_requests feeds through a materialized view (schemas/clickhouse:
 * traffic_minute, client_minute, client_image_hour, image_requests, hunt_cells) against what the
 * stored requests imply counted once per (partition, offset): per key, and in total against
 * `expectedRows`. image_requests carries the lineage, so its pairs are compared exactly. Returns
 * a list of discrepancies (empty when every rollup is exact).
 */
export async function rollupDiscrepancies(store: Store, expectedPairsList: readonly string[], phaseOf?: (partition: number, offset: number) => string): Promise<string[]> {
  const expectedRows = expectedPairsList.length;
  const rows = async <T>(query: string): Promise<T[]> => (await store.client.query({ query, format: 'JSONEachRow' })).json<T>();
  // tile_requests with each (partition, offset) once: what the rollups must add up to.
  const once = "(SELECT * FROM tile_requests WHERE source LIKE 'kafka:%' LIMIT 1 BY partition, line)";
  const out: string[] = [];
  const compare = async (name: string, rollup: string, fromRows: string): Promise<void> => {
    const a = new Map((await rows<{ k: string; n: string }>(rollup)).map((r) => [r.k, Number(r.n)]));
    const b = new Map((await rows<{ k: string; n: string }>(fromRows)).map((r) => [r.k, Number(r.n)]));
    const total = [...a.values()].reduce((x, y) => x + y, 0);
    const implied = [...b.values()].reduce((x, y) => x + y, 0);
    const diff: string[] = [];
    for (const k of new Set([...a.keys(), ...b.keys()])) if ((a.get(k) ?? 0) !== (b.get(k) ?? 0)) diff.push(`${k}: ${a.get(k) ?? 0} vs ${b.get(k) ?? 0}`);
    if (diff.length > 0 || total !== implied) out.push(`${name}: total ${total} vs ${implied} implied by the stored requests (each once); ${diff.length} keys differ, e.g. ${diff.slice(0, 5).join('; ')}`);
    return;
  };
  await compare(
    'traffic_minute (sum of requests per minute)',
    'SELECT toString(minute) AS k, sum(requests) AS n FROM traffic_minute GROUP BY k',
    `SELECT toString(toStartOfMinute(ts)) AS k, count() AS n FROM ${once} GROUP BY k`,
  );
  await compare(
    'client_minute (sum of requests per client and minute)',
    'SELECT concat(toString(client), \' \', toString(minute)) AS k, sum(requests) AS n FROM client_minute GROUP BY k',
    `SELECT concat(toString(client), ' ', toString(toStartOfMinute(ts))) AS k, count() AS n FROM ${once} GROUP BY k`,
  );
  await compare(
    'client_image_hour (sum of tiles per client, image and hour)',
    "SELECT concat(toString(client), ' ', image_id, ' ', toString(hour)) AS k, sum(tiles) AS n FROM client_image_hour GROUP BY k",
    `SELECT concat(toString(client), ' ', image_id, ' ', toString(toStartOfHour(ts))) AS k, count() AS n FROM ${once} WHERE kind IN ('tile', 'region', 'full') AND status < 400 AND image_id != '' GROUP BY k`,
  );
  await compare(
    'hunt_cells (sum of requests per 10-minute bucket)',
    'SELECT toString(bucket) AS k, sum(requests) AS n FROM hunt_cells GROUP BY k',
    `SELECT toString(toStartOfInterval(ts, INTERVAL 10 MINUTE)) AS k, count() AS n FROM ${once} WHERE image_id != '' GROUP BY k`,
  );
  const [{ n: trafficTotal } = { n: '0' }] = await rows<{ n: string }>('SELECT sum(requests) AS n FROM traffic_minute');
  if (Number(trafficTotal) !== expectedRows) out.push(`traffic_minute: ${trafficTotal} requests in total for ${expectedRows} produced`);
  // image_requests keeps the lineage: its pairs must be exactly the produced ones (every message here is an image request).
  const [{ n: nonImage } = { n: '0' }] = await rows<{ n: string }>(`SELECT count() AS n FROM ${once} WHERE image_id = ''`);
  assert.equal(Number(nonImage), 0, 'every produced message is an image request (image_requests holds them all)');
  try {
    assertExactPairs(await storedPairs(store, 'image_requests'), expectedPairsList, 'image_requests', phaseOf);
  } catch (err) {
    out.push((err as Error).message);
  }
  return out;
}

/** Metric sum from a child's /metrics, bounded in time (a stopped process does not answer). */
export async function metricOf(port: number, name: string, timeoutMs = 5_000): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) if ((line.startsWith(`${name} `) || line.startsWith(`${name}{`)) && !line.startsWith('#')) sum += Number(line.split(' ').pop());
  return sum;
}

/** A member of the group under test: a name and its processes, oldest first (the last one runs). */
export interface Member {
  readonly name: string;
  readonly runs: Ingest[];
}

export function current(m: Member): Ingest {
  return m.runs[m.runs.length - 1]!;
}

/** Assignments a run logged (`--log-level info`: 'partitions assigned', the partitions it gained). */
export function assignmentsOf(ing: Ingest): Array<{ time: number; partitions: number[] }> {
  return loggedLines(ing, 'partitions assigned').map((l) => ({ time: l.time, partitions: (l.partitions as number[] | undefined) ?? [] }));
}

/**
 * Who holds which partition, from the assignments every run of every member logged: a partition
 * belongs to the run that logged it most recently (a partition changes hands only by being assigned
 * to someone, which that someone logs). Runs that exited are included: their partitions are orphans
 * until someone logs them.
 */
export function owners(members: readonly Member[]): Map<number, { member: string; run: Ingest; time: number }> {
  const out = new Map<number, { member: string; run: Ingest; time: number }>();
  for (const m of members)
    for (const run of m.runs)
      for (const a of assignmentsOf(run)) for (const p of a.partitions) if ((out.get(p)?.time ?? Number.NEGATIVE_INFINITY) < a.time) out.set(p, { member: m.name, run, time: a.time });
  return out;
}

export function partitionsOf(members: readonly Member[], run: Ingest): number[] {
  return [...owners(members)]
    .filter(([, o]) => o.run === run)
    .map(([p]) => p)
    .sort((a, b) => a - b);
}

/** Committed offset and stored end per partition right now, and the partitions stored ahead of their commit. */
export async function commitVsStored(bootstrap: string, group: string, topic: string, store: Store): Promise<{ committed: Map<number, number>; stored: Map<number, number>; marks: Map<number, { low: number; high: number }>; ahead: number[] }> {
  const [committed, stored, marks] = await Promise.all([committedOffsets(bootstrap, group, topic), storedEnds(store), topicWatermarks(bootstrap, topic)]);
  const ahead = [...stored].filter(([p, end]) => end > Math.max(0, committed.get(p) ?? -1)).map(([p]) => p);
  return { committed, stored, marks, ahead };
}

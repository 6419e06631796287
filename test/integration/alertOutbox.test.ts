/**
 * The alert outbox (services/alerting/outbox.ts, dispatcher.ts, alertOutputs.ts) on a real chDB
 * store with a real HTTP receiver that verifies every signed request:
 *
 * 1. A webhook down for 5 minutes of clock time (the fake clock compresses them), while alert
 *    versions keep being stored, receives every notice version afterwards, each exactly once (the
 *    exact set of id:version keys), and the outage is seen: refused attempts, failures counted, the
 *    backlog and lag gauges up.
 * 2. `tilewatch replay` stopped while the webhook is down leaves its notices in the outbox (and says
 *    how many); the next run, with the webhook up, delivers exactly those, once — a replay of the same
 *    log again stores nothing new for the sinks.
 * 3. A process killed (SIGKILL) after the alerts insert, while a delivery is in flight, re-delivers
 *    after the restart with the same idempotency key; nothing is lost.
 * 4. While the store refuses the alerts insert no sink sees the version; the versions stay buffered
 *    and are stored and delivered, once, when it is back.
 * 5. Two processes under one outbox name (a misconfiguration) hand out one position twice: both
 *    versions are still delivered, and the clash is logged as an error.
 * 6. The block list (a sink that follows every version) gets the updates between notices from the
 *    outbox too; the webhook only the notices.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parseSinksConfig } from '../../services/alerting/sinksConfig.ts';
import type { Alert } from '../../services/core/alert.ts';
import { noNetworkContext } from '../../services/core/network/networkContext.ts';
import { openAlertOutputs } from '../../services/cli/commands/alertOutputs.ts';
import type { TilewatchConfig } from '../../services/cli/config.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';
import { makeAlert } from '../support/alerts.ts';
import { BIN, REPO_ROOT, childEnv, describeRun, runCli, tempDir } from '../support/cli.ts';
import { FakeClock } from '../support/fakeClock.ts';
import { waitFor } from '../support/kafka.ts';
import { scraperScenario, SCRAPER_UA, writeLines } from '../support/logs.ts';
import { sqlRows } from '../support/store.ts';
import { switchableReceiver } from '../support/webhookReceiver.ts';

const SECRET = 'whsec-outbox-0123456789abcdef';
const SECRET_ENV = 'TW_OUTBOX_TEST_SECRET';

const key = (a: Pick<Alert, 'id' | 'version'>): string => `${a.id}:${a.version}`;
const sorted = (xs: readonly string[]): string[] => [...xs].sort();

async function gauge(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values.reduce((s, v) => s + v.value, 0) ?? Number.NaN;
}

/** Actor `i`: its own address, /24 and user agent, so each opens its own incident. */
function actor(i: number, version: number, resolved = false): Alert {
  const ip = `198.51.${i}.7`;
  return makeAlert({
    id: `tw-${i.toString(16).padStart(20, '0')}`,
    version,
    severity: 'high',
    client: { ip, ips: [ip], subnet: `198.51.${i}.0/24`, userAgent: `agent-${i}/1.0` },
    ...(resolved ? { status: 'resolved' as const, resolvedAt: '2026-01-05T12:20:00.000Z' } : {}),
  });
}

/** Two scrapers (own address, /24 and user agent) sweeping the scenario's images in step, over its viewers. */
function twoScrapers(): string[] {
  const s = scraperScenario(3);
  const who = [
    { ip: '203.0.113.66', ua: SCRAPER_UA },
    { ip: '198.51.100.66', ua: 'Go-http-client/1.1' },
  ];
  const out: string[] = [];
  for (const line of s.lines) {
    if (!line.startsWith(`${s.scraperIp} `)) out.push(line);
    else for (const w of who) out.push(line.replace(s.scraperIp, w.ip).replace(SCRAPER_UA, w.ua));
  }
  return out;
}

/** The notice versions (incident.notice set) a replay wrote to --alerts-out, as id:version. */
function noticesIn(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Alert)
    .filter((a) => a.incident?.notice !== undefined)
    .map(key);
}

interface Setup {
  readonly dir: string;
  readonly data: string;
  readonly config: string;
  readonly log: string;
}

function setupReplay(t: TestContext, label: string, url: string, drainTimeoutMs: number): Setup {
  const dir = tempDir(t, label);
  process.env[SECRET_ENV] = SECRET; // children inherit it (childEnv)
  t.after(() => delete process.env[SECRET_ENV]);
  const config = join(dir, 'tilewatch.json');
  const webhook = { name: 'soc', url, secretEnv: SECRET_ENV, timeoutMs: 2000, retry: { baseDelayMs: 100, maxDelayMs: 400 } };
  writeFileSync(config, JSON.stringify({ network: { asnDatabase: 'none' }, sinks: { drainTimeoutMs, muteReloadMs: 0, webhooks: [webhook] } }));
  const log = join(dir, 'access.log');
  writeLines(log, twoScrapers());
  return { dir, data: join(dir, 'data'), config, log };
}

const replayArgs = (s: Setup, out: string): string[] => ['replay', '--data', s.data, '--config', s.config, '--no-hunts', '--quiet', '--alerts-out', join(s.dir, out), s.log];

/** pino lines of a child's stderr with this message. */
function logLines(stderr: string, msg: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

describe('alert outbox', () => {
  test('a webhook down for 5 minutes receives every notice version afterwards, each exactly once', { timeout: 120_000 }, async (t) => {
    const hook = await switchableReceiver(t, SECRET);
    // Signatures carry the fake clock's time and the receiver checks them against the real one
    // (300 s tolerance): start 150 s behind, end at most 150 s ahead after the 5 minutes.
    const clock = new FakeClock(Date.now() - 150_000);
    const store = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'outbox-down'), 'data') });
    t.after(() => store.close());
    await migrate(store.client);
    const sinks = parseSinksConfig(
      { muteReloadMs: 0, drainTimeoutMs: 5000, webhooks: [{ name: 'soc', url: hook.url, secretEnv: SECRET_ENV, retry: { baseDelayMs: 1000, maxDelayMs: 30_000, maxAttempts: 4 } }] },
      { [SECRET_ENV]: SECRET },
    );
    const config = { sinks, allowlist: { cidrs: [], userAgents: [] } } as unknown as TilewatchConfig;
    const registry = new Registry();
    const out = await openAlertOutputs({ config, store, logger: pino({ level: 'silent' }), registry, clock, network: noNetworkContext() });
    const backlog = (): Promise<number> => gauge(registry, 'tilewatch_sink_backlog');
    /** Waits (real time) until the sink is parked on the fake clock (a retry wait) or has nothing left. */
    const parked = (what: string): Promise<void> =>
      waitFor(async () => clock.pending === 1 || (await backlog()) === 0, 20_000, `sink parked (${what}); attempts ${hook.attempts.length}`, 10);

    const notices: string[] = [];
    // Up: actors 1 and 2 open (notices).
    for (const i of [1, 2]) notices.push(key(out.emit(actor(i, 1))));
    await out.flush();
    await waitFor(() => hook.accepted.length === 2, 20_000, 'two notices while up', 10);

    // Down for 5 minutes of clock time; every minute a new actor opens, an earlier one updates
    // (no notice), and one resolves (a notice).
    hook.mode = 'down';
    const downFrom = hook.attempts.length;
    for (let m = 0; m < 5; m++) {
      notices.push(key(out.emit(actor(3 + m, 1))));
      out.emit(actor(1 + m, 2)); // an update: pages nobody
      if (m >= 2) notices.push(key(out.emit(actor(m - 1, 3, true))));
      await out.flush();
      for (let s = 0; s < 4; s++) {
        await parked(`minute ${m}`);
        await clock.advance(15_000);
      }
    }
    await parked('end of the outage');
    const refusedDuringOutage = hook.attempts.length - downFrom;
    const backlogDuringOutage = await backlog();
    const lagDuringOutage = await gauge(registry, 'tilewatch_sink_lag_seconds');
    const failures = await gauge(registry, 'tilewatch_sink_failures_total');
    assert.equal(hook.accepted.length, 2, 'nothing accepted while down');

    // Up again: the retry wait ends and the backlog drains; then more versions flow.
    hook.mode = 'up';
    while ((await backlog()) > 0) {
      await clock.advance(30_000);
      await parked('catching up');
    }
    notices.push(key(out.emit(actor(20, 1))));
    notices.push(key(out.emit(actor(7, 3, true))));
    await out.flush();
    await waitFor(async () => (await backlog()) === 0 && hook.accepted.length === notices.length, 20_000, 'the versions after the outage', 10);
    await out.close();

    const got = hook.accepted.map((a) => key(a.alert));
    t.diagnostic(`outage: ${refusedDuringOutage} refused attempts, backlog ${backlogDuringOutage}, lag ${lagDuringOutage} s; ${got.length} accepted`);
    assert.deepEqual(sorted(got), sorted(notices), 'every notice version, each once');
    assert.equal(new Set(got).size, got.length, 'none twice');
    assert.equal(new Set(hook.accepted.map((a) => a.key)).size, got.length, 'one idempotency key per version');
    assert.deepEqual(hook.refused, [], 'every request verified');
    // The outage reached the sink and was visible.
    assert.ok(refusedDuringOutage >= 5, `refused attempts during the outage: ${refusedDuringOutage}`);
    assert.ok(failures >= refusedDuringOutage, `tilewatch_sink_failures_total ${failures}`);
    assert.equal(backlogDuringOutage, 8, 'the 8 notices stored during the outage waited in the outbox (updates get no position without an every-version sink)');
    assert.ok(lagDuringOutage >= 240, `lag at the end of the outage ${lagDuringOutage} s`);
    // Order per alert: its versions arrive in version order.
    for (const id of new Set(hook.accepted.map((a) => a.alert.id))) {
      const vs = hook.accepted.filter((a) => a.alert.id === id).map((a) => a.alert.version);
      assert.deepEqual(vs, [...vs].sort((a, b) => a - b), `versions of ${id} in order`);
    }
    // The position saved for the sink is the last one written.
    const [cursor] = (await (await store.client.query({ query: "SELECT max(seq) AS seq FROM sink_cursors WHERE origin = 'tilewatch' AND sink = 'soc'", format: 'JSONEachRow' })).json<{ seq: number }>());
    const [last] = (await (await store.client.query({ query: "SELECT max(seq) AS seq, count() AS n FROM alert_outbox WHERE origin = 'tilewatch'", format: 'JSONEachRow' })).json<{ seq: number; n: number }>());
    assert.equal(Number(cursor!.seq), Number(last!.seq));
  });

  test('replay stopped while the webhook is down leaves its notices in the outbox; the next start delivers them, once', { timeout: 240_000 }, async (t) => {
    const hook = await switchableReceiver(t, SECRET);
    const s = setupReplay(t, 'outbox-restart', hook.url, 1500);
    hook.mode = 'down';
    const r1 = await runCli(replayArgs(s, 'run1.jsonl'), { timeoutMs: 120_000 });
    assert.equal(r1.code, 0, describeRun(r1));
    const notices = noticesIn(join(s.dir, 'run1.jsonl'));
    assert.ok(notices.length >= 2, `two scrapers page at least twice: ${JSON.stringify(notices)}`);
    assert.ok(hook.attempts.length >= 1, 'the run tried the webhook while it was down');
    assert.equal(hook.accepted.length, 0);
    const left = logLines(r1.stderr, 'alert versions not delivered before shutdown: they stay in the outbox and are delivered after the next start');
    assert.deepEqual(left.map((l) => l.left), [{ soc: notices.length }], 'the stop says how many stay');
    const stored = await sqlRows<{ id: string; version: number }>(s.data, 'SELECT id, version FROM alert_outbox FINAL ORDER BY seq');
    assert.deepEqual(sorted(stored.map(key)), sorted(notices), 'the outbox holds exactly the notices');

    // Up again; the same log replayed: its versions are stored already (no new positions), and the
    // start delivers what the first run left.
    hook.mode = 'up';
    const r2 = await runCli(replayArgs(s, 'run2.jsonl'), { timeoutMs: 120_000 });
    assert.equal(r2.code, 0, describeRun(r2));
    const got = hook.accepted.map((a) => key(a.alert));
    assert.deepEqual(sorted(got), sorted(notices), 'every notice of the first run, each once, and nothing of the second');
    assert.deepEqual(hook.refused, []);
    assert.equal((await sqlRows(s.data, 'SELECT 1 FROM alert_outbox FINAL')).length, notices.length, 'the second run added no position');
    assert.deepEqual(logLines(r2.stderr, 'alert versions not delivered before shutdown: they stay in the outbox and are delivered after the next start'), []);
  });

  test('a process killed after the alerts insert, with a delivery in flight, re-delivers after the restart with the same idempotency key', { timeout: 240_000 }, async (t) => {
    const hook = await switchableReceiver(t, SECRET);
    const s = setupReplay(t, 'outbox-kill', hook.url, 60_000);
    hook.mode = 'hang'; // the first delivery arrives and is never answered
    const child = spawn(process.execPath, [BIN, ...replayArgs(s, 'run1.jsonl')], { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    t.after(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    await waitFor(() => hook.attempts.length >= 1, 120_000, `a delivery in flight (stderr: ${stderr.slice(-400)})`, 20);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const inFlight = hook.attempts[0]!;
    assert.equal(hook.accepted.length, 0);

    // The kill landed between the insert and the delivery: the versions are stored and in the
    // outbox, and the sink's saved position is before them.
    const notices = noticesIn(join(s.dir, 'run1.jsonl'));
    const outbox = await sqlRows<{ id: string; version: number; seq: number }>(s.data, 'SELECT id, version, seq FROM alert_outbox FINAL ORDER BY seq');
    assert.deepEqual(sorted(outbox.map(key)), sorted(notices));
    const cursors = await sqlRows<{ seq: number }>(s.data, "SELECT max(seq) AS seq FROM sink_cursors WHERE origin = 'replay' AND sink = 'soc'");
    assert.ok(Number(cursors[0]!.seq) < Number(outbox[0]!.seq), `saved position ${cursors[0]!.seq} is before the first version ${outbox[0]!.seq}`);
    // The alerts table (the source of truth) holds them: once merged it keeps each id's newest version only.
    const stored = new Map((await sqlRows<{ id: string; v: number }>(s.data, 'SELECT id, max(version) AS v FROM alerts GROUP BY id')).map((r) => [r.id, Number(r.v)]));
    for (const n of outbox) assert.ok((stored.get(n.id) ?? 0) >= Number(n.version), `alerts holds ${key(n)}`);

    hook.mode = 'up';
    const r2 = await runCli(replayArgs(s, 'run2.jsonl'), { timeoutMs: 120_000 });
    assert.equal(r2.code, 0, describeRun(r2));
    const got = hook.accepted.map((a) => key(a.alert));
    assert.deepEqual(sorted([...new Set(got)]), sorted(notices), 'every notice delivered after the restart');
    assert.ok(hook.accepted.some((a) => a.key === inFlight), `the version in flight at the kill came again under its key ${inFlight}`);
    assert.deepEqual(hook.refused, []);
  });

  test('a store outage: no sink sees a version the alerts table does not hold; the versions are kept and delivered once after', { timeout: 60_000 }, async (t) => {
    const hook = await switchableReceiver(t, SECRET);
    const clock = new FakeClock(Date.now());
    const real = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'outbox-store-down'), 'data') });
    t.after(() => real.close());
    await migrate(real.client);
    let storeDown = false;
    let refusedInserts = 0;
    // The store refuses inserts while "down" (reads still answer: the outage hits the alerts write).
    const store = {
      ...real,
      insertRaw: (ins: Parameters<typeof real.insertRaw>[0]) => {
        if (!storeDown) return real.insertRaw(ins);
        refusedInserts++;
        return Promise.reject(new Error('Code: 210. Connection refused (test outage)'));
      },
    };
    const sinks = parseSinksConfig({ muteReloadMs: 0, webhooks: [{ name: 'soc', url: hook.url, secretEnv: SECRET_ENV }] }, { [SECRET_ENV]: SECRET });
    const config = { sinks, allowlist: { cidrs: [], userAgents: [] } } as unknown as TilewatchConfig;
    const registry = new Registry();
    const out = await openAlertOutputs({ config, store, logger: pino({ level: 'silent' }), registry, clock, network: noNetworkContext() });

    storeDown = true;
    const first = key(out.emit(actor(1, 1)));
    const failed = out.flush().then(
      () => 'stored',
      () => 'refused',
    );
    await clock.runUntil(() => refusedInserts === 5);
    assert.equal(await failed, 'refused', 'flush reports the outage after its attempts');
    const second = key(out.emit(actor(2, 1)));
    assert.deepEqual(hook.attempts, [], 'no sink saw a version the table does not hold');
    assert.equal(await gauge(registry, 'tilewatch_sink_backlog'), 0, 'nothing readable in the outbox');
    const [during] = (await (await real.client.query({ query: 'SELECT count() AS n FROM alerts', format: 'JSONEachRow' })).json<{ n: number }>());
    assert.equal(Number(during!.n), 0);

    storeDown = false;
    await out.flush();
    await waitFor(() => hook.accepted.length === 2, 20_000, 'both versions after the store is back', 10);
    await out.close();
    assert.deepEqual(hook.accepted.map((a) => key(a.alert)), [first, second], 'both, once, in order');
    const rows = (await (await real.client.query({ query: 'SELECT id, version FROM alerts ORDER BY id', format: 'JSONEachRow' })).json<{ id: string; version: number }>());
    assert.deepEqual(sorted(rows.map(key)), sorted([first, second]), 'the table holds what the sink received');
  });

  test('two processes under one outbox name (a misconfiguration): both versions under one position are delivered, and the clash is logged as an error', { timeout: 60_000 }, async (t) => {
    const hook = await switchableReceiver(t, SECRET);
    const store = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, 'outbox-clash'), 'data') });
    t.after(() => store.close());
    await migrate(store.client);
    const sinks = parseSinksConfig({ muteReloadMs: 0, webhooks: [{ name: 'soc', url: hook.url, secretEnv: SECRET_ENV }] }, { [SECRET_ENV]: SECRET });
    const config = { sinks, allowlist: { cidrs: [], userAgents: [] } } as unknown as TilewatchConfig;
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
    // Both start before either writes: both continue after position 0.
    const a = await openAlertOutputs({ config, store, logger, network: noNetworkContext(), outbox: 'ingest:tw:tilewatch-ingest' });
    const b = await openAlertOutputs({ config, store, logger, network: noNetworkContext(), outbox: 'ingest:tw:tilewatch-ingest' });
    const x = key(a.emit(actor(1, 1)));
    await a.flush();
    await waitFor(() => hook.accepted.length >= 1, 20_000, 'the first version', 10);
    const y = key(b.emit(actor(2, 1)));
    await b.flush();
    await waitFor(() => hook.accepted.some((r) => key(r.alert) === y), 20_000, 'the second version, under the same position', 10);
    await a.close();
    await b.close();
    const [pos] = await (await store.client.query({ query: "SELECT groupUniqArray(seq) AS seqs FROM alert_outbox WHERE origin = 'ingest:tw:tilewatch-ingest'", format: 'JSONEachRow' })).json<{ seqs: number[] }>();
    assert.deepEqual(pos!.seqs.map(Number), [1], 'both versions got position 1');
    assert.deepEqual(sorted([...new Set(hook.accepted.map((r) => key(r.alert)))]), sorted([x, y]), 'neither lost');
    assert.ok(
      lines.some((l) => l.level === 50 && l.msg.startsWith('two versions under one outbox position')),
      `the clash logged as an error: ${JSON.stringify(lines.map((l) => l.msg))}`,
    );
  });

  test('the block list follows every version through the outbox (updates too); the webhook only the notices', { timeout: 60_000 }, async (t) => {
    const hook = await switchableReceiver(t, SECRET);
    const dir = tempDir(t, 'outbox-blocklist');
    const store = await openStore({ kind: 'embedded', dataDir: join(dir, 'data') });
    t.after(() => store.close());
    await migrate(store.client);
    const geoFile = join(dir, 'blocked.conf');
    const sinks = parseSinksConfig(
      { muteReloadMs: 0, webhooks: [{ name: 'soc', url: hook.url, secretEnv: SECRET_ENV }], blockList: { geoFile, sweepIntervalMs: 0 } },
      { [SECRET_ENV]: SECRET },
    );
    const config = { sinks, allowlist: { cidrs: [], userAgents: [] } } as unknown as TilewatchConfig;
    const out = await openAlertOutputs({ config, store, logger: pino({ level: 'silent' }), network: noNetworkContext(), outbox: 'blocklist-test' });
    const first = actor(30, 1);
    const opened = out.emit({ ...first, severity: 'critical' });
    // The same actor names a second address later: an update that pages nobody.
    const update = out.emit({ ...first, version: 2, severity: 'critical', client: { ...first.client, ips: [first.client.ip, '198.51.30.8'] } });
    assert.equal(update.incident?.notice, undefined, 'the update is not a notice');
    await out.flush();
    await out.close();
    assert.deepEqual(hook.accepted.map((r) => key(r.alert)), [key(opened)], 'the webhook hears the notice only');
    const geo = readFileSync(geoFile, 'utf8');
    assert.match(geo, /^\s*198\.51\.30\.8\/32 1;/m, `the address the update named is blocked:\n${geo}`);
    const rows = await (await store.client.query({ query: "SELECT version, kind FROM alert_outbox WHERE origin = 'blocklist-test' ORDER BY seq", format: 'JSONEachRow' })).json<{ version: number; kind: number }>();
    assert.deepEqual(rows.map((r) => [Number(r.version), Number(r.kind)]), [[1, 1], [2, 2]], 'a notice and an update in the outbox');
  });
});

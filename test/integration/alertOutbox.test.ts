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
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
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
import { combined, scraperScenario, SCRAPER_UA, writeLines } from '../support/logs.ts';
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
});

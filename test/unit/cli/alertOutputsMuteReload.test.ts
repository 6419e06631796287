/**
 * openAlertOutputs re-reads the mute rules on a wall-clock cadence (`sinks.muteReloadMs`, default
 * 30 s) on an injected clock: a rule added after start mutes the next notice once the interval has
 * passed, a failed reload is logged and counted and keeps the rules in force, close() stops the
 * cadence, 0 turns it off. The store is a stand-in answering the two reads openAlertOutputs makes;
 * its alerts insert hands the versions marked for the outbox to an in-memory outbox, as the
 * materialized view does in ClickHouse, so the log sink delivers only what was "stored".
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { memoryOutbox, type AppendableOutbox } from '../../../services/alerting/memoryOutbox.ts';
import { createAnalystMutes, type AnalystMute, type SuppressionRule } from '../../../services/alerting/muteRules.ts';
import { DEFAULT_MUTE_RELOAD_MS, parseSinksConfig, SinksConfigError } from '../../../services/alerting/sinksConfig.ts';
import { openAlertOutputs } from '../../../services/cli/commands/alertOutputs.ts';
import type { TilewatchConfig } from '../../../services/cli/config.ts';
import type { Store } from '../../../services/store/openStore.ts';
import { makeAlert } from '../../support/alerts.ts';
import { FakeClock, flush } from '../../support/fakeClock.ts';

interface Line {
  readonly level: number;
  readonly msg: string;
  readonly alert?: { id: string };
  readonly rules?: number;
}

/** Rows as the store's typed reads receive them (JSONCompactEachRowWithNames: names, then positional rows). */
function compact<T extends object>(names: ReadonlyArray<keyof T & string>, rows: readonly T[]): unknown[] {
  return [names, ...rows.map((r) => names.map((k) => r[k]))];
}
const RULE_COLUMNS = ['id', 'type', 'cidr', 'user_agent', 'alert_kind', 'image_id', 'expires_at', 'deleted'] as const;

/**
 * A store whose `suppression_rules` read returns `rules` (or throws while `failing`), whose analyst
 * mutes read returns `analyst`; `alerts` is empty.
 */
function fakeStore(): { store: Store; outboxStore: AppendableOutbox; rules: SuppressionRule[]; analyst: AnalystMute[]; reads: () => number; setFailing: (f: boolean) => void } {
  const rules: SuppressionRule[] = [];
  const analyst: AnalystMute[] = [];
  let reads = 0;
  let failing = false;
  const client = {
    query: ({ query }: { query: string }) => {
      if (query.includes('suppression_rules')) {
        reads++;
        if (failing) return Promise.reject(new Error('Code: 159. Timeout exceeded'));
        return Promise.resolve({ json: () => Promise.resolve(compact<SuppressionRule>(RULE_COLUMNS, rules)) });
      }
      if (query.includes('alert_actions')) return Promise.resolve({ json: () => Promise.resolve(compact<AnalystMute>(['alert_id', 'incident_id', 'until_ms'], analyst)) });
      return Promise.resolve({ json: () => Promise.resolve([]) });
    },
  };
  const outboxStore = memoryOutbox('tilewatch');
  const insertRaw = ({ table, body }: { table: string; body: Buffer }): Promise<void> => {
    if (table !== 'alerts') return Promise.resolve();
    for (const line of body.toString('utf8').split('\n').filter(Boolean)) {
      const row = JSON.parse(line) as { body: string; outbox?: number; outbox_seq?: number };
      if (!row.outbox) continue;
      const seq = outboxStore.append(JSON.parse(row.body) as ReturnType<typeof makeAlert>, row.outbox === 1);
      assert.equal(seq, row.outbox_seq, 'positions are written in order, without gaps');
    }
    return Promise.resolve();
  };
  const store = { client, target: { kind: 'embedded', dataDir: '/nonexistent' }, description: 'fake', insertRaw, close: () => Promise.resolve() } as unknown as Store;
  return { store, outboxStore, rules, analyst, reads: () => reads, setFailing: (f) => void (failing = f) };
}

function setup(sinks: Record<string, unknown>) {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  const config = { sinks: parseSinksConfig(sinks, {}), allowlist: { cidrs: [], userAgents: [] } } as unknown as TilewatchConfig;
  return { lines, logger, config, clock: new FakeClock(), registry: new Registry(), ...fakeStore() };
}

// Every alert here is its own actor (its own address, /24 and user agent), so each opens an incident
// and pages; alerts in 203.0.0.0/16 match the mute rule, the others do not.
let n = 0;
const actor = (id: string, net: string): ReturnType<typeof makeAlert> => {
  n++;
  const ip = `${net}.${n}.7`;
  return makeAlert({ id, client: { ip, ips: [ip], subnet: `${net}.${n}.0/24`, userAgent: `agent-${n}/1.0` } });
};
const muted = (id: string) => actor(id, '203.0');
const other = (id: string) => actor(id, '198.51');
const RULE: SuppressionRule = { id: 'sr-00000000000000aa', type: 'mute', cidr: '203.0.0.0/16', user_agent: '', alert_kind: '', image_id: '', expires_at: null, deleted: 0 };

const noticed = (lines: readonly Line[]) => lines.filter((l) => l.msg === 'incident notice').map((l) => l.alert!.id);
const mutedIds = (lines: readonly Line[]) => lines.filter((l) => l.msg === 'alert muted; not sent to sinks').map((l) => l.alert!.id);

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values.reduce((s, v) => s + v.value, 0) ?? Number.NaN;
}

describe('openAlertOutputs: mute rules reload on a cadence', () => {
  test('a rule added after start mutes notices once muteReloadMs has passed, and not before', async () => {
    const s = setup({ log: true, muteReloadMs: 1000 });
    const out = await openAlertOutputs({ config: s.config, store: s.store, outboxStore: s.outboxStore, logger: s.logger, registry: s.registry, clock: s.clock });
    assert.equal(s.reads(), 1, 'read once at start');
    assert.equal(await metric(s.registry, 'tilewatch_mute_rules'), 0);
    s.rules.push(RULE); // an analyst adds the mute (POST /api/v1/suppressions) while the process runs

    await s.clock.advance(999);
    assert.equal(s.reads(), 1, 'not re-read before the interval');
    out.emit(muted('tw-before'));
    await out.flush();
    await flush();
    assert.deepEqual(noticed(s.lines), ['tw-before'], 'before the reload the rule is not known: the notice pages');

    await s.clock.advance(1);
    assert.equal(s.reads(), 2, 're-read at 1000 ms');
    assert.equal(await metric(s.registry, 'tilewatch_mute_rules'), 1);
    out.emit(muted('tw-after'));
    out.emit(other('tw-other'));
    await out.flush();
    await flush();
    assert.deepEqual(mutedIds(s.lines), ['tw-after'], 'after the reload the matching notice is muted');
    assert.deepEqual(noticed(s.lines), ['tw-before', 'tw-other'], 'and the unmatched one still pages');

    await s.clock.advance(3000);
    assert.equal(s.reads(), 5, 'every 1000 ms');
    assert.equal(s.lines.filter((l) => l.msg === 'mute rules loaded').length, 2, 'logged when the count changes, not on every reload');
    assert.deepEqual(s.clock.sleeps.slice(0, 4), [1000, 1000, 1000, 1000]);

    await out.close();
    assert.equal(s.clock.pending, 0, 'close() stops the cadence');
    await s.clock.advance(10_000);
    assert.equal(s.reads(), 5, 'no reload after close()');
  });

  test('an analyst muting an alert silences its whole incident until the mute expires; other incidents still page', async () => {
    const s = setup({ log: true, muteReloadMs: 1000 });
    const out = await openAlertOutputs({ config: s.config, store: s.store, outboxStore: s.outboxStore, logger: s.logger, registry: s.registry, clock: s.clock });
    const first = muted('tw-first');
    const opened = out.emit({ ...first, severity: 'medium' });
    await out.flush();
    await flush();
    assert.deepEqual(noticed(s.lines), ['tw-first'], 'the incident is announced');
    // The analyst mutes it from the page for an hour (alert_actions), the reload picks it up.
    s.analyst.push({ alert_id: 'tw-first', incident_id: opened.incident!.id, until_ms: s.clock.now() + 3600_000 });
    await s.clock.advance(1000);
    // Another alert of the same actor (same address) escalates the incident: muted, still stored.
    const second = makeAlert({ id: 'tw-second', severity: 'critical', client: first.client });
    const escalated = out.emit(second);
    assert.equal(escalated.incident!.id, opened.incident!.id, 'the same incident');
    out.emit(other('tw-elsewhere'));
    await out.flush();
    await flush();
    assert.deepEqual(mutedIds(s.lines), ['tw-second'], 'the muted incident does not page');
    assert.deepEqual(noticed(s.lines), ['tw-first', 'tw-elsewhere'], 'another incident still pages');
    await out.close();
  });

  test('analyst mutes hold until they expire, by alert id or by incident', () => {
    const m = createAnalystMutes();
    m.replace([{ alert_id: 'tw-a', incident_id: 'ti-a', until_ms: 2000 }, { alert_id: 'tw-old', incident_id: '', until_ms: 5000 }]);
    const inIncident = (id: string, incident: string) => ({ ...makeAlert({ id }), incident: { id: incident, severity: 'high' as const, status: 'open' as const, alerts: 1 } });
    assert.equal(m.isMuted(makeAlert({ id: 'tw-a' }), 1999), true);
    assert.equal(m.isMuted(makeAlert({ id: 'tw-a' }), 2000), false, 'expired');
    assert.equal(m.isMuted(inIncident('tw-b', 'ti-a'), 1000), true, 'another alert of the muted incident');
    assert.equal(m.isMuted(inIncident('tw-c', 'ti-other'), 1000), false);
    assert.equal(m.isMuted(inIncident('tw-old', 'ti-x'), 4000), true, 'an alert stored before incidents, by its id');
  });

  test('a failed reload is logged (warn) and counted, keeps the rules in force, and the next one applies', async () => {
    const s = setup({ log: true, muteReloadMs: 500 });
    s.rules.push(RULE);
    const out = await openAlertOutputs({ config: s.config, store: s.store, outboxStore: s.outboxStore, logger: s.logger, registry: s.registry, clock: s.clock });
    s.setFailing(true);
    await s.clock.advance(1000);
    assert.equal(s.reads(), 3);
    const warns = s.lines.filter((l) => l.msg === 'mute rules reload failed; the rules in force stay');
    assert.equal(warns.length, 2);
    assert.ok(warns.every((w) => w.level === 40), 'pino warn');
    assert.equal(await metric(s.registry, 'tilewatch_mute_reload_failures_total'), 2);
    out.emit(muted('tw-still-muted'));
    await out.flush();
    await flush();
    assert.deepEqual(mutedIds(s.lines), ['tw-still-muted'], 'the rules loaded before the failures still apply');

    s.rules.length = 0; // the mute is deleted
    s.setFailing(false);
    await s.clock.advance(500);
    out.emit(muted('tw-unmuted'));
    await out.flush();
    await flush();
    assert.deepEqual(noticed(s.lines), ['tw-unmuted'], 'a deleted mute stops muting at the next good reload');
    assert.equal(s.clock.pending, 1, 'still on its cadence');
    await out.close();
    assert.equal(s.clock.pending, 0);
  });

  test('default 30 s; 0 reads once at start only; no sinks, no cadence', async () => {
    assert.equal(DEFAULT_MUTE_RELOAD_MS, 30_000);
    const d = setup({ log: true });
    const out = await openAlertOutputs({ config: d.config, store: d.store, outboxStore: d.outboxStore, logger: d.logger, clock: d.clock });
    await d.clock.advance(29_999);
    assert.equal(d.reads(), 1);
    await d.clock.advance(1);
    assert.equal(d.reads(), 2, 'default cadence 30 s');
    await out.close();

    const off = setup({ log: true, muteReloadMs: 0 });
    const out0 = await openAlertOutputs({ config: off.config, store: off.store, outboxStore: off.outboxStore, logger: off.logger, clock: off.clock });
    assert.equal(off.clock.pending, 0);
    assert.equal(off.reads(), 1);
    await out0.close();

    const none = setup({});
    const outN = await openAlertOutputs({ config: none.config, store: none.store, outboxStore: none.outboxStore, logger: none.logger, clock: none.clock });
    assert.equal(none.clock.pending, 0);
    assert.equal(none.reads(), 0, 'mutes only matter to sinks');
    await outN.close();
  });

  test('sinks.muteReloadMs: an integer from 0 to one day, named in the error', () => {
    assert.equal(parseSinksConfig({}, {}).muteReloadMs, undefined, 'absent: the default applies where rules are loaded');
    assert.equal(parseSinksConfig({ muteReloadMs: 5000 }, {}).muteReloadMs, 5000);
    assert.equal(parseSinksConfig({ muteReloadMs: 0 }, {}).muteReloadMs, 0);
    for (const bad of [-1, 1.5, '30000', null, 86_400_001]) {
      assert.throws(() => parseSinksConfig({ muteReloadMs: bad }, {}), (e: unknown) => e instanceof SinksConfigError && /^sinks\.muteReloadMs: must be an integer from 0 to 86400000/.test(e.message), String(bad));
    }
  });
});

/**
 * Triage from the command line: `tilewatch alerts …` and `tilewatch incidents …` as real CLI
 * processes on the crafted triage store (test/support/incidentStore.ts), whose incidents are known by
 * construction — the ranked list with its counts and filters, one alert and one incident shown, and
 * ack / mute / resolve / reopen on an alert and on an incident, checked through the functions the
 * API answers with (getAlert, getIncident) and finally through the API itself; invalid and unknown
 * ids and bad `--until` values are exit 2 and record nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getAlert, type AlertDetail } from '../../services/incidents/alerts.ts';
import { getIncident, type IncidentDetail } from '../../services/incidents/incidentDetail.ts';
import { cliActor } from '../../services/cli/commands/incidents.ts';
import { parseUntil } from '../../services/cli/commands/triage.ts';
import { openStore, type Store } from '../../services/store/openStore.ts';
import { describeRun, runCli, runCliOk } from '../support/cli.ts';
import { craftTriageStore, openApi } from '../support/incidentStore.ts';

const HOUR = 3_600_000;

interface Page {
  counts?: Record<string, number>;
  items: Array<{ id: string; status: string; severity: string; addresses?: string[]; mutedUntil?: string | null }>;
  nextCursor: string | null;
}

/** Opens the data directory in this process for one look (never while a CLI child runs on it). */
async function inStore<T>(dataDir: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ kind: 'embedded', dataDir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

test('parseUntil: ISO times and durations from now, only in the future', () => {
  const now = Date.UTC(2026, 11, 2, 9, 0, 0);
  assert.equal(parseUntil('2h', now), now + 2 * HOUR);
  assert.equal(parseUntil('90m', now), now + 90 * 60_000);
  assert.equal(parseUntil('7d', now), now + 7 * 24 * HOUR);
  assert.equal(parseUntil('2w', now), now + 14 * 24 * HOUR);
  assert.equal(parseUntil('2026-12-03T00:00:00Z', now), Date.UTC(2026, 11, 3));
  for (const bad of ['', '0h', '2x', 'h', '-2h', 'tomorrow', '2026-12-01T00:00:00Z', '2026-13-01T00:00:00Z']) {
    assert.throws(() => parseUntil(bad, now), /--until must be/, JSON.stringify(bad));
  }
});

test('triage CLI: alerts and incidents list, show, ack, mute, resolve, reopen', async (t) => {
  const st = await craftTriageStore(t);
  const d = ['--data', st.dataDir];
  const inc = st.incidents;
  const A = st.alerts;
  const actor = cliActor();
  assert.match(actor, /^cli:./);
  const json = async <T>(args: string[]): Promise<T> => JSON.parse((await runCliOk([...args, '--json', ...d])).stdout) as T;
  const ids = (p: Page): string[] => p.items.map((i) => i.id);
  const usage = async (args: string[], message: RegExp): Promise<void> => {
    const r = await runCli([...args, ...d]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${describeRun(r)}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '', `${args.join(' ')} prints no result`);
  };
  const alertNow = (id: string): Promise<AlertDetail> =>
    inStore(st.dataDir, async (s) => {
      const a = await getAlert(s, id, { now: Date.now(), withClient: true });
      assert.ok(a, id);
      return a;
    });
  const incidentNow = (id: string): Promise<IncidentDetail> =>
    inStore(st.dataDir, async (s) => {
      const i = await getIncident(s, id, { now: Date.now(), withClient: true });
      assert.ok(i, id);
      return i;
    });
  const actionCount = (): Promise<number> =>
    inStore(st.dataDir, async (s) => {
      const rs = await s.client.query({ query: 'SELECT toUInt32(count()) AS n FROM alert_actions', format: 'JSONEachRow' });
      return (await rs.json<{ n: number }>())[0]!.n;
    });

  await t.test('incidents list: severity, then recency; counts of open incidents; filters and cursor', async () => {
    const all = await json<Page>(['incidents', 'list']);
    assert.deepEqual(ids(all), [inc.critical, inc.high, inc.medium, inc.low, inc.olderLow], 'severity first (the newest is low), then activity');
    assert.deepEqual(all.counts, { low: 2, medium: 0, high: 1, critical: 1 });
    assert.deepEqual(all.items[0]!.addresses, [...st.scripted], 'the CLI shows the accused addresses');
    assert.equal(all.nextCursor, null);

    const text = (await runCliOk(['incidents', 'list', ...d])).stdout;
    assert.match(text, /^open incidents: critical 1, high 1, medium 0, low 2$/m);
    assert.match(text, /^id +severity +status +alerts +kinds +addresses/m);
    assert.match(text, new RegExp(`^${inc.critical} +critical +open +2 \\(2 open\\) +bulk-harvest campaign +198\\.51\\.100\\.21 198\\.51\\.100\\.22 +art/harvested `, 'm'));
    assert.match(text, new RegExp(`^${inc.medium} +medium +resolved +1 \\(1 resolved\\) +low-and-slow `, 'm'));
    const at = [inc.critical, inc.high, inc.medium, inc.low, inc.olderLow].map((id) => text.indexOf(id));
    assert.ok(at.every((p, i) => p > 0 && (i === 0 || p > at[i - 1]!)), `rows in ranking order: ${at.join(',')}`);

    const lows = await json<Page>(['incidents', 'list', '--severity', 'low', '--limit', '1']);
    assert.deepEqual(ids(lows), [inc.low], 'within a severity the newest activity first');
    assert.ok(lows.nextCursor);
    assert.deepEqual(ids(await json<Page>(['incidents', 'list', '--severity', 'low', '--limit', '1', '--cursor', lows.nextCursor])), [inc.olderLow], 'the cursor continues within the filter');
    assert.deepEqual(ids(await json<Page>(['incidents', 'list', '--status', 'resolved'])), [inc.medium]);
    assert.deepEqual(ids(await json<Page>(['incidents', 'list', '--kind', 'campaign'])), [inc.critical], 'an alert of that kind among its alerts');
    await usage(['incidents', 'list', '--status', 'muted'], /invalid|allowed choices/i);
    await usage(['incidents', 'list', '--limit', '1001'], /--limit must be an integer from 1 to 1000/);
  });

  await t.test('alerts list: newest detection first; kind, severity, status, client filters', async () => {
    const all = await json<Page>(['alerts', 'list']);
    assert.deepEqual(ids(all), [A.low.id, A.campaign.id, A.critical.id, A.high.id, A.olderLow.id, A.medium.id]);
    assert.deepEqual(all.items.map((a) => a.status), ['open', 'open', 'open', 'open', 'open', 'resolved']);
    assert.deepEqual(ids(await json<Page>(['alerts', 'list', '--kind', 'bulk-harvest', '--status', 'open'])), [A.critical.id, A.high.id]);
    const low = await json<Page>(['alerts', 'list', '--severity', 'low', '--limit', '1']);
    assert.deepEqual(ids(low), [A.low.id]);
    assert.ok(low.nextCursor);
    assert.deepEqual(ids(await json<Page>(['alerts', 'list', '--client', '203.0.113.77'])), [A.olderLow.id]);
    const text = (await runCliOk(['alerts', 'list', '--status', 'resolved', ...d])).stdout;
    assert.match(text, /^id +kind +severity +score +status +client +detected +incident +reasons$/m);
    assert.match(text, new RegExp(`^${A.medium.id} +low-and-slow +medium +70 +resolved +198\\.51\\.100\\.30 +${A.medium.detectedAt} +${inc.medium} `, 'm'));
    assert.equal(text.includes(A.critical.id), false, 'the status filter holds in text too');
    await usage(['alerts', 'list', '--client', '198.51.100'], /--client must be an IPv4 or IPv6 address/);
    await usage(['alerts', 'list', '--severity', 'urgent'], /invalid|allowed choices/i);
  });

  await t.test('show: one alert with reasons, evidence lineage, status and incident; one incident with its alerts', async () => {
    const text = (await runCliOk(['alerts', 'show', A.campaign.id, ...d])).stdout;
    assert.match(text, new RegExp(`^alert ${A.campaign.id}: campaign, high, score 82$`, 'm'));
    assert.match(text, /^ {2}status +open \(detector: open, version 1\)$/m);
    assert.match(text, new RegExp(`^ {2}incident +${inc.critical}$`, 'm'));
    assert.match(text, /^ {2}client +198\.51\.100\.21 \(with 198\.51\.100\.22\); subnet 198\.51\.100\.0\/24; user agent python-requests\/2\.31\.0$/m);
    assert.match(text, /^ {2}evidence +access\.log lines 10–1214$/m);
    assert.match(text, /^ {4}- 2 clients in 198\.51\.100\.0\/24 \(198\.51\.100\.21, 198\.51\.100\.22\) covered art\/harvested together$/m);
    assert.match(text, /^ {2}actions\n {4}\(none\)$/m);
    const one = await json<AlertDetail>(['alerts', 'show', A.critical.id]);
    assert.equal(one.alert.incidentId, inc.critical);
    assert.deepEqual(one.body?.evidence, A.critical.evidence);
    assert.deepEqual(one.reasons, A.critical.reasons.map((r) => r.text));

    const itext = (await runCliOk(['incidents', 'show', inc.critical, ...d])).stdout;
    assert.match(itext, new RegExp(`^incident ${inc.critical}: critical, open; 2 alert\\(s\\): 2 open$`, 'm'));
    assert.match(itext, /^ {2}addresses +198\.51\.100\.21 198\.51\.100\.22$/m);
    assert.match(itext, new RegExp(`^${A.critical.id} +bulk-harvest +critical +open +198\\.51\\.100\\.21 +${A.critical.detectedAt} +access\\.log:10-1214`, 'm'));
    assert.match(itext, new RegExp(`^${A.campaign.id} +campaign +high +open `, 'm'));
    assert.match(itext, new RegExp(`^${A.campaign.id} reasons\\n {2}- 2 clients in 198\\.51\\.100\\.0/24`, 'm'));
    const via = await json<IncidentDetail>(['incidents', 'show', A.campaign.id]);
    assert.equal(via.incident.id, inc.critical, 'an alert id names its incident');
    assert.deepEqual(via.alerts.map((a) => a.alert.id), [A.critical.id, A.campaign.id]);

    await usage(['alerts', 'show', 'tw-ffffffffffffffffffff'], /^tilewatch: no alert tw-ffffffffffffffffffff$/m);
    await usage(['incidents', 'show', 'ti-ffffffffffffffffffff'], /^tilewatch: no incident ti-ffffffffffffffffffff$/m);
    await usage(['alerts', 'show', "tw-' OR 1=1"], /alert id must be 1–128 characters/);
    await usage(['incidents', 'show', 'ti-x y'], /incident id must be 1–128 characters/);
  });

  await t.test('actions on an alert: ack, mute with a duration, resolve, reopen; refused ones record nothing', async () => {
    const ack = await json<AlertDetail>(['alerts', 'ack', A.high.id, '--note', 'looking into it']);
    assert.equal(ack.alert.status, 'acknowledged', 'the answer is the alert after the action');
    let a = await alertNow(A.high.id);
    assert.equal(a.alert.status, 'acknowledged');
    assert.deepEqual(a.actions.map((x) => [x.action, x.actor, x.note]), [['acknowledge', actor, 'looking into it']]);

    const before = Date.now();
    const muted = (await runCliOk(['alerts', 'mute', A.olderLow.id, '--until', '2h', ...d])).stdout;
    const after = Date.now();
    assert.match(muted, new RegExp(`^muted alert ${A.olderLow.id} until \\S+ as ${actor}$`, 'm'));
    a = await alertNow(A.olderLow.id);
    assert.equal(a.alert.status, 'muted');
    const until = Date.parse(a.alert.mutedUntil ?? '');
    assert.ok(until >= before + 2 * HOUR && until <= after + 2 * HOUR, `muted until ${a.alert.mutedUntil}, two hours after the command`);
    assert.match(muted, new RegExp(`^ {2}status +muted until ${a.alert.mutedUntil} \\(detector: open`, 'm'));

    await runCliOk(['alerts', 'resolve', A.low.id, '--note', 'benign', ...d]);
    assert.equal((await alertNow(A.low.id)).alert.status, 'resolved');
    assert.equal((await incidentNow(inc.low)).incident.status, 'resolved', 'its only alert resolved: the incident is resolved');
    await runCliOk(['alerts', 'reopen', A.low.id, ...d]);
    a = await alertNow(A.low.id);
    assert.equal(a.alert.status, 'open');
    assert.deepEqual(a.actions.map((x) => x.action), ['resolve', 'reopen']);
    assert.equal((await incidentNow(inc.low)).incident.status, 'open');

    const n = await actionCount();
    assert.equal(n, 4);
    await usage(['alerts', 'mute', A.high.id, '--until', '2020-01-01T00:00:00Z'], /--until must be in the future/);
    await usage(['alerts', 'mute', A.high.id, '--until', 'soon'], /--until must be an ISO-8601 time or a duration/);
    await usage(['alerts', 'mute', A.high.id, '--until', '0h'], /--until must be in the future/);
    await usage(['alerts', 'mute', A.high.id], /required option '--until <time>'/);
    await usage(['alerts', 'ack', A.high.id, '--until', '2h'], /unknown option '--until'/);
    await usage(['alerts', 'ack', A.high.id, '--note', 'x'.repeat(2001)], /--note may hold at most 2000 characters/);
    await usage(['alerts', 'ack', 'tw-ffffffffffffffffffff'], /^tilewatch: no alert tw-ffffffffffffffffffff$/m);
    await usage(['alerts', 'resolve', 'tw x'], /alert id must be 1–128 characters/);
    assert.equal(await actionCount(), n, 'refused commands record no action');
    assert.equal((await alertNow(A.high.id)).alert.status, 'acknowledged');
  });

  await t.test('actions on an incident apply to every alert of it, as the API does', async () => {
    const acked = await json<IncidentDetail>(['incidents', 'ack', A.campaign.id, '--note', 'on it']);
    assert.equal(acked.incident.id, inc.critical, 'an alert id names its incident');
    assert.deepEqual(acked.incident.alertsByStatus, { open: 0, acknowledged: 2, muted: 0, resolved: 0 });
    let i = await incidentNow(inc.critical);
    for (const a of i.alerts) {
      assert.equal(a.alert.status, 'acknowledged', a.alert.id);
      assert.deepEqual(a.actions.map((x) => [x.action, x.actor, x.note]), [['acknowledge', actor, 'on it']]);
    }

    const resolved = (await runCliOk(['incidents', 'resolve', inc.critical, '--note', 'blocked', ...d])).stdout;
    assert.match(resolved, new RegExp(`^resolved incident ${inc.critical} \\(2 alert\\(s\\)\\) as ${actor}$`, 'm'));
    assert.match(resolved, new RegExp(`^incident ${inc.critical}: critical, resolved; 2 alert\\(s\\): 2 resolved$`, 'm'));
    const open = await json<Page>(['incidents', 'list', '--status', 'open']);
    assert.deepEqual(ids(open), [inc.high, inc.low, inc.olderLow]);
    assert.deepEqual(open.counts, { low: 2, medium: 0, high: 1, critical: 0 });
    await runCliOk(['incidents', 'reopen', inc.critical, ...d]);
    i = await incidentNow(inc.critical);
    assert.equal(i.incident.status, 'open');
    assert.deepEqual(i.incident.alertsByStatus, { open: 2, acknowledged: 0, muted: 0, resolved: 0 });

    const until = new Date(Date.now() + 3 * 24 * HOUR).toISOString();
    const muted = await json<IncidentDetail>(['incidents', 'mute', inc.critical, '--until', until, '--note', 'waiting for legal']);
    assert.equal(muted.incident.alertsByStatus.muted, 2);
    i = await incidentNow(inc.critical);
    assert.deepEqual(i.alerts.map((a) => [a.alert.id, a.alert.status, a.alert.mutedUntil]), [
      [A.critical.id, 'muted', until],
      [A.campaign.id, 'muted', until],
    ]);
    for (const a of i.alerts) assert.deepEqual(a.actions.at(-1), { action: 'mute', at: a.actions.at(-1)!.at, actor, note: 'waiting for legal', muteUntil: until });
    assert.equal((await alertNow(A.high.id)).alert.status, 'acknowledged', 'other incidents untouched');

    const n = await actionCount();
    await usage(['incidents', 'mute', 'ti-ffffffffffffffffffff', '--until', '2h'], /^tilewatch: no incident ti-ffffffffffffffffffff$/m);
    await usage(['incidents', 'ack', 'tw-ffffffffffffffffffff'], /^tilewatch: no incident tw-ffffffffffffffffffff$/m);
    await usage(['incidents', 'mute', inc.high, '--until', 'yesterday'], /--until must be an ISO-8601 time or a duration/);
    await usage(['incidents', 'mute', inc.high, '--until', new Date(Date.now() - 60_000).toISOString()], /--until must be in the future/);
    await usage(['incidents', 'resolve', "ti-' OR 1=1"], /incident id must be 1–128 characters/);
    assert.equal(await actionCount(), n, 'refused commands record no action');
  });

  await t.test('through the API: the CLI mute shows on each alert of the incident; the audit log names cli:<user>', async () => {
    const h = await openApi(t, st);
    h.clock.advance(Date.now() - h.clock.now());
    const res = await h.app.inject({ url: `/api/v1/incidents/${inc.critical}`, headers: h.auth('analyst') });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as IncidentDetail;
    assert.deepEqual(body.incident.alertsByStatus, { open: 0, acknowledged: 0, muted: 2, resolved: 0 });
    const until = body.alerts[0]!.alert.mutedUntil;
    assert.ok(until && Date.parse(until) > Date.now() + 2 * 24 * HOUR, `muted for about three days: ${until}`);
    assert.deepEqual(body.alerts.map((a) => [a.alert.status, a.alert.mutedUntil]), [['muted', until], ['muted', until]]);

    const audit = await h.app.inject({ url: `/api/v1/audit?actor=${encodeURIComponent(actor)}&limit=100`, headers: h.auth('admin') });
    assert.equal(audit.statusCode, 200, audit.body);
    const rows = (audit.json() as { items: Array<{ action: string; target: string; status: number; role: string }> }).items;
    const seen = rows.map((r) => `${r.action} ${r.target} ${r.status}`).reverse();
    assert.deepEqual(seen, [
      'alerts.by-client 203.0.113.77 200',
      `alert.ack ${A.high.id} 200`,
      `alert.mute ${A.olderLow.id} 200`,
      `alert.resolve ${A.low.id} 200`,
      `alert.reopen ${A.low.id} 200`,
      'alert.ack tw-ffffffffffffffffffff 404',
      `incident.ack ${A.campaign.id} 200`,
      `incident.resolve ${inc.critical} 200`,
      `incident.reopen ${inc.critical} 200`,
      `incident.mute ${inc.critical} 200`,
      'incident.mute ti-ffffffffffffffffffff 404',
      'incident.ack tw-ffffffffffffffffffff 404',
    ]);
    assert.ok(rows.every((r) => r.role === 'cli'));
  });
});

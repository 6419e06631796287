/**
 * Network context end to end, on data made here (an ip-location-db style CSV): the store's copy of
 * the ASN data (asn_prefixes + the asn_lookup dictionary, services/network/asnStore.ts) answers like
 * the in-process table for every address tried, is rewritten only when the data changes; a replay
 * with `network.asnDatabase` set gives the scraper's alert its network (field and reason), which the
 * API's alert list and client timeline show, and the overview dashboard's "Tiles by network (ASN)"
 * panel (expanded as Grafana would, run on chDB) groups the traffic by AS.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadNetworkContext } from '../../services/network/asnSources.ts';
import { syncAsnData } from '../../services/network/asnStore.ts';
import { migrate } from '../../services/store/migrate.ts';
import { openStore } from '../../services/store/openStore.ts';
import { readRows } from '../../services/store/sql.ts';
import { REPO_ROOT, describeRun, runCli, tempDir } from '../support/cli.ts';
import { expandGrafanaSql } from '../support/grafanaSql.ts';
import { openApi } from '../support/incidentStore.ts';
import { rng, scraperScenario } from '../support/logs.ts';

/** A small world: ranges that are not CIDR-aligned, both families, one hosting network by name. */
function writeAsnData(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'asn-ipv4.csv'),
    [
      '3.0.0.0,3.0.255.255,16509,"Amazon.com, Inc."',
      '3.1.0.3,3.1.7.200,14618,"Amazon.com, Inc."',
      '73.0.0.0,73.255.255.255,7922,"Comcast Cable Communications, LLC"',
      '192.0.2.0,192.0.2.255,64501,Example Broadband',
      '203.0.113.0,203.0.113.255,64500,Example Hosting Ltd',
    ].join('\n') + '\n',
  );
  writeFileSync(
    join(dir, 'asn-ipv6.csv'),
    ['2600:1f00::,2600:1fff:ffff:ffff:ffff:ffff:ffff:ffff,16509,"Amazon.com, Inc."', '2a01:4f8::7,2a01:4f8:0:5::ffff,24940,Hetzner Online GmbH'].join('\n') + '\n',
  );
}

test('the store answers like the in-process table; rewritten only when the data changes', async (t) => {
  const dir = tempDir(t, 'asn-store');
  const asnDir = join(dir, 'asn');
  writeAsnData(asnDir);
  const settings = { asnDatabase: asnDir, hostingAsns: [] };
  const store = await openStore({ kind: 'embedded', dataDir: join(dir, 'data') });
  t.after(() => store.close());
  await migrate(store.client);
  // Before any data the dictionary exists and answers 0.
  const [empty] = await readRows<{ asn: number }>(store.client, `SELECT dictGetOrDefault('asn_lookup', 'asn', toIPv6('3.0.0.1'), toUInt32(0)) AS asn`, {});
  assert.equal(empty?.asn, 0);

  const ctx = await loadNetworkContext(settings);
  const first = await syncAsnData(store, settings, ctx);
  assert.equal(first.loaded, true);
  assert.ok(first.prefixes > 7, `ranges become several prefixes each: ${first.prefixes}`);
  assert.equal((await syncAsnData(store, settings)).loaded, false, 'same data: nothing rewritten');

  const rand = rng(7);
  const addresses: string[] = ['3.1.0.2', '3.1.0.3', '3.1.7.200', '3.1.7.201', '2a01:4f8::6', '2a01:4f8::7', '2a01:4f8:0:5::ffff', '2a01:4f8:0:5::1:0', '10.0.0.1'];
  for (let i = 0; i < 400; i++) {
    const a = [3, 73, 192, 203][Math.floor(rand() * 4)]!;
    addresses.push(`${a}.${a === 3 ? Math.floor(rand() * 3) : a === 192 ? 0 : a === 203 ? 0 : Math.floor(rand() * 256)}.${a === 192 ? 2 : a === 203 ? 113 : Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`);
    addresses.push(`2a01:4f8:0:${Math.floor(rand() * 7).toString(16)}::${Math.floor(rand() * 65536).toString(16)}`);
    addresses.push(`2600:${(0x1f00 + Math.floor(rand() * 0x120)).toString(16)}::${Math.floor(rand() * 65536).toString(16)}`);
  }
  const sql = await readRows<{ ip: string; asn: number; org: string; hosting_asn: number }>(
    store.client,
    `SELECT ip, dictGetOrDefault('asn_lookup', 'asn', toIPv6(ip), toUInt32(0)) AS asn, dictGetOrDefault('asn_lookup', 'org', toIPv6(ip), '') AS org,
            dictGetOrDefault('asn_lookup', 'hosting_asn', toIPv6(ip), toUInt32(0)) AS hosting_asn
     FROM (SELECT arrayJoin({ips:Array(String)}) AS ip)`,
    { ips: addresses },
  );
  assert.equal(sql.length, addresses.length);
  for (const r of sql) {
    const js = ctx.lookup(r.ip);
    assert.deepEqual([r.asn, r.org, r.hosting_asn], [js.asn, js.org, ctx.hostingAsn(r.ip)], r.ip);
  }
  assert.ok(sql.some((r) => r.hosting_asn === 64500) && sql.some((r) => r.asn === 7922 && r.hosting_asn === 0));

  // Data gone: the store's copy follows.
  const none = await syncAsnData(store, { asnDatabase: 'none', hostingAsns: [] });
  assert.equal(none.loaded, true);
  const [after] = await readRows<{ asn: number }>(store.client, `SELECT dictGetOrDefault('asn_lookup', 'asn', toIPv6('3.0.0.1'), toUInt32(0)) AS asn`, {});
  assert.equal(after?.asn, 0);
});

test('replay with network.asnDatabase: the alert, the API and the dashboard show the scraper\'s network', async (t) => {
  const dir = tempDir(t, 'asn-replay');
  const asnDir = join(dir, 'asn');
  writeAsnData(asnDir);
  const config = join(dir, 'tilewatch.json');
  writeFileSync(config, JSON.stringify({ network: { asnDatabase: asnDir } }));
  const log = join(dir, 'access.log');
  const sc = scraperScenario(3);
  writeFileSync(log, sc.lines.map((l) => `${l}\n`).join(''));
  const data = join(dir, 'data');
  const out = join(dir, 'alerts.jsonl');
  const run = await runCli(['replay', log, '--config', config, '--data', data, '--alerts-out', out, '--no-hunts', '--quiet']);
  assert.equal(run.code, 0, describeRun(run));

  const alerts = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { client: { ip: string; network?: unknown }; reasons: Array<{ signal: string; text: string }> });
  assert.ok(alerts.length >= 1, run.stdout);
  for (const a of alerts) {
    assert.equal(a.client.ip, sc.scraperIp);
    assert.deepEqual(a.client.network, { asn: 64500, org: 'Example Hosting Ltd', kind: 'hosting', provider: 'Example Hosting Ltd' });
    assert.deepEqual(
      a.reasons.filter((r) => r.signal === 'network').map((r) => r.text),
      ['network: AS64500 Example Hosting Ltd — hosting provider'],
    );
  }

  const api = await openApi(t, { dataDir: data });
  const list = await api.app.inject({ url: '/api/v1/alerts', headers: api.auth('viewer') });
  assert.equal(list.statusCode, 200, list.body);
  const items = (list.json() as { items: Array<{ network: unknown }> }).items;
  assert.ok(items.length >= 1);
  for (const i of items) assert.deepEqual(i.network, { asn: 64500, org: 'Example Hosting Ltd', kind: 'hosting', provider: 'Example Hosting Ltd' }, 'every role sees the network');
  const timeline = await api.app.inject({ url: `/api/v1/clients/${sc.viewerIps[0]!}/timeline`, headers: api.auth('analyst') });
  assert.equal(timeline.statusCode, 200, timeline.body);
  assert.deepEqual((timeline.json() as { network: unknown }).network, { asn: 64501, org: 'Example Broadband', kind: 'residential/other' });

  const overview = JSON.parse(readFileSync(join(REPO_ROOT, 'dashboards', 'grafana', 'overview.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ rawSql: string }> }> };
  const panel = overview.panels.find((p) => p.title === 'Tiles by network (ASN)');
  assert.ok(panel, 'the overview has the ASN panel');
  const q = expandGrafanaSql(panel.targets[0]!.rawSql, { range: { fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2027, 0, 1) }, intervalMs: 60_000, variables: {} });
  const rows = await readRows<{ asn: number; network: string; network_kind: string; clients: number; tiles: number }>(api.store.client, q, {});
  assert.deepEqual(
    rows.map((r) => [r.asn, r.network, r.network_kind, r.clients]),
    [
      [64500, 'Example Hosting Ltd', 'hosting', 1],
      [64501, 'Example Broadband', 'residential/other', sc.viewerIps.length],
    ],
  );
  assert.equal(rows[0]!.tiles, sc.scraperTiles);
});

/**
 * The Grafana dashboards (dashboards/grafana/*.json). Grafana cannot run here, so this test does what
 * Grafana and the ClickHouse plugin would: validate each dashboard against the fields Grafana needs
 * (dashboards/dashboard.schema.json, ajv), resolve its template variables by running their queries,
 * expand every panel's SQL (variables, then the plugin's macros; test/support/grafanaSql.ts) and run it
 * on the real migrated schema in chDB, filled by `tilewatch replay` of a simulated day. Each query must
 * succeed and return the columns its panel type needs. The open-incidents and exposure-report panels
 * also run on hand-made rows in a fresh store, where their ranking and policy are checked.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { AlertsTableSink } from '../../services/alerting/alertsTable.ts';
import type { Alert, AlertIncident, Severity } from '../../services/core/alert.ts';
import { migrate } from '../../services/store/migrate.ts';
import { jsonEachRow, openStore, type Store } from '../../services/store/openStore.ts';
import { makeAlert } from '../support/alerts.ts';
import { REPO_ROOT, runCliOk, tempDir } from '../support/cli.ts';
import { expandGrafanaSql, GrafanaSqlError, panelIntervalMs, type GrafanaQueryContext, type TimeRange } from '../support/grafanaSql.ts';

interface Target {
  refId: string;
  rawSql: string;
  format: number;
  queryType: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  interval?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Target[];
}
interface Variable {
  name: string;
  type: string;
  query?: string;
  multi?: boolean;
  includeAll?: boolean;
  current?: { value?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const DASHBOARD_DIR = join(REPO_ROOT, 'dashboards', 'grafana');
const files = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).sort();
const dashboards = files.map((f) => ({ file: f, json: JSON.parse(readFileSync(join(DASHBOARD_DIR, f), 'utf8')) as unknown }));
const typed = (): Array<{ file: string; d: Dashboard }> => dashboards.map(({ file, json }) => ({ file, d: json as Dashboard }));

test('every dashboard validates against the fields Grafana and the ClickHouse plugin need', () => {
  assert.ok(files.length >= 4, `expected overview, client, image and alerts dashboards, found ${files.join(', ')}`);
  const ajv = new Ajv({ allErrors: true });
  const validate = ajv.compile(JSON.parse(readFileSync(join(REPO_ROOT, 'dashboards', 'dashboard.schema.json'), 'utf8')) as object);
  for (const { file, json } of dashboards) assert.ok(validate(json), `${file}: ${ajv.errorsText(validate.errors, { separator: '\n' })}`);

  const provisioned = parseYaml(readFileSync(join(REPO_ROOT, 'dashboards', 'provisioning', 'datasources', 'clickhouse.yaml'), 'utf8')) as {
    datasources: Array<{ uid: string; type: string }>;
  };
  const ds = provisioned.datasources.find((d) => d.type === 'grafana-clickhouse-datasource');
  assert.ok(ds, 'the datasource provisioning file defines a grafana-clickhouse-datasource');
  const uids = new Set<string>();
  for (const { file, d } of typed()) {
    // Panels name the datasource ${DS_…} (importable, composeStack.test.ts); provisioned, the datasource
    // variable of that name resolves it to its current value.
    const dsVariables = new Map(d.templating.list.filter((v) => v.type === 'datasource').map((v) => [`\${${v.name}}`, v.current?.value]));
    assert.ok(!uids.has(d.uid), `${file}: duplicate dashboard uid ${d.uid}`);
    uids.add(d.uid);
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${file}: panel ids must be unique`);
    for (const p of d.panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${file} panel ${p.id}: gridPos runs past 24 columns`);
      for (const t of p.targets) {
        assert.equal(dsVariables.get(t.datasource.uid), ds.uid, `${file} panel ${p.id}: datasource ${t.datasource.uid} does not resolve to the provisioned one`);
        const wantsSeries = p.type === 'timeseries';
        assert.equal(t.format, wantsSeries ? 0 : 1, `${file} panel ${p.id}: format must be ${wantsSeries ? '0 (time series)' : '1 (table)'}`);
        assert.equal(t.queryType, wantsSeries ? 'timeseries' : 'table', `${file} panel ${p.id}: queryType`);
      }
    }
    // No two panels overlap on the grid.
    for (const a of d.panels)
      for (const b of d.panels)
        if (a.id < b.id) {
          const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
          assert.ok(!overlap, `${file}: panels ${a.id} and ${b.id} overlap`);
        }
  }
  for (const uid of ['tilewatch-overview', 'tilewatch-client', 'tilewatch-image', 'tilewatch-alerts']) assert.ok(uids.has(uid), `missing dashboard ${uid}`);
  const variables = new Set(typed().flatMap(({ d }) => d.templating.list.map((v) => v.name)));
  for (const v of ['client', 'image', 'host']) assert.ok(variables.has(v), `no dashboard has the ${v} variable`);
});

test('the expander refuses what Grafana or the plugin would not expand', () => {
  const ctx: GrafanaQueryContext = { range: { fromMs: 0, toMs: 3_600_000 }, intervalMs: 60_000, variables: { host: ['a', "b'c"] } };
  assert.throws(() => expandGrafanaSql('SELECT 1 WHERE $__timeGroup(ts, 1m)', ctx), GrafanaSqlError);
  assert.throws(() => expandGrafanaSql('SELECT $__nope', ctx), GrafanaSqlError);
  assert.throws(() => expandGrafanaSql("SELECT '$client'", ctx), /unknown dashboard variable/);
  assert.throws(() => expandGrafanaSql('SELECT $host', ctx), /2 values/);
  assert.throws(() => expandGrafanaSql('SELECT $__timeFilter(a, b)', ctx), /expected 1 argument/);
  assert.equal(
    expandGrafanaSql('SELECT $__timeInterval(ts) AS t WHERE $__timeFilter(ts) AND host IN (${host:sqlstring}) AND $__interval_s > 0', ctx),
    "SELECT toStartOfInterval(toDateTime(ts), INTERVAL 60 second) AS t WHERE ts >= toDateTime(0) AND ts <= toDateTime(3600) AND host IN ('a','b''c') AND 60 > 0",
  );
  assert.equal(expandGrafanaSql('$__fromTime_ms $__toTime $__dt(d, toDateTime(t))', ctx), "fromUnixTimestamp64Milli(0) toDateTime(3600) (d >= toDate('1970-01-01') AND d <= toDate('1970-01-01')) AND (toDateTime(t) >= toDateTime(0) AND toDateTime(t) <= toDateTime(3600))");
});

interface Column {
  name: string;
  type: string;
}

/** Strips Nullable(…) and LowCardinality(…). */
function baseType(type: string): string {
  let t = type;
  for (let m = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(t); m; m = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(t)) t = m[1]!;
  return t;
}
const isTime = (c: Column): boolean => /^(DateTime64|DateTime|Date32|Date)\b/.test(baseType(c.type));
const isNumber = (c: Column): boolean => /^(U?Int\d+|Float\d+|Decimal)/.test(baseType(c.type));
const isString = (c: Column): boolean => /^(String|FixedString|Enum|IPv4|IPv6)/.test(baseType(c.type));

/** What a panel type needs from its result, or why the columns do not fit. */
function columnProblem(panelType: string, cols: readonly Column[]): string | null {
  const shown = cols.map((c) => `${c.name} ${c.type}`).join(', ');
  switch (panelType) {
    case 'timeseries':
      if (!cols.some(isTime)) return `no time column (${shown})`;
      if (!cols.some(isNumber)) return `no numeric column (${shown})`;
      return cols.every((c) => isTime(c) || isNumber(c) || isString(c)) ? null : `a column is neither time, number nor label (${shown})`;
    case 'stat':
      return cols.length > 0 && cols.every(isNumber) ? null : `stat needs numeric columns only (${shown})`;
    case 'barchart':
      return cols.some(isString) && cols.some(isNumber) ? null : `barchart needs a label and a number (${shown})`;
    case 'table':
      return cols.length > 0 ? null : 'no columns';
    default:
      return `unknown panel type ${panelType}`;
  }
}

async function run(store: Store, sql: string): Promise<{ meta: Column[]; data: unknown[][] }> {
  const rs = await store.client.query({ query: sql, format: 'JSONCompact', clickhouse_settings: { readonly: '1' } });
  const res = await rs.json<unknown[]>();
  return { meta: res.meta ?? [], data: res.data };
}

test('every panel query runs on the migrated schema with simulated data and returns the columns its panel needs', async (t) => {
  const dir = tempDir(t, 'dash');
  const data = join(dir, 'data');
  await runCliOk(['simulate', '--seed', '5', '--hours', '2', '--scale', '0.3', '--out', join(dir, 'sim')], { timeoutMs: 60_000 });
  // Two lines that cannot parse, so the dead-letter panels have something to show.
  const log = join(dir, 'access.log');
  writeFileSync(log, readFileSync(join(dir, 'sim', 'access.log'), 'utf8') + 'not an access log line\n\u0001binary junk\n');
  await runCliOk(['replay', log, '--data', data, '--quiet'], { timeoutMs: 120_000 });

  const store = await openStore({ kind: 'embedded', dataDir: data });
  t.after(() => store.close());
  // Analysts at work (what the API writes): acknowledge three alerts 7 minutes after detection, mute one.
  await store.client.command({
    query: `INSERT INTO alert_actions SELECT id, detected_at + INTERVAL 7 MINUTE, 'acknowledge', 'it:analyst', 'looking', NULL
            FROM alerts FINAL ORDER BY id LIMIT 3`,
  });
  await store.client.command({
    query: `INSERT INTO alert_actions SELECT id, detected_at + INTERVAL 1 HOUR, 'mute', 'it:analyst', 'known partner', detected_at + INTERVAL 30 DAY
            FROM alerts FINAL ORDER BY id DESC LIMIT 1`,
  });

  // The dashboard's time range: from the first event (event time) to now (dead letters and the ingest
  // ledger carry wall-clock times).
  const span = (await run(store, 'SELECT toUnixTimestamp64Milli(min(ts)) AS a, toUnixTimestamp64Milli(now64(3)) AS b FROM tile_requests')).data[0]!;
  const range: TimeRange = { fromMs: Number(span[0]) - 3_600_000, toMs: Number(span[1]) + 60_000 };
  assert.ok(range.toMs > range.fromMs + 3_600_000, 'the replay stored rows');

  // The client dashboard is opened from an alert: its client is the busiest accused one (the busiest
  // client overall may be an innocent crowd or a CDN, with no alert to show).
  const accused = new Set((await run(store, "SELECT DISTINCT replaceRegexpOne(toString(client), '^::ffff:', '') FROM alerts")).data.map((r) => String(r[0])));
  assert.ok(accused.size > 0, 'the simulated day raised alerts');
  const results: Array<{ where: string; rows: number }> = [];
  for (const { file, d } of typed()) {
    // Resolve variables in order, as Grafana does: run each query, select its first value (All: every value).
    const variables: Record<string, string[]> = {};
    for (const v of d.templating.list) {
      if (v.type === 'datasource') continue; // the datasource picker, no query to run
      assert.equal(v.type, 'query', `${file}: variable ${v.name} is not a query variable; teach this test its type`);
      const ctx: GrafanaQueryContext = { range, intervalMs: panelIntervalMs(range, undefined), variables };
      const res = await run(store, expandGrafanaSql(v.query!, ctx));
      const values = res.data.map((r) => String(r[0]));
      assert.ok(values.length > 0, `${file}: variable ${v.name} has no values on the simulated data`);
      const first = v.name === 'client' ? (values.find((x) => accused.has(x)) ?? values[0]!) : values[0]!;
      variables[v.name] = v.includeAll ? values : [first];
    }
    for (const p of d.panels) {
      const where = `${file} panel ${p.id} "${p.title}"`;
      const ctx: GrafanaQueryContext = { range, intervalMs: panelIntervalMs(range, p.interval), variables };
      for (const target of p.targets) {
        const sql = expandGrafanaSql(target.rawSql, ctx);
        let res;
        try {
          res = await run(store, sql);
        } catch (err) {
          assert.fail(`${where}: ${(err as Error).message}\n${sql}`);
        }
        const problem = columnProblem(p.type, res.meta);
        assert.equal(problem, null, `${where}: ${problem}\n${sql}`);
        results.push({ where, rows: res.data.length });
      }
    }
  }
  const empty = results.filter((r) => r.rows === 0).map((r) => r.where);
  t.diagnostic(`${results.length} panel queries, ${results.length - empty.length} with rows; empty: ${empty.join('; ') || 'none'}`);
  // The simulated day has traffic, scrapers, alerts, dead letters and analyst actions: every panel has
  // something to show, except alerts naming the busiest image when no alert names it.
  const allowedEmpty = [/image\.json panel \d+ "Alerts naming this image"/];
  const unexpected = empty.filter((w) => !allowedEmpty.some((re) => re.test(w)));
  assert.deepEqual(unexpected, [], 'panels without rows on the simulated data');
});

/** The SQL of one panel, found by dashboard uid and panel title, expanded for a time range. */
function panelSql(uid: string, title: string, range: TimeRange): string {
  const d = typed().find((x) => x.d.uid === uid)?.d;
  const p = d?.panels.find((x) => x.title === title);
  assert.ok(p, `${uid} has a panel "${title}"`);
  return expandGrafanaSql(p.targets[0]!.rawSql, { range, intervalMs: panelIntervalMs(range, p.interval), variables: {} });
}

async function freshStore(t: TestContext, name: string): Promise<Store> {
  const store = await openStore({ kind: 'embedded', dataDir: join(tempDir(t, name), 'data') });
  t.after(() => store.close());
  await migrate(store.client);
  return store;
}

test('open incidents: most severe first, then most recently active; counted per severity; resolved incidents left out; alerts stored before incidents stand alone', async (t) => {
  const store = await freshStore(t, 'dash-incidents');
  const base = Date.parse('2026-01-05T10:00:00.000Z');
  const at = (min: number): string => new Date(base + min * 60_000).toISOString();
  const inc = (id: string, severity: Severity, status: 'open' | 'resolved' = 'open', alerts = 1): AlertIncident => ({ id, severity, status, alerts });
  const alert = (id: string, severity: Severity, lastSeenMin: number, over: Partial<Alert> & { ip?: string } = {}): Alert => {
    const { ip = '203.0.113.7', ...rest } = over;
    return makeAlert({ id, severity, detectedAt: at(lastSeenMin - 5), lastSeen: at(lastSeenMin), client: { ip, ips: [ip] }, ...rest });
  };
  const table = new AlertsTableSink(store);
  const versions: Alert[] = [
    // Critical, active until minute 50: a critical member, and a member whose newest version still
    // carries the incident as it was when it joined (medium).
    alert('tw-00000000000000000101', 'critical', 50, { incident: inc('ti-00000000000000000101', 'critical', 'open', 2) }),
    alert('tw-00000000000000000102', 'medium', 30, { incident: inc('ti-00000000000000000101', 'medium', 'open', 2), ip: '203.0.113.8' }),
    // Critical, active until minute 90: ranks above the first.
    alert('tw-00000000000000000201', 'critical', 90, { incident: inc('ti-00000000000000000201', 'critical') }),
    // High, the most recent of all: still below both critical incidents.
    alert('tw-00000000000000000301', 'high', 100, { incident: inc('ti-00000000000000000301', 'high') }),
    // Stored before incidents (no incident columns): its own incident under its own id, high.
    alert('tw-00000000000000000401', 'high', 20),
    // Medium, two versions: the newest counts.
    alert('tw-00000000000000000501', 'low', 40, { incident: inc('ti-00000000000000000501', 'low') }),
    alert('tw-00000000000000000501', 'medium', 45, { version: 2, incident: inc('ti-00000000000000000501', 'medium') }),
    // Low.
    alert('tw-00000000000000000601', 'low', 95, { incident: inc('ti-00000000000000000601', 'low') }),
    // Resolved by the detector: gone.
    alert('tw-00000000000000000701', 'critical', 99, { version: 2, status: 'resolved', resolvedAt: at(99), incident: inc('ti-00000000000000000701', 'critical', 'resolved') }),
    // Resolved by an analyst: gone.
    alert('tw-00000000000000000801', 'critical', 98, { incident: inc('ti-00000000000000000801', 'critical') }),
    // One member resolved, one open: open, with one open alert of two.
    alert('tw-00000000000000000901', 'high', 60, { version: 3, status: 'resolved', resolvedAt: at(60), incident: inc('ti-00000000000000000901', 'high', 'open', 2) }),
    alert('tw-00000000000000000902', 'low', 10, { incident: inc('ti-00000000000000000901', 'low', 'open', 2), ip: '203.0.113.9' }),
  ];
  for (const v of versions) table.push(v);
  await table.flush();
  await store.client.command({ query: `INSERT INTO alert_actions VALUES ('tw-00000000000000000801', now64(3), 'resolve', 'it:analyst', 'false positive', NULL)` });
  // The legacy row: what migration 007 reads from a body without an incident.
  const legacy = await run(store, `SELECT incident_id FROM alerts FINAL WHERE id = 'tw-00000000000000000401'`);
  assert.deepEqual(legacy.data, [['']]);

  const range: TimeRange = { fromMs: base - 3_600_000, toMs: base + 3 * 3_600_000 };
  const open = await run(store, panelSql('tilewatch-alerts', 'Open incidents', range));
  const col = (name: string): number => open.meta.findIndex((c) => c.name === name);
  assert.deepEqual(
    open.data.map((r) => [r[col('incident')], r[col('severity')], Number(r[col('open_alerts')]), Number(r[col('alerts')])]),
    [
      ['ti-00000000000000000201', 'critical', 1, 1],
      ['ti-00000000000000000101', 'critical', 2, 2],
      ['ti-00000000000000000301', 'high', 1, 1],
      ['ti-00000000000000000901', 'high', 1, 2],
      ['tw-00000000000000000401', 'high', 1, 1],
      ['ti-00000000000000000501', 'medium', 1, 1],
      ['ti-00000000000000000601', 'low', 1, 1],
    ],
  );
  assert.equal(open.data[1]![col('clients')], '203.0.113.7, 203.0.113.8');

  const counts = await run(store, panelSql('tilewatch-alerts', 'Open incidents by severity', range));
  assert.deepEqual(
    counts.meta.map((c, i) => [c.name, Number(counts.data[0]![i])]),
    [
      ['critical', 2],
      ['high', 3],
      ['medium', 1],
      ['low', 1],
    ],
  );
});

test('image exposure report: images over policy, alerted or not, farthest beyond their open-data edge first', async (t) => {
  const store = await freshStore(t, 'dash-exposure');
  const base = Date.parse('2026-01-05T10:00:00.000Z');
  let line = 0;
  const rows: object[] = [];
  /** Tiles of `tile` full-resolution pixels over (0,0)–(w,h) at `scale`, by `ips` in turn, up to `share` of the rows. */
  const sweep = (image: string, w: number, h: number, scale: number, tile: number, ips: readonly string[], share = 1): void => {
    const tiles: Array<[number, number]> = [];
    for (let y = 0; y < h; y += tile) for (let x = 0; x < w; x += tile) tiles.push([x, y]);
    tiles.slice(0, Math.ceil(tiles.length * share)).forEach(([x, y], i) => {
      const ip = ips[i % ips.length]!;
      rows.push({
        ts: new Date(base + line * 1000).toISOString().replace('T', ' ').replace('Z', ''), client: `::ffff:${ip}`, client_key: ip, method: 'GET', status: 200, bytes: 1000,
        host: 'img.test', path: '/x', referer: '', user_agent: 'test', protocol: 'iiif2', kind: 'tile', image_id: image, level: -1, tile_x: -1, tile_y: -1,
        rect_x: x, rect_y: y, rect_w: Math.min(tile, w - x), rect_h: Math.min(tile, h - y), scale, source: 'gen', partition: -1, line: ++line,
      });
    });
  };
  // Over policy: whole image at full resolution (8,000 px: 3.9 × its 2,048 px open-data edge), by two clients.
  sweep('img-full', 8000, 6000, 1, 1000, ['198.51.100.1', '198.51.100.2']);
  // Over policy, not in the catalogue (extent learned, open data 2,048 px): whole image at scale 0.5 (6,000 px, 2.9 ×).
  sweep('img-half', 12000, 8000, 0.5, 2000, ['198.51.100.3']);
  // Under policy: whole image, but at a quarter scale (2,000 px < 2 × 2,048), and half of it at full resolution.
  sweep('img-small', 8000, 6000, 0.25, 4000, ['198.51.100.4']);
  sweep('img-small', 8000, 6000, 1, 1000, ['198.51.100.4'], 0.5);
  // Under policy: full resolution, but its open-data edge is the whole image.
  sweep('img-open', 4000, 3000, 1, 1000, ['198.51.100.5']);
  await store.insertRaw({ table: 'tile_requests', format: 'JSONEachRow', body: jsonEachRow(rows) });
  for (const [id, w, h, od] of [['img-full', 8000, 6000, 0], ['img-small', 8000, 6000, 0], ['img-open', 4000, 3000, 4000]] as const)
    await store.client.command({
      query: `INSERT INTO images SELECT 'iiif2', {id:String}, {w:UInt32}, {h:UInt32}, 256, 0, -1, {od:UInt32}, 'catalog', now64(3)`,
      query_params: { id, w, h, od },
    });
  const table = new AlertsTableSink(store);
  table.push(makeAlert({ id: 'tw-00000000000000000e01', kind: 'image-exposure', images: [{ id: 'img-full', protocol: 'iiif2', coverage: 1, scale: 1, longEdge: 8000, requests: 48 }] }));
  await table.flush();

  const report = await run(store, panelSql('tilewatch-overview', 'Image exposure report: images over policy', { fromMs: base - 3_600_000, toMs: base + 3_600_000 }));
  const col = (name: string): number => report.meta.findIndex((c) => c.name === name);
  assert.deepEqual(
    report.data.map((r) => [r[col('image_id')], Number(r[col('long_edge')]), Number(r[col('open_data_long_edge')]), Number(r[col('union_coverage')]), Number(r[col('clients')]), Number(r[col('exposure_alerts')])]),
    [
      ['img-full', 8000, 2048, 1, 2, 1],
      ['img-half', 6000, 2048, 1, 1, 0],
    ],
  );
  // Outside the time range nothing is over policy.
  assert.deepEqual((await run(store, panelSql('tilewatch-overview', 'Image exposure report: images over policy', { fromMs: base + 7_200_000, toMs: base + 9_000_000 }))).data, []);
});

/**
 * Injection strings in every parameter of every documented route (path, query string, body — walked
 * from the OpenAPI document), with an oracle: each payload must either be refused as `invalid_input`
 * or be answered exactly as a benign value that matches nothing is answered (same status, same body
 * once the echoed value is set aside, no stored client in it). A payload that widened a query
 * (`' OR 1=1 --` returning rows) would answer differently and fail. Writes must store the payload
 * verbatim. Every table is counted before and after: only the rows the calls were meant to write
 * may appear (audit rows: exactly one per audited call).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tar from 'tar-stream';
import type { LightMyRequestResponse } from 'fastify';
import { openApi, replayScenario } from '../support/incidentStore.ts';

export const INJECTIONS = [
  "' OR 1=1 --",
  "\\'",
  '{x:String}',
  "'); DROP TABLE alerts; --",
  '" OR ""="',
  '𝕏ǅ\u202eevil\u0301',
  'a\u0000b',
  '../../etc/passwd',
  '%27%20OR%201%3D1',
  "::ffff:1.2.3.4' --",
  '10.0.0.0/8 OR 1=1',
  '-1',
  '1e309',
  'A'.repeat(5000),
  // LIKE wildcards: harmless as parameters, a widened match if a value ever reached a pattern as text.
  '%%',
  '_%',
];

interface Op {
  parameters?: Array<{ name: string; in: 'path' | 'query'; required?: boolean; schema?: { type?: string } }>;
  requestBody?: { content: { 'application/json': { schema: { properties?: Record<string, { type?: string }>; required?: string[] } } } };
}

/** Routes that write an audit row on every call (written by hand, not read from the routes). */
const AUDITED = new Set([
  'GET /api/v1/clients/{ip}/timeline',
  'GET /api/v1/clients/{ip}/coverage.svg',
  'GET /api/v1/images/exposure',
  'GET /api/v1/search',
  'POST /api/v1/reports',
  'POST /api/v1/evidence',
  'POST /api/v1/alerts/{id}/ack',
  'POST /api/v1/alerts/{id}/mute',
  'POST /api/v1/alerts/{id}/resolve',
  'POST /api/v1/alerts/{id}/reopen',
  'POST /api/v1/incidents/{id}/ack',
  'POST /api/v1/incidents/{id}/mute',
  'POST /api/v1/incidents/{id}/resolve',
  'POST /api/v1/incidents/{id}/reopen',
  'GET /api/v1/exposure/digest',
  'POST /api/v1/tokens',
  'DELETE /api/v1/tokens/{id}',
  'POST /api/v1/suppressions',
  'DELETE /api/v1/suppressions/{id}',
]);
/** The alert list is an IP lookup (audited) only when filtered by client. */
const auditedCall = (route: string, query: Record<string, string>): boolean => AUDITED.has(route) || (route === 'GET /api/v1/alerts' && query.client !== undefined);

/** An incident action writes one row per alert of the incident; the response lists them. */
const incidentAction = {
  table: 'alert_actions',
  echo: (b: Record<string, unknown>) => (b.alerts as Array<{ actions: Array<{ note: string }> }>)[0]?.actions.at(-1)?.note,
  rows: (b: Record<string, unknown>) => (b.alerts as unknown[]).length,
};

/**
 * Write routes, with the table a successful call adds rows to (one, or `rows` of the response) and
 * where the response echoes the written field.
 */
const WRITES: Record<string, { table: string; echo: (body: Record<string, unknown>, field: string) => unknown; rows?: (body: Record<string, unknown>) => number }> = {
  'POST /api/v1/tokens': { table: 'api_tokens', echo: (b, f) => b[f] },
  'POST /api/v1/suppressions': { table: 'suppression_rules', echo: (b, f) => b[f] },
  'POST /api/v1/alerts/{id}/ack': { table: 'alert_actions', echo: (b) => (b.actions as Array<{ note: string }>).at(-1)?.note },
  'POST /api/v1/alerts/{id}/mute': { table: 'alert_actions', echo: (b) => (b.actions as Array<{ note: string }>).at(-1)?.note },
  'POST /api/v1/alerts/{id}/resolve': { table: 'alert_actions', echo: (b) => (b.actions as Array<{ note: string }>).at(-1)?.note },
  'POST /api/v1/alerts/{id}/reopen': { table: 'alert_actions', echo: (b) => (b.actions as Array<{ note: string }>).at(-1)?.note },
  'POST /api/v1/incidents/{id}/ack': incidentAction,
  'POST /api/v1/incidents/{id}/mute': incidentAction,
  'POST /api/v1/incidents/{id}/resolve': incidentAction,
  'POST /api/v1/incidents/{id}/reopen': incidentAction,
  'DELETE /api/v1/tokens/{id}': { table: 'api_tokens', echo: () => undefined },
  'DELETE /api/v1/suppressions/{id}': { table: 'suppression_rules', echo: () => undefined },
};

/** The structure of a value: keys and types, arrays collapsed to the set of their element shapes. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return [...new Set(v.map((x) => JSON.stringify(shape(x))))].sort();
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape((v as Record<string, unknown>)[k])]));
  return v === null ? 'null' : typeof v;
}

async function untar(buf: Buffer): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        files.set(h.name, Buffer.concat(parts).toString('utf8'));
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return files;
}

const ECHO = '<echo>';

/** The text a value is echoed as: itself, or the image id of an `images` list or a `report`. */
function echoText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return String(v[0]);
  return String((v as { images: unknown[] }).images[0]);
}

/** A response as comparable data: the value sent replaced wherever it is echoed; archives by content, without hashes and sizes (they follow the echo). */
async function comparable(res: LightMyRequestResponse, sent: unknown): Promise<unknown> {
  const raw = echoText(sent);
  // The JSON-escaped form first: the raw text may be a part of it.
  const texts = [JSON.stringify(raw).slice(1, -1), raw];
  const unecho = (s: string): string => texts.filter((x) => x.length > 0).reduce((acc, x) => acc.split(x).join(ECHO), s);
  if (String(res.headers['content-type']).startsWith('application/x-tar')) {
    const files = await untar(res.rawPayload);
    const out: Record<string, unknown> = {};
    for (const [name, body] of files) {
      const text = unecho(body);
      out[name] = name.endsWith('.json') ? JSON.parse(text.replace(/"(sha256|bytes)": ?("[0-9a-f]*"|\d+)/g, '"$1": "-"')) : text;
    }
    return { status: res.statusCode, files: out };
  }
  const text = unecho(res.body);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON (SVG) */
  }
  return { status: res.statusCode, body };
}

test('injection strings in every parameter are refused or answered as a value that matches nothing', async (outer) => {
  const fx = await replayScenario(outer);
  // In a subtest, so the store closes (its after hooks) before the data directory is removed.
  await outer.test('every parameter of every documented route', async (t) => {
    const h = await openApi(t, fx, { rateLimitPerMinute: 1_000_000 });
    const { app } = h;
    const scraper = fx.scenario.scraperIp;
    const image = fx.scenario.imageIds[0]!;
    const alerts = (await app.inject({ url: '/api/v1/alerts', headers: h.auth('analyst') })).json().items as Array<{ id: string }>;
    const alertId = alerts[0]!.id;
    const storedClients = [scraper, ...fx.scenario.viewerIps];

    const tables = (await (await h.store.client.query({ query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View'", format: 'JSONEachRow' })).json<{ name: string }>()).map((r) => r.name);
    assert.ok(['tile_requests', 'alerts', 'alert_actions', 'api_tokens', 'suppression_rules', 'audit_log'].every((n) => tables.includes(n)), tables.join(','));
    const counts = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const name of tables) out[name] = Number((await (await h.store.client.query({ query: `SELECT count() AS n FROM \`${name}\``, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
      return out;
    };
    const before = await counts();
    const expectedGrowth: Record<string, number> = {};
    const grow = (table: string, rows = 1) => (expectedGrowth[table] = (expectedGrowth[table] ?? 0) + rows);

    const spec = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, Op>> };
    const valid: Record<string, unknown> = {
      ip: scraper,
      id: alertId,
      image,
      client: scraper,
      cidr: '203.0.113.0/24',
      ua: 'python',
      from: '2026-03-02T00:00:00Z',
      to: '2026-03-03T00:00:00Z',
      until: new Date(h.clock.now() + 3_600_000).toISOString(),
      images: [image],
      name: 'inj',
      role: 'viewer',
      type: 'allow',
      day: '2026-03-02',
    };
    // Valid values that match nothing stored. Typed parameters (times, limits, enums, cursors) have none:
    // every injection in them must be refused.
    const nothing = (path: string, name: string): unknown => {
      const byName: Record<string, unknown> = {
        ip: '198.51.100.254',
        client: '198.51.100.254',
        cidr: '198.51.100.0/24',
        ua: 'no-such-agent',
        image: 'no-such-image',
        images: ['no-such-image'],
        imageId: 'no-such-image',
        userAgent: 'no-such-agent',
        actor: 'nobody (none)',
        note: 'no such note',
        name: 'benign',
        alert: 'tw-no-such-alert',
        report: { images: ['no-such-image'], from: valid.from, to: valid.to },
      };
      if (name === 'id') return path.startsWith('/api/v1/tokens') ? 'ffffffffffff' : path.startsWith('/api/v1/suppressions') ? 'sr-ffffffffffffffff' : 'tw-no-such-alert';
      return byName[name];
    };

    let requests = 0;
    let audited = 0;
    let equivalent = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      if (!path.startsWith('/api/')) continue;
      for (const [method, op] of Object.entries(methods)) {
        if (method === 'head') continue;
        const route = `${method.toUpperCase()} ${path}`;
        const write = WRITES[route];
        const params = (op.parameters ?? []).map((p) => ({ name: p.name, where: p.in }));
        const bodySchema = op.requestBody?.content['application/json'].schema;
        const bodyProps = Object.keys(bodySchema?.properties ?? {});
        const required = new Set(bodySchema?.required ?? []);
        const baseBody: Record<string, unknown> = {};
        for (const k of required) baseBody[k] = valid[k];
        if (path === '/api/v1/evidence') baseBody.alert = alertId;
        if (path === '/api/v1/suppressions') baseBody.imageId = 'no-such-image'; // a rule needs one field to match on
        const targets = [...params, ...bodyProps.map((name) => ({ name, where: 'body' as const }))];

        const call = async (target: { name: string; where: string }, value: unknown) => {
          const pathParams: Record<string, string> = {};
          const query: Record<string, string> = {};
          for (const p of params) {
            const v = p.name === target.name && p.where === target.where ? value : valid[p.name];
            if (v === undefined) continue;
            if (p.where === 'path') pathParams[p.name] = String(v);
            else if (p.name === target.name || (op.parameters ?? []).find((x) => x.name === p.name)?.required) query[p.name] = String(v);
          }
          // Search takes exactly one criterion: the target alone.
          if (path === '/api/v1/search' && ['ip', 'cidr', 'ua', 'image'].includes(target.name)) for (const k of ['ip', 'cidr', 'ua', 'image']) if (k !== target.name) delete query[k];
          let body: Record<string, unknown> | undefined;
          if (op.requestBody) {
            body = { ...baseBody };
            if (target.where === 'body') {
              body[target.name] = target.name === 'images' && typeof value === 'string' ? [value] : target.name === 'report' && typeof value === 'string' ? { images: [value], from: valid.from, to: valid.to } : value;
              // Evidence takes exactly one subject: the target, or a client (that has no data) for its time range.
              if (path === '/api/v1/evidence' && target.name !== 'alert') {
                delete body.alert;
                if (target.name === 'from' || target.name === 'to') body.client = nothing(path, 'client');
              }
            }
          }
          const url = path.replace(/\{(\w+)\}/g, (_m, n: string) => encodeURIComponent(pathParams[n] ?? ''));
          if (write) h.clock.advance(10); // alert actions are ordered by time: each write its own instant
          const res = await app.inject({ method: method.toUpperCase() as 'GET', url, query, headers: h.auth('admin'), ...(body ? { payload: body } : {}) });
          requests++;
          // A path parameter over the router's limit (maxParamLength 200) is refused before any route is chosen: no audit row.
          const routed = Object.values(pathParams).every((v) => encodeURIComponent(v).length <= 200);
          if (routed && auditedCall(route, query)) audited++;
          if (write && res.statusCode >= 200 && res.statusCode < 300) grow(write.table, write.rows ? write.rows(res.json() as Record<string, unknown>) : 1);
          return res;
        };

        for (const target of targets) {
          const benignValue = nothing(path, target.name);
          const benign = benignValue === undefined ? null : await call(target, benignValue);
          if (benign) {
            const b = `${route} ${target.where}.${target.name} (benign): ${benign.statusCode} ${benign.body.slice(0, 200)}`;
            assert.ok(benign.statusCode < 500 && benign.statusCode !== 400, b);
            // No stored client in it, but one the request named itself (the scraper as another parameter's valid value).
            const named = params.some((p) => p.name !== target.name && (p.name === 'ip' || p.name === 'client'));
            if (!write) for (const ip of storedClients.filter((x) => !named || x !== scraper)) assert.equal(benign.body.includes(ip), false, `${b}: matches stored data (${ip})`);
          }
          for (const inj of INJECTIONS) {
            const res = await call(target, inj);
            const where = `${route} ${target.where}.${target.name}=${JSON.stringify(inj.slice(0, 40))}: ${res.statusCode} ${res.body.slice(0, 200)}`;
            assert.doesNotMatch(res.body, /DB::Exception|Code: \d+|SYNTAX_ERROR|UNKNOWN_IDENTIFIER|stack/i, where);
            if (res.statusCode === 400) {
              assert.deepEqual(Object.keys(res.json()), ['error'], where);
              assert.equal(res.json().error.code, 'invalid_input', where);
              continue;
            }
            assert.ok(benign, `${where}: accepted, but the parameter is typed (only invalid_input is right)`);
            assert.equal(res.statusCode, benign.statusCode, where);
            if (write && res.statusCode < 300) {
              // Written: same structure as the benign write, and the payload stored exactly as sent.
              assert.deepEqual(shape(res.json()), shape(benign.json()), where);
              const echoed = write.echo(res.json() as Record<string, unknown>, target.name);
              if (echoed !== undefined) assert.equal(echoed, inj, `${where}: stored verbatim`);
            } else {
              assert.deepEqual(await comparable(res, inj), await comparable(benign, benignValue), where);
            }
            equivalent++;
          }
        }
      }
    }
    assert.ok(requests > 300, `${requests} requests`);
    assert.ok(equivalent > 50, `${equivalent} payloads compared with a benign value`);

    const after = await counts();
    for (const table of tables) assert.equal(after[table]! - before[table]!, (expectedGrowth[table] ?? 0) + (table === 'audit_log' ? audited : 0), `rows added to ${table}`);
    // The admin token still works (no DELETE reached a real id) and the written payloads read back verbatim.
    assert.equal((await app.inject({ url: '/api/v1/me', headers: h.auth('admin') })).statusCode, 200);
    const rules = (await app.inject({ url: '/api/v1/suppressions', headers: h.auth('admin') })).json().items as Array<{ note: string }>;
    assert.ok(rules.some((r) => r.note === "'); DROP TABLE alerts; --"));
  });
});

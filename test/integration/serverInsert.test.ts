/**
 * Inserts against a ClickHouse server (`--clickhouse-url`): every encoded insert (TabSeparated rows,
 * JSONEachRow alerts, hunt_runs, images) reaches the server as `INSERT INTO t (…) FORMAT F` with the
 * encoded bytes as the request body and the insert settings as URL parameters. A loopback receiver
 * records what the client sends (there is no current ClickHouse server on this machine; what the
 * server does with a well-formed insert is its own business). @clickhouse/client's insert() refuses
 * byte streams for JSON formats, so before the fix every JSONEachRow insert failed on a server.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { CLUSTER_SETTINGS, jsonEachRow, openStore } from '../../services/store/openStore.ts';

test('server inserts: TabSeparated and JSONEachRow bodies go out as INSERT … FORMAT with their settings', async (t) => {
  const seen: Array<{ query: string; body: string; settings: Record<string, string> }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/ping') return void res.end('Ok.\n');
      const settings = Object.fromEntries([...url.searchParams].filter(([k]) => k !== 'query' && k !== 'query_id'));
      seen.push({ query: url.searchParams.get('query') ?? '', body: Buffer.concat(chunks).toString('utf8'), settings });
      res.writeHead(200, { 'x-clickhouse-summary': '{}' });
      res.end('');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const store = await openStore({ kind: 'server', url: `http://127.0.0.1:${port}/` });
  t.after(() => store.close());

  const alerts = jsonEachRow([{ id: 'a', body: '{"x":1}' }, { id: 'b', body: 'é' }]);
  await store.insertRaw({ table: 'alerts', format: 'JSONEachRow', body: alerts, settings: { insert_deduplication_token: 'tok-1' } });
  await store.insertRaw({ table: 'tile_requests', columns: ['ts', 'client'], format: 'TabSeparated', body: Buffer.from('2026-01-01 00:00:00\t::1\n') });

  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.query, 'INSERT INTO alerts FORMAT JSONEachRow');
  assert.equal(seen[0]!.body, alerts.toString('utf8'));
  assert.equal(seen[0]!.settings.insert_deduplication_token, 'tok-1');
  assert.equal(seen[1]!.query, 'INSERT INTO tile_requests (ts, client) FORMAT TabSeparated');
  assert.equal(seen[1]!.body, '2026-01-01 00:00:00\t::1\n');
});

test('on a cluster every statement carries GLOBAL subqueries, synchronous distributed inserts and a quorum', async (t) => {
  const seen: Array<{ query: string; settings: Record<string, string> }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/ping') return void res.end('Ok.\n');
      seen.push({ query: url.searchParams.get('query') ?? '', settings: Object.fromEntries(url.searchParams) });
      res.writeHead(200, { 'x-clickhouse-summary': '{}', 'content-type': 'application/json' });
      res.end('');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const store = await openStore({ kind: 'server', url: `http://127.0.0.1:${port}/`, cluster: '{cluster}' });
  t.after(() => store.close());
  await store.insertRaw({ table: 'alerts', format: 'JSONEachRow', body: jsonEachRow([{ id: 'a' }]) });
  await store.client.command({ query: 'SELECT 1' });
  assert.equal(seen.length, 2);
  for (const s of seen) {
    for (const [k, v] of Object.entries(CLUSTER_SETTINGS)) assert.equal(s.settings[k], String(v), `${k} on ${s.query || 'the command'}`);
  }
  assert.equal(CLUSTER_SETTINGS.distributed_product_mode, 'global');
});

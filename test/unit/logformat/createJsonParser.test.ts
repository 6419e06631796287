import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AccessRecord, ParseResult } from '../../../services/core/types.ts';
import { createJsonParser } from '../../../services/core/logformat/createJsonParser.ts';

function ok(r: ParseResult): AccessRecord {
  if (!r.ok) assert.fail(`expected ok, got reason "${r.reason}"`);
  return r.record;
}
function reason(r: ParseResult): string {
  if (r.ok) assert.fail(`expected failure, got ${JSON.stringify(r.record)}`);
  return r.reason;
}
const parse = createJsonParser();
const j = (o: Record<string, unknown>): string => JSON.stringify(o);

test('canonical nginx escape=json line', () => {
  const line = j({
    time_local: 'ignored',
    '@timestamp': '2000-10-10T13:55:36-07:00',
    remote_addr: '2001:DB8::1',
    request: 'GET /iiif/3/x/full/max/0/default.jpg HTTP/1.1',
    status: 200,
    body_bytes_sent: '5120',
    http_referer: '-',
    http_user_agent: 'Mozilla/5.0 "quoted"',
    http_host: 'tiles.example.org',
  });
  assert.deepEqual(ok(parse(line)), {
    ts: Date.UTC(2000, 9, 10, 20, 55, 36),
    ip: '2001:db8::1',
    method: 'GET',
    target: '/iiif/3/x/full/max/0/default.jpg',
    status: 200,
    bytes: 5120,
    referer: '',
    userAgent: 'Mozilla/5.0 "quoted"',
    host: 'tiles.example.org',
  });
});

test('time aliases and forms', () => {
  const base = { ip: '1.2.3.4', path: '/a' };
  const t = (o: Record<string, unknown>): number => ok(parse(j({ ...base, ...o }))).ts;
  const T = Date.UTC(2000, 9, 10, 13, 55, 36);
  assert.equal(t({ ts: '2000-10-10T13:55:36Z' }), T);
  assert.equal(t({ time: '10/Oct/2000:13:55:36 +0000' }), T);
  assert.equal(t({ timestamp: '2000-10-10T15:55:36+02:00' }), T);
  assert.equal(t({ '@timestamp': '2000-10-10T13:55:36.250Z' }), T + 250);
  assert.equal(t({ msec: 971186136.123 }), T + 123);
  assert.equal(t({ msec: '971186136.123' }), T + 123);
  assert.equal(t({ ts: 971186136 }), T, 'epoch seconds');
  assert.equal(t({ ts: 1704067200123 }), Date.UTC(2024, 0, 1) + 123, 'epoch ms (> 1e12)');
  assert.equal(t({ ts: '1704067200123' }), Date.UTC(2024, 0, 1) + 123, 'epoch ms as string');
  assert.equal(t({ ts: 971186136123 }), 971186136123000, 'below 1e12 numbers are seconds (the documented rule)');
  assert.equal(t({ ts: '2000-10-10T13:55:36Z', time: 'bogus' }), T, 'first alias wins');
  assert.equal(reason(parse(j({ ...base, ts: '2000-10-10T13:55:36' }))), 'invalid time');
  assert.equal(reason(parse(j({ ...base, ts: 'yesterday' }))), 'invalid time');
  assert.equal(reason(parse(j({ ...base, ts: -5 }))), 'invalid time');
  assert.equal(reason(parse(j({ ...base, ts: true }))), 'invalid time');
  assert.equal(reason(parse(j(base))), 'missing time');
});

test('ip aliases', () => {
  for (const k of ['ip', 'remote_addr', 'client_ip', 'clientip', 'c-ip']) {
    assert.equal(ok(parse(j({ ts: 0, [k]: '::ffff:10.1.2.3', uri: '/x' }))).ip, '10.1.2.3', k);
  }
  assert.equal(reason(parse(j({ ts: 0, uri: '/x' }))), 'missing ip');
  assert.equal(reason(parse(j({ ts: 0, ip: 'nope', uri: '/x' }))), 'invalid ip');
  assert.equal(reason(parse(j({ ts: 0, ip: 1234, uri: '/x' }))), 'invalid ip');
});

test('request aliases: full line split, bare path takes method from method aliases', () => {
  const r = (o: Record<string, unknown>): AccessRecord => ok(parse(j({ ts: 0, ip: '1.2.3.4', ...o })));
  assert.deepEqual([r({ request: 'HEAD /a?b HTTP/1.1' }).method, r({ request: 'HEAD /a?b HTTP/1.1' }).target], ['HEAD', '/a?b']);
  assert.deepEqual([r({ path: '/p', method: 'get' }).method, r({ path: '/p', method: 'get' }).target], ['GET', '/p']);
  assert.equal(r({ uri: '/u', request_method: 'POST' }).method, 'POST');
  assert.equal(r({ request_uri: '/ru', verb: 'PUT' }).method, 'PUT');
  assert.equal(r({ request: '/bare' }).method, '');
  assert.equal(r({ request: '/bare' }).target, '/bare');
  assert.deepEqual([r({ uri: '/u', request: 'GET /u?q HTTP/1.1' }).method, r({ uri: '/u', request: 'GET /u?q HTTP/1.1' }).target], ['GET', '/u']);
  assert.equal(reason(parse(j({ ts: 0, ip: '1.2.3.4' }))), 'missing request');
  assert.equal(reason(parse(j({ ts: 0, ip: '1.2.3.4', request: '-' }))), 'missing request');
  assert.equal(reason(parse(j({ ts: 0, ip: '1.2.3.4', request: '\u0016\u0003 x' }))), 'invalid request');
  assert.equal(reason(parse(j({ ts: 0, ip: '1.2.3.4', request: 42 }))), 'invalid request');
});

test('other aliases and number forms', () => {
  const base = { ts: 0, ip: '1.2.3.4', path: '/x' };
  const r = (o: Record<string, unknown>): AccessRecord => ok(parse(j({ ...base, ...o })));
  assert.equal(r({ ua: 'a' }).userAgent, 'a');
  assert.equal(r({ user_agent: 'b' }).userAgent, 'b');
  assert.equal(r({ http_user_agent: 'c' }).userAgent, 'c');
  assert.equal(r({ referer: 'r1' }).referer, 'r1');
  assert.equal(r({ referrer: 'r2' }).referer, 'r2');
  assert.equal(r({ http_referer: 'r3' }).referer, 'r3');
  assert.equal(r({ status: '404' }).status, 404);
  assert.equal(r({ status_code: 206 }).status, 206);
  assert.equal(r({}).status, 0);
  for (const k of ['bytes', 'body_bytes_sent', 'bytes_sent', 'size']) assert.equal(r({ [k]: 99 }).bytes, 99, k);
  assert.equal(r({ bytes: '-' }).bytes, 0);
  assert.equal(r({ host: 'h1' }).host, 'h1');
  assert.equal(r({ http_host: 'h2' }).host, 'h2');
  assert.equal(reason(parse(j({ ...base, status: 'OK' }))), 'invalid status');
  assert.equal(reason(parse(j({ ...base, bytes: 1.5 }))), 'invalid bytes');
});

test('X-Forwarded-For aliases, trusted peers only', () => {
  const p = createJsonParser({ trustedProxies: ['10.0.0.0/8'] });
  const line = (ip: string, o: Record<string, unknown>): string => j({ ts: 0, ip, path: '/', ...o });
  assert.equal(ok(p(line('10.0.0.1', { x_forwarded_for: '6.6.6.6, 203.0.113.9' }))).ip, '203.0.113.9');
  assert.equal(ok(p(line('10.0.0.1', { http_x_forwarded_for: '203.0.113.9, 10.0.0.7' }))).ip, '203.0.113.9');
  assert.equal(ok(p(line('10.0.0.1', { x_forwarded_for: ['203.0.113.9', '10.0.0.7'] }))).ip, '203.0.113.9');
  assert.equal(ok(p(line('198.51.100.1', { x_forwarded_for: '203.0.113.9' }))).ip, '198.51.100.1');
  assert.equal(ok(parse(line('10.0.0.1', { x_forwarded_for: '203.0.113.9' }))).ip, '10.0.0.1', 'no trusted proxies configured');
});

test('bad lines', () => {
  assert.equal(reason(parse('')), 'empty line');
  assert.equal(reason(parse('  ')), 'empty line');
  assert.equal(reason(parse('{"ts":0,')), 'invalid json');
  assert.equal(reason(parse('not json')), 'invalid json');
  assert.equal(reason(parse('[1,2]')), 'not a json object');
  assert.equal(reason(createJsonParser({ maxLineLength: 10 })(j({ ts: 0, ip: '1.2.3.4', path: '/' }))), 'line too long');
});

test('property: never throws on arbitrary input or arbitrary JSON', () => {
  const p = createJsonParser({ trustedProxies: ['0.0.0.0/0'] });
  const keys = fc.constantFrom('ts', 'time', 'msec', 'ip', 'client_ip', 'request', 'path', 'method', 'status', 'bytes', 'ua', 'x_forwarded_for', 'host');
  const objects = fc.dictionary(keys, fc.jsonValue()).map((o) => JSON.stringify(o));
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), objects), (s) => {
      const r = p(s);
      if (r.ok) assert.ok(Number.isFinite(r.record.ts));
      else assert.ok(r.reason.length > 0);
    }),
    { numRuns: 3000 },
  );
});

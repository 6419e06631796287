import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AccessRecord, ParseResult } from '../../../services/core/types.ts';
import { compileNginxFormat } from '../../../services/core/logformat/compileNginxFormat.ts';
import { createParser } from '../../../services/core/logformat/createParser.ts';
import { PRESET_FORMATS } from '../../../services/core/logformat/presetFormats.ts';

const T = Date.UTC(2000, 9, 10, 20, 55, 36); // 10/Oct/2000:13:55:36 -0700

function ok(r: ParseResult): AccessRecord {
  if (!r.ok) assert.fail(`expected ok, got reason "${r.reason}"`);
  return r.record;
}
function reason(r: ParseResult): string {
  if (r.ok) assert.fail(`expected failure, got ${JSON.stringify(r.record)}`);
  return r.reason;
}

const combined = createParser({ format: 'combined' }).parse;
const LINE =
  '203.0.113.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /iiif/2/b1/0,0,512,512/512,/0/default.jpg?x=1 HTTP/1.1" 200 2326 "https://viewer.example.org/item/1" "Mozilla/5.0 (X11; Linux x86_64)"';

test('combined preset', () => {
  assert.deepEqual(ok(combined(LINE)), {
    ts: T,
    ip: '203.0.113.7',
    method: 'GET',
    target: '/iiif/2/b1/0,0,512,512/512,/0/default.jpg?x=1',
    status: 200,
    bytes: 2326,
    referer: 'https://viewer.example.org/item/1',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
    host: '',
  });
  const r = ok(combined('198.51.100.1 - - [01/Jan/2024:00:00:00 +0000] "HEAD /a HTTP/2.0" 304 0 "-" "-"'));
  assert.equal(r.referer, '');
  assert.equal(r.userAgent, '');
  assert.equal(r.method, 'HEAD');
  assert.equal(r.bytes, 0);
});

test('combined tolerates extra trailing fields and CRLF', () => {
  assert.deepEqual(ok(combined(`${LINE} "198.51.100.9, 10.0.0.1"`)), ok(combined(LINE)));
  assert.deepEqual(ok(combined(`${LINE} rt=0.003 uct="0.000" cache=HIT`)), ok(combined(LINE)));
  assert.deepEqual(ok(combined(`${LINE}\r`)), ok(combined(LINE)));
  assert.equal(reason(combined(`${LINE}junk`)), 'format mismatch at end of line');
});

test('strict custom format rejects trailing text', () => {
  const p = compileNginxFormat(PRESET_FORMATS.combined.format);
  assert.equal(ok(p(LINE)).status, 200);
  assert.equal(reason(p(`${LINE} "x"`)), 'format mismatch at end of line');
});

test('common preset', () => {
  const p = createParser({ format: 'common' }).parse;
  const r = ok(p('203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'));
  assert.deepEqual(r, { ts: T, ip: '203.0.113.7', method: 'GET', target: '/apache_pb.gif', status: 200, bytes: 2326, referer: '', userAgent: '', host: '' });
  assert.equal(reason(p('203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200')), 'format mismatch at $status');
});

test('apache combined preset: %b "-" is 0, \\" escapes', () => {
  const p = createParser({ format: 'apache' }).parse;
  const r = ok(
    p('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 304 - "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav) \\"quoted\\" back\\\\slash"'),
  );
  assert.equal(r.bytes, 0);
  assert.equal(r.status, 304);
  assert.equal(r.referer, 'http://www.example.com/start.html');
  assert.equal(r.userAgent, 'Mozilla/4.08 [en] (Win98; I ;Nav) "quoted" back\\slash');
});

test('combined_xff preset honours XFF only from trusted peers', () => {
  const line = (peer: string, xff: string): string =>
    `${peer} - - [10/Oct/2000:13:55:36 -0700] "GET /t/1/2/3.png HTTP/1.1" 200 5 "-" "ua" "${xff}"`;
  const trusted = createParser({ format: 'combined_xff', trustedProxies: ['10.0.0.0/8', 'fd00::/8'] }).parse;
  assert.equal(ok(trusted(line('10.0.0.1', '203.0.113.5'))).ip, '203.0.113.5');
  assert.equal(ok(trusted(line('198.51.100.1', '203.0.113.5'))).ip, '198.51.100.1', 'untrusted peer: XFF ignored');
  assert.equal(ok(trusted(line('10.0.0.1', '6.6.6.6, 203.0.113.5, 10.0.0.2'))).ip, '203.0.113.5', 'spoofed multi-hop');
  assert.equal(ok(trusted(line('fd00::1', '2001:DB8::1'))).ip, '2001:db8::1');
  assert.equal(ok(trusted(line('10.0.0.1', '-'))).ip, '10.0.0.1');
  assert.equal(ok(trusted(line('10.0.0.1', 'unknown'))).ip, '10.0.0.1');
  const untrusting = createParser({ format: 'combined_xff' }).parse;
  assert.equal(ok(untrusting(line('10.0.0.1', '203.0.113.5'))).ip, '10.0.0.1', 'no trusted proxies: XFF ignored');
});

test('client addresses: IPv6 canonicalised, IPv4-mapped unwrapped, invalid rejected', () => {
  const at = (ip: string): ParseResult => combined(`${ip} - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-"`);
  assert.equal(ok(at('2001:0DB8:0000::0001')).ip, '2001:db8::1');
  assert.equal(ok(at('::ffff:192.0.2.1')).ip, '192.0.2.1');
  assert.equal(reason(at('999.1.1.1')), 'invalid ip');
  assert.equal(reason(at('unix:')), 'invalid ip');
  assert.equal(reason(at('-')), 'invalid ip');
});

test('custom log_format with every supported variable', () => {
  const fmt =
    '$remote_addr $host $http_host [$time_local] $time_iso8601 $msec "$request" "$request_uri" $status ' +
    '$body_bytes_sent $bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" $request_time $upstream_cache_status';
  const p = compileNginxFormat(fmt, { trustedProxies: ['192.0.2.0/24'] });
  const r = ok(
    p('192.0.2.10 tiles.example.org tiles.example.org:443 [10/Oct/2000:13:55:36 -0700] 2000-10-10T13:55:36-07:00 971211336.250 "GET /z/3/4/5.png HTTP/1.1" "/z/3/4/5.png" 200 1024 1324 "-" "curl/8.4.0" "203.0.113.50" 0.003 HIT'),
  );
  assert.deepEqual(r, {
    ts: T + 250, // the last time variable wins ($msec here)
    ip: '203.0.113.50',
    method: 'GET',
    target: '/z/3/4/5.png',
    status: 200,
    bytes: 1024,
    referer: '',
    userAgent: 'curl/8.4.0',
    host: 'tiles.example.org:443',
  });
});

test('custom formats: $request_uri + $request_method, $bytes_sent fallback, iso and msec time', () => {
  const p = compileNginxFormat('$time_iso8601 $remote_addr $request_method $request_uri $status $bytes_sent');
  assert.deepEqual(ok(p('2024-05-01T10:00:00+05:30 2001:db8::5 get /tiles/1/2/3.jpg 206 777')), {
    ts: Date.UTC(2024, 4, 1, 4, 30),
    ip: '2001:db8::5',
    method: 'GET',
    target: '/tiles/1/2/3.jpg',
    status: 206,
    bytes: 777,
    referer: '',
    userAgent: '',
    host: '',
  });
  const m = compileNginxFormat('$msec|$remote_addr|$request');
  assert.equal(ok(m('1700000000.123|1.2.3.4|GET /a HTTP/1.1')).ts, 1700000000123);
  assert.equal(reason(m('17000x0000.123|1.2.3.4|GET /a HTTP/1.1')), 'invalid time');
  assert.equal(reason(p('2024-05-01T10:00:00 2001:db8::5 GET /x 200 1')), 'invalid time');
});

test('unknown variables (incl. ${braced}) are matched and ignored', () => {
  const p = compileNginxFormat('$remote_addr $connection ${pipe}x [$time_local] "$request" $status "$sent_http_content_type" $ssl_protocol/$ssl_cipher');
  const r = ok(p('1.2.3.4 12345 px [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 "image/jpeg" TLSv1.3/TLS_AES_128_GCM_SHA256'));
  assert.equal(r.ip, '1.2.3.4');
  assert.equal(r.status, 200);
  assert.equal(reason(p('1.2.3.4 12345 p [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 "image/jpeg" TLSv1.3/x')), 'format mismatch at $pipe');
});

test('literal text must match', () => {
  const p = compileNginxFormat('ip=$remote_addr t=[$time_local] r="$request" s=$status');
  assert.equal(ok(p('ip=1.2.3.4 t=[10/Oct/2000:13:55:36 -0700] r="GET / HTTP/1.1" s=404')).status, 404);
  assert.equal(reason(p('IP=1.2.3.4 t=[10/Oct/2000:13:55:36 -0700] r="GET / HTTP/1.1" s=404')), 'format mismatch at start');
  assert.equal(reason(p('ip=1.2.3.4 t=(10/Oct/2000:13:55:36 -0700) r="GET / HTTP/1.1" s=404')), 'format mismatch at $remote_addr');
});

test('escapes: \\", \\x22, \\xHH as UTF-8, \\x5C', () => {
  const line = (ua: string, req = 'GET /caf\\xC3\\xA9 HTTP/1.1'): string =>
    `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "${req}" 200 1 "-" "${ua}"`;
  assert.equal(ok(combined(line('say \\x22hi\\x22 \\x5Cn'))).userAgent, 'say "hi" \\n');
  assert.equal(ok(combined(line('a \\"b\\" c'))).userAgent, 'a "b" c');
  assert.equal(ok(combined(line('trailing \\\\'))).userAgent, 'trailing \\');
  assert.equal(ok(combined(line('\\xE2\\x80\\x99 \\xFF'))).userAgent, '\u2019 \uFFFD');
  assert.equal(ok(combined(line('x'))).target, '/café');
  assert.equal(ok(combined(line('x', 'GET /a\\"b HTTP/1.1'))).target, '/a"b');
});

test('request line variants', () => {
  const line = (req: string): string => `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "${req}" 400 0 "-" "-"`;
  const r1 = ok(combined(line('-')));
  assert.equal(r1.method, '');
  assert.equal(r1.target, '');
  const r2 = ok(combined(line('GET /no/protocol')));
  assert.deepEqual([r2.method, r2.target], ['GET', '/no/protocol']);
  const r3 = ok(combined(line('get /a b HTTP/1.1')));
  assert.deepEqual([r3.method, r3.target], ['GET', '/a b']);
  const r4 = ok(combined(line('PROPFIND http://example.org/x?y HTTP/1.1')));
  assert.deepEqual([r4.method, r4.target], ['PROPFIND', 'http://example.org/x?y']);
  assert.equal(ok(combined(line(''))).target, '');
  for (const garbage of ['\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03', 'GET', '\\x00\\x00 / HTTP/1.1', 'GET /a\\x00b HTTP/1.1', 'G{T / HTTP/1.1', 'GET  HTTP/1.1']) {
    assert.equal(reason(combined(line(garbage))), 'invalid request', garbage);
  }
});

test('bad lines give stable reasons', () => {
  assert.equal(reason(combined('')), 'empty line');
  assert.equal(reason(combined('   \t ')), 'empty line');
  assert.equal(reason(combined('\r')), 'empty line');
  assert.equal(reason(combined(LINE.slice(0, 60))), 'format mismatch at $request');
  assert.equal(reason(combined(LINE.slice(0, 30))), 'format mismatch at $time_local');
  assert.equal(reason(combined('hello world')), 'format mismatch at $remote_addr');
  assert.equal(reason(combined(LINE.replace('13:55:36', '25:55:36'))), 'invalid time');
  assert.equal(reason(combined(LINE.replace('Oct', 'Okt'))), 'invalid time');
  assert.equal(reason(combined(LINE.replace(' 200 ', ' 2x0 '))), 'invalid status');
  assert.equal(reason(combined(LINE.replace(' 2326 ', ' -5 '))), 'invalid bytes');
  assert.equal(reason(combined(LINE.replace(' 200 ', ' '))), 'invalid status'); // 2326 taken as the status
  const small = createParser({ format: 'combined', maxLineLength: 100 }).parse;
  assert.equal(reason(small(LINE)), 'line too long');
  assert.equal(reason(combined(`${LINE} ${'x'.repeat(16384)}`)), 'line too long');
  const rt = compileNginxFormat('$remote_addr [$time_local] "$request" $request_time');
  assert.equal(reason(rt('1.2.3.4 [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" fast')), 'invalid request_time');
  assert.equal(ok(rt('1.2.3.4 [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 0.250')).target, '/');
});

test('config errors throw at compile time', () => {
  assert.throws(() => compileNginxFormat('$time_local "$request"'), /missing \$remote_addr/);
  assert.throws(() => compileNginxFormat('$remote_addr "$request"'), /missing \$time_local, \$time_iso8601 or \$msec/);
  assert.throws(() => compileNginxFormat('$remote_addr $msec'), /missing \$request, \$request_uri or \$uri/);
  assert.throws(() => compileNginxFormat('$remote_addr$remote_user [$time_local] "$request"'), /\$remote_addr and \$remote_user have no text between them/);
  assert.throws(() => compileNginxFormat('${remote_addr [$time_local] "$request"'), /malformed/);
  assert.throws(() => compileNginxFormat(PRESET_FORMATS.combined.format, { trustedProxies: ['10.0.0.0/40'] }), /invalid CIDR "10\.0\.0\.0\/40"/);
});

test('property: arbitrary strings never throw; result is ok or a non-empty reason', () => {
  const parsers = [
    combined,
    createParser({ format: 'combined_xff', trustedProxies: ['0.0.0.0/0', '::/0'] }).parse,
    createParser({ format: 'common' }).parse,
    compileNginxFormat('$time_iso8601 $remote_addr "$request_method $request_uri" $status $bytes_sent $request_time'),
  ];
  const lineLike = fc
    .array(
      fc.oneof(
        fc.string(),
        fc.constantFrom(' ', '"', '\\', '\\x', '\\x2', '\\x22', '[', ']', ' - - ', '-', '1.2.3.4', '::1', '10/Oct/2000:13:55:36 -0700', 'GET / HTTP/1.1', '200', '\r', '\u0000'),
      ),
      { maxLength: 20 },
    )
    .map((parts) => parts.join(''));
  // Mutations of a valid line: truncations and single-character corruptions.
  const mutated = fc.tuple(fc.nat(LINE.length), fc.nat(LINE.length), fc.string({ maxLength: 3 })).map(
    ([a, b, s]) => LINE.slice(0, Math.min(a, b)) + s + LINE.slice(Math.max(a, b)),
  );
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), lineLike, mutated), (s) => {
      for (const p of parsers) {
        const r = p(s);
        if (r.ok) {
          assert.ok(Number.isFinite(r.record.ts));
          assert.equal(typeof r.record.ip, 'string');
          assert.ok(r.record.ip.length > 0);
        } else {
          assert.equal(typeof r.reason, 'string');
          assert.ok(r.reason.length > 0 && r.reason.length < 60);
        }
      }
    }),
    { numRuns: 3000 },
  );
});

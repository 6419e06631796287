/**
 * Micro-benchmark of the log-line parsers (not a test; run by hand):
 *   node --import tsx test/unit/logformat/parse.bench.ts [lines]
 * Prints the best of 5 rounds in lines/s for nginx combined, JSON lines and a custom log_format,
 * plus the compiled-RegExp alternative the scanner was measured against.
 */
import { canonicalIp } from '../../../services/core/logformat/canonicalIp.ts';
import { compileNginxFormat } from '../../../services/core/logformat/compileNginxFormat.ts';
import { createJsonParser } from '../../../services/core/logformat/createJsonParser.ts';
import { createParser } from '../../../services/core/logformat/createParser.ts';
import { parseRequestLine } from '../../../services/core/logformat/parseRequestLine.ts';
import { parseTimeLocal } from '../../../services/core/logformat/parseTimeLocal.ts';
import { unescapeLogString } from '../../../services/core/logformat/unescapeLogString.ts';
import type { ParseResult } from '../../../services/core/types.ts';

const N = Number(process.argv[2] ?? 200_000);
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'python-requests/2.31.0',
  'curl/8.4.0',
];
const p2 = (n: number): string => String(n).padStart(2, '0');
const combined: string[] = [];
const json: string[] = [];
const custom: string[] = [];
for (let i = 0; i < N; i++) {
  const ip = `198.51.${(i >> 8) & 255}.${i & 255}`;
  const sec = Math.floor(i / 50); // ~50 requests per second, as in a busy log
  const t = `${p2(10 + (Math.floor(sec / 86400) % 18))}/Oct/2024:${p2(Math.floor(sec / 3600) % 24)}:${p2(Math.floor(sec / 60) % 60)}:${p2(sec % 60)} +0000`;
  const path = `/iiif/3/book${i % 97}/${(i % 8) * 512},${(i % 5) * 512},512,512/512,/0/default.jpg`;
  const ua = UAS[i % 3]!;
  const bytes = 10000 + (i % 5000);
  combined.push(`${ip} - - [${t}] "GET ${path} HTTP/1.1" 200 ${bytes} "https://viewer.example.org/item/${i % 97}" "${ua}"`);
  json.push(
    JSON.stringify({
      time: new Date(Date.UTC(2024, 9, 10) + sec * 1000).toISOString(),
      remote_addr: ip,
      request: `GET ${path} HTTP/1.1`,
      status: 200,
      body_bytes_sent: bytes,
      http_referer: 'https://viewer.example.org/',
      http_user_agent: ua,
      host: 'tiles.example.org',
    }),
  );
  custom.push(`${ip} tiles.example.org [${t}] "GET ${path} HTTP/1.1" 200 ${bytes} ${bytes + 300} 0.0${i % 10}3 HIT "https://viewer.example.org/" "${ua}" "-"`);
}

function bench(name: string, parse: (line: string) => ParseResult, lines: readonly string[]): void {
  let best = 0;
  let ok = 0;
  for (let round = 0; round < 5; round++) {
    ok = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < lines.length; i++) if (parse(lines[i]!).ok) ok++;
    best = Math.max(best, lines.length / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  console.log(`${name.padEnd(30)} ${Math.round(best).toLocaleString('en').padStart(11)} lines/s  (ok ${ok}/${lines.length})`);
}

/** The alternative design: one compiled RegExp for combined, same field post-processing. */
function regexCombined(): (line: string) => ParseResult {
  const re = /^(\S+) - (\S+) \[([^\]]*)\] "((?:[^"\\]|\\.)*)" (\d{1,3}|-) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"/;
  const scratch = { method: '', target: '' };
  const text = (s: string): string => (s === '-' ? '' : unescapeLogString(s));
  return (line) => {
    const m = re.exec(line);
    if (m === null) return { ok: false, reason: 'format mismatch' };
    const ip = canonicalIp(m[1]!);
    if (ip === null) return { ok: false, reason: 'invalid ip' };
    const ts = parseTimeLocal(m[3]!);
    if (ts !== ts) return { ok: false, reason: 'invalid time' };
    if (!parseRequestLine(unescapeLogString(m[4]!), scratch)) return { ok: false, reason: 'invalid request' };
    const record = {
      ts, ip, method: scratch.method, target: scratch.target,
      status: m[5] === '-' ? 0 : Number(m[5]), bytes: m[6] === '-' ? 0 : Number(m[6]),
      referer: text(m[7]!), userAgent: text(m[8]!), host: '',
    };
    return { ok: true, record };
  };
}

bench('combined (scanner)', createParser({ format: 'combined' }).parse, combined);
bench('combined (RegExp alternative)', regexCombined(), combined);
bench('combined + trustedProxies', createParser({ format: 'combined', trustedProxies: ['10.0.0.0/8', '2001:db8::/32'] }).parse, combined);
bench('json', createJsonParser(), json);
bench(
  'custom log_format',
  compileNginxFormat(
    '$remote_addr $host [$time_local] "$request" $status $body_bytes_sent $bytes_sent $request_time $upstream_cache_status "$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
  ),
  custom,
);

import type { AccessRecord, ParseResult } from '../types.ts';
import { canonicalIp } from './canonicalIp.ts';
import { compileCidrMatcher } from './cidr.ts';
import { DEFAULT_MAX_LINE_LENGTH, type LineParser, type LineParserOptions } from './lineParser.ts';
import { parseIsoTime } from './parseIsoTime.ts';
import { parseRequestLine, type RequestLineParts } from './parseRequestLine.ts';
import { parseTimeLocal } from './parseTimeLocal.ts';
import { resolveClientIp } from './resolveClientIp.ts';

/** Field aliases, first present wins. Exported so docs and detection can list them. */
export const JSON_FIELD_ALIASES = {
  time: ['ts', 'time', 'timestamp', '@timestamp', 'msec'],
  ip: ['ip', 'remote_addr', 'client_ip', 'clientip', 'c-ip'],
  request: ['path', 'uri', 'request_uri', 'request'],
  method: ['method', 'request_method', 'verb'],
  userAgent: ['ua', 'user_agent', 'http_user_agent'],
  referer: ['referer', 'referrer', 'http_referer'],
  status: ['status', 'status_code'],
  bytes: ['bytes', 'body_bytes_sent', 'bytes_sent', 'size'],
  host: ['host', 'http_host'],
  forwardedFor: ['x_forwarded_for', 'http_x_forwarded_for'],
} as const satisfies Record<string, readonly string[]>;

const fail = (reason: string): ParseResult => Object.freeze({ ok: false, reason });
const EMPTY_LINE = fail('empty line');
const LINE_TOO_LONG = fail('line too long');
const INVALID_JSON = fail('invalid json');
const NOT_OBJECT = fail('not a json object');
const MISSING_TIME = fail('missing time');
const MISSING_IP = fail('missing ip');
const MISSING_REQUEST = fail('missing request');
const INVALID_TIME = fail('invalid time');
const INVALID_IP = fail('invalid ip');
const INVALID_REQUEST = fail('invalid request');
const INVALID_STATUS = fail('invalid status');
const INVALID_BYTES = fail('invalid bytes');

function pick(obj: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) {
    const v = obj[k];
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/** Epoch ms from a JSON time value, NaN when invalid. Numbers > 1e12 are ms, else seconds. */
function timeOf(v: unknown): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v !== 'string') return NaN;
  else if (v.charCodeAt(2) === 47 /* dd/Mon/yyyy… */) return parseTimeLocal(v);
  else if (v.charCodeAt(4) === 45 /* yyyy-… */) return parseIsoTime(v);
  else if (/^\d{1,16}(?:\.\d+)?$/.test(v)) n = Number(v);
  else return NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1e17) return NaN;
  return n > 1e12 ? Math.floor(n) : Math.round(n * 1000);
}

/** Non-negative integer from a number, digit string or '-' (0); -1 when invalid. */
function uintOf(v: unknown): number {
  if (v === undefined || v === '-' || v === '') return 0;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : -1;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return -1;
}

function textOf(v: unknown): string {
  if (typeof v === 'string') return v === '-' ? '' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

/**
 * Parser for JSON-lines access logs (one object per line, e.g. nginx `escape=json`), using the
 * aliases in {@link JSON_FIELD_ALIASES}:
 *
 * - time: ISO-8601 string with zone, nginx `$time_local` string, or epoch number
 *   (numbers > 1e12 are milliseconds, otherwise seconds, fractions allowed);
 * - request: the first of path/uri/request_uri/request; a full request line (`GET /x HTTP/1.1`)
 *   is split, a bare path takes its method from method/request_method/verb ('' when absent);
 * - ip: canonicalised, and replaced via X-Forwarded-For (string or array) only when the peer is a
 *   trusted proxy (see `resolveClientIp`);
 * - status/bytes: numbers or digit strings, `-` or absent → 0.
 *
 * Failure reasons: `empty line`, `line too long`, `invalid json`, `not a json object`,
 * `missing time`, `missing ip`, `missing request`, `invalid time`, `invalid ip`,
 * `invalid request`, `invalid status`, `invalid bytes`.
 *
 * @throws Error when `trustedProxies` holds an invalid CIDR.
 */
export function createJsonParser(options: LineParserOptions = {}): LineParser {
  const maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  const trusted = options.trustedProxies ?? [];
  const isTrusted = compileCidrMatcher(trusted);
  const honourXff = trusted.length > 0;
  const scratch: RequestLineParts = { method: '', target: '' };
  const A = JSON_FIELD_ALIASES;

  return (line: string): ParseResult => {
    if (line.length > maxLineLength) return LINE_TOO_LONG;
    let start = 0;
    while (start < line.length && line.charCodeAt(start) <= 32) start++;
    if (start === line.length) return EMPTY_LINE;
    if (line.charCodeAt(start) !== 123) return line.charCodeAt(start) === 91 ? NOT_OBJECT : INVALID_JSON;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return INVALID_JSON;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return NOT_OBJECT;
    const obj = parsed as Record<string, unknown>;

    const tv = pick(obj, A.time);
    if (tv === undefined || tv === '' || tv === '-') return MISSING_TIME;
    const ts = timeOf(tv);
    if (ts !== ts) return INVALID_TIME;

    const iv = pick(obj, A.ip);
    if (iv === undefined || iv === '' || iv === '-') return MISSING_IP;
    const peer = typeof iv === 'string' ? canonicalIp(iv) : null;
    if (peer === null) return INVALID_IP;

    const rv = pick(obj, A.request);
    if (typeof rv !== 'string' || rv === '' || rv === '-') return rv === undefined || rv === '' || rv === '-' ? MISSING_REQUEST : INVALID_REQUEST;
    let method = textOf(pick(obj, A.method)).toUpperCase();
    let target: string;
    if (rv.indexOf(' ') !== -1 && rv.charCodeAt(0) !== 47) {
      if (!parseRequestLine(rv, scratch)) return INVALID_REQUEST;
      target = scratch.target;
      if (scratch.method !== '') method = scratch.method;
    } else {
      target = rv;
      if (method === '' && typeof obj['request'] === 'string' && parseRequestLine(obj['request'], scratch)) {
        method = scratch.method;
      }
    }

    const status = uintOf(pick(obj, A.status));
    if (status < 0 || status > 999) return INVALID_STATUS;
    const bytes = uintOf(pick(obj, A.bytes));
    if (bytes < 0) return INVALID_BYTES;

    let ip = peer;
    if (honourXff) {
      const xv = pick(obj, A.forwardedFor);
      const xff = Array.isArray(xv) ? xv.filter((x) => typeof x === 'string').join(',') : textOf(xv);
      if (xff !== '') ip = resolveClientIp(peer, xff, isTrusted);
    }

    const record: AccessRecord = {
      ts,
      ip,
      method,
      target,
      status,
      bytes,
      referer: textOf(pick(obj, A.referer)),
      userAgent: textOf(pick(obj, A.userAgent)),
      host: textOf(pick(obj, A.host)),
    };
    return { ok: true, record };
  };
}

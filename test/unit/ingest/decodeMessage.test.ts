import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage } from '../../../services/ingest/kafka/decodeMessage.ts';

const line = '203.0.113.7 - - [02/Mar/2026:10:00:00 +0000] "GET /iiif/2/abc/0,0,512,512/512,/0/default.jpg HTTP/1.1" 200 1234 "-" "python-requests/2.31"';
const b = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('Kafka message decoding', () => {
  it('takes a raw line, or several separated by newlines (CRLF too)', () => {
    assert.deepEqual(decodeMessage(b(line), 1 << 20), { ok: true, lines: [line], json: false });
    assert.deepEqual(decodeMessage(b(`${line}\r\n${line}\n\n`), 1 << 20), { ok: true, lines: [line, line], json: false });
  });

  it("unwraps Vector's `message` and Fluent Bit's `log` JSON encodings", () => {
    assert.deepEqual(decodeMessage(b(JSON.stringify({ message: line, host: 'tiles-1', timestamp: '2026-03-02T10:00:00Z' })), 1 << 20), { ok: true, lines: [line], json: false });
    assert.deepEqual(decodeMessage(b(JSON.stringify({ log: `${line}\n` })), 1 << 20), { ok: true, lines: [line], json: false });
  });

  it('passes a structured JSON record on as one JSON line', () => {
    const rec = JSON.stringify({ ts: '2026-03-02T10:00:00Z', ip: '203.0.113.7', request: 'GET /x HTTP/1.1', status: 200 });
    assert.deepEqual(decodeMessage(b(rec), 1 << 20), { ok: true, lines: [rec], json: true });
  });

  it('gives a reason for empty, oversize, non-UTF-8 and non-object JSON messages', () => {
    assert.deepEqual(decodeMessage(null, 10), { ok: false, reason: 'empty message' });
    assert.deepEqual(decodeMessage(b('  \n'), 10), { ok: false, reason: 'empty message' });
    assert.deepEqual(decodeMessage(b('x'.repeat(11)), 10), { ok: false, reason: 'message larger than 10 bytes' });
    assert.deepEqual(decodeMessage(Buffer.from([0x66, 0xff, 0xfe, 0x0a]), 10), { ok: false, reason: 'not UTF-8' });
    assert.deepEqual(decodeMessage(b('{"message": ""}'), 100), { ok: false, reason: 'empty message field' });
  });

  it('leaves a line that merely starts with a brace to the line parser', () => {
    assert.deepEqual(decodeMessage(b('{not json'), 100), { ok: true, lines: ['{not json'], json: false });
  });
});

/**
 * Kafka message value → log lines, as shippers send them. Pure; bad input is a value.
 *
 * - a raw access-log line, or several separated by newlines;
 * - Vector's and Fluent Bit's JSON encodings: the line under `message` (Vector) or `log` (Fluent Bit);
 * - a structured JSON access record (fields, no `message`/`log`): passed on as one JSON line for the
 *   JSON log parser.
 */
export type DecodedMessage =
  | { readonly ok: true; readonly lines: readonly string[]; readonly json: boolean }
  | { readonly ok: false; readonly reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeMessage(value: Uint8Array | null, maxBytes: number): DecodedMessage {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty message' };
  if (value.length > maxBytes) return { ok: false, reason: `message larger than ${maxBytes} bytes` };
  // The common case, one raw line: it starts with a visible ASCII character other than '{' (so no BOM,
  // no leading blank, not JSON) and holds no line break: the decoded text is the line, as below.
  const first = value[0]!;
  if (first > 0x20 && first < 0x7f && first !== 0x7b && value.indexOf(0x0a) === -1 && value.indexOf(0x0d) === -1) {
    try {
      return { ok: true, lines: [utf8.decode(value)], json: false };
    } catch {
      return { ok: false, reason: 'not UTF-8' };
    }
  }
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return { ok: false, reason: 'not UTF-8' };
  }
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, reason: 'empty message' };
  if (trimmed.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch {
      // Not JSON after all: a log line that starts with '{' is left to the line parser.
      return { ok: true, lines: splitLines(text), json: false };
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { ok: false, reason: 'JSON message is not an object' };
    const o = obj as Record<string, unknown>;
    const line = typeof o.message === 'string' ? o.message : typeof o.log === 'string' ? o.log : null;
    if (line !== null) {
      const lines = splitLines(line);
      return lines.length > 0 ? { ok: true, lines, json: false } : { ok: false, reason: 'empty message field' };
    }
    return { ok: true, lines: [trimmed], json: true };
  }
  return { ok: true, lines: splitLines(text), json: false };
}

function splitLines(text: string): string[] {
  const out: string[] = [];
  for (const l of text.split('\n')) {
    const line = l.endsWith('\r') ? l.slice(0, -1) : l;
    if (line.trim() !== '') out.push(line);
  }
  return out;
}

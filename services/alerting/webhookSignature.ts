import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures (replay-safe): the sender signs `timestamp + "." + body` with HMAC-SHA256 and
 * sends `X-Tilewatch-Timestamp: <unix seconds>` and `X-Tilewatch-Signature: v1=<hex>`. A receiver
 * recomputes the HMAC over the raw body bytes it received, compares in constant time, and rejects a
 * timestamp further than its tolerance (e.g. 300 s) from its own clock — so a captured request
 * cannot be replayed later. Each retry is signed afresh with a new timestamp; the
 * `Idempotency-Key: <id>:<version>` header stays the same, so receivers can also drop duplicates.
 */
export const TIMESTAMP_HEADER = 'X-Tilewatch-Timestamp';
export const SIGNATURE_HEADER = 'X-Tilewatch-Signature';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** Hex HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function webhookSignature(secret: string, timestamp: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The two signature headers for a body sent at `nowMs`. */
export function signWebhook(secret: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v1=${webhookSignature(secret, timestamp, body)}` };
}

export type WebhookVerification =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly reason: 'missing-timestamp' | 'missing-signature' | 'stale-timestamp' | 'bad-signature' };

/** Node's `IncomingHttpHeaders` (lower-case keys), a fetch `Headers`, or any plain record. */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

function header(h: HeaderSource, name: string): string | undefined {
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  const rec = h as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v.join(',') : (v as string | undefined);
}

/**
 * Verifies a request from tilewatch's webhook sink. `body` must be the raw bytes received (not
 * re-serialised JSON); `nowMs` is the receiver's clock; a timestamp more than `toleranceSec` away
 * from it is rejected. Several `v1=` values separated by commas are accepted (any may match), which
 * lets a receiver list signatures for old and new secrets during a rotation.
 */
export function verifyWebhookSignature(secret: string, headers: HeaderSource, body: string | Buffer, nowMs: number, toleranceSec = 300): WebhookVerification {
  const ts = header(headers, TIMESTAMP_HEADER)?.trim();
  if (ts === undefined || !/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'missing-timestamp' };
  const sig = header(headers, SIGNATURE_HEADER);
  const candidates = (sig ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .map((s) => s.slice(3));
  if (candidates.length === 0) return { ok: false, reason: 'missing-signature' };
  const timestamp = Number(ts);
  if (Math.abs(nowMs / 1000 - timestamp) > toleranceSec) return { ok: false, reason: 'stale-timestamp' };
  const expected = Buffer.from(webhookSignature(secret, ts, body), 'hex');
  for (const c of candidates) {
    const given = /^[0-9a-f]{64}$/i.test(c) ? Buffer.from(c, 'hex') : null;
    if (given !== null && timingSafeEqual(given, expected)) return { ok: true, timestamp };
  }
  return { ok: false, reason: 'bad-signature' };
}

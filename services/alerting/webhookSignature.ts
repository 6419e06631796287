import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures (docs/webhooks.md). The sink signs every attempt with scheme v2:
 *
 *     X-Tilewatch-Timestamp: <unix seconds, fresh per attempt>
 *     X-Tilewatch-Nonce:     <random id, fresh per attempt>
 *     Idempotency-Key:       <incident id>:<notice>:<alert id>:<version>   (the same on every attempt of one notice)
 *     X-Tilewatch-Signature: v2=<hex HMAC-SHA256(secret, "v2\n" + timestamp + "\n" + nonce + "\n" + idempotency key + "\n" + body)>
 *
 * Header values cannot contain a newline, so the signed material splits one way only, and changing
 * any of the four headers or one body byte breaks the signature. A receiver built with
 * {@link createWebhookVerifier} refuses a timestamp outside its tolerance and a nonce it has already
 * accepted inside it, so a captured request cannot be replayed at all; retries still share the
 * idempotency key, so the receiver can drop the duplicates of a notice it already processed.
 *
 * Scheme v1 (`v1=` HMAC over `timestamp + "." + body`, no nonce) is what the sink sent before; it
 * cannot tell a replay inside the tolerance window from the original. The stateless
 * {@link verifyWebhookSignature} still accepts it for receivers not yet moved; the verifier does not.
 */
export const TIMESTAMP_HEADER = 'X-Tilewatch-Timestamp';
export const NONCE_HEADER = 'X-Tilewatch-Nonce';
export const SIGNATURE_HEADER = 'X-Tilewatch-Signature';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** Timestamp tolerance when none is given (sink config `toleranceSec` and the verifier). */
export const DEFAULT_TOLERANCE_SEC = 300;
/** Below this, ordinary clock skew and network time would refuse honest requests. */
export const MIN_TOLERANCE_SEC = 5;
/** Above this, a replay window (and the verifier's nonce memory) gets longer than any retry needs. */
export const MAX_TOLERANCE_SEC = 3600;

/** What the verifier accepts as a nonce: 16–128 characters of [A-Za-z0-9_-] (a UUID fits). */
const NONCE_RE = /^[A-Za-z0-9_-]{16,128}$/;
/** Visible ASCII only: no space or comma, which is how duplicated headers are joined. */
const IDEMPOTENCY_KEY_RE = /^[\x21-\x2b\x2d-\x7e]{1,256}$/;

/**
 * `toleranceSec` itself when it is an integer from {@link MIN_TOLERANCE_SEC} to
 * {@link MAX_TOLERANCE_SEC}. Anything else throws: with NaN the timestamp check `distance > NaN` is
 * never true, so an unchecked tolerance switches replay protection off without a sign.
 *
 * @throws RangeError naming `toleranceSec` and the value.
 */
export function checkToleranceSec(toleranceSec: number): number {
  if (!Number.isInteger(toleranceSec) || toleranceSec < MIN_TOLERANCE_SEC || toleranceSec > MAX_TOLERANCE_SEC)
    throw new RangeError(`toleranceSec must be an integer from ${MIN_TOLERANCE_SEC} to ${MAX_TOLERANCE_SEC}, got ${String(toleranceSec)}`);
  return toleranceSec;
}

/** What one delivery attempt signs besides its timestamp and body. */
export interface WebhookDelivery {
  /** `<incident id>:<notice>:<alert id>:<version>`: the same on every attempt of one incident notice (receivers dedupe on it). */
  readonly idempotencyKey: string;
  /** Unique per attempt; 16–128 characters of [A-Za-z0-9_-]. */
  readonly nonce: string;
}

/** Scheme v1: hex HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function webhookSignature(secret: string, timestamp: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** Scheme v2: hex HMAC-SHA256(secret, `v2\n${timestamp}\n${nonce}\n${idempotencyKey}\n${body}`). */
export function webhookSignatureV2(secret: string, timestamp: string, delivery: WebhookDelivery, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`v2\n${timestamp}\n${delivery.nonce}\n${delivery.idempotencyKey}\n`).update(body).digest('hex');
}

/**
 * The headers that sign a body sent at `nowMs`: with `delivery`, scheme v2 (timestamp, nonce,
 * idempotency key, `v2=` signature), which is what the sink sends; without it, scheme v1
 * (timestamp and `v1=` signature only, replayable inside the tolerance window).
 */
export function signWebhook(secret: string, body: string, nowMs: number, delivery?: WebhookDelivery): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  if (delivery === undefined) return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v1=${webhookSignature(secret, timestamp, body)}` };
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [NONCE_HEADER]: delivery.nonce,
    [IDEMPOTENCY_HEADER]: delivery.idempotencyKey,
    [SIGNATURE_HEADER]: `v2=${webhookSignatureV2(secret, timestamp, delivery, body)}`,
  };
}

export type WebhookRejection =
  | 'missing-timestamp'
  | 'missing-signature'
  | 'missing-nonce'
  | 'missing-idempotency-key'
  | 'stale-timestamp'
  | 'bad-signature'
  /** The nonce was accepted before, inside the tolerance window: a replay. */
  | 'replayed'
  /** The verifier remembers `maxNonces` live nonces already; answer 503 so the sender retries later. */
  | 'nonce-store-full';

/** `nonce` and `idempotencyKey` are present when the request was signed with scheme v2. */
export type WebhookVerification =
  | { readonly ok: true; readonly timestamp: number; readonly nonce?: string; readonly idempotencyKey?: string }
  | { readonly ok: false; readonly reason: WebhookRejection };

/** Node's `IncomingHttpHeaders` (lower-case keys), a fetch `Headers`, or any plain record. */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

function header(h: HeaderSource, name: string): string | undefined {
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name)?.trim() ?? undefined;
  const rec = h as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : rec[key];
  return (Array.isArray(v) ? v.join(',') : (v as string | undefined))?.trim();
}

/** The hex values after `<scheme>=` in a comma-separated signature header. */
function candidates(signatures: string | undefined, scheme: 'v1' | 'v2'): string[] {
  return (signatures ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith(`${scheme}=`))
    .map((s) => s.slice(3));
}

/** Constant-time comparison of each well-formed candidate with the expected hex digest. */
function anyMatches(given: readonly string[], expectedHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'hex');
  return given.some((c) => /^[0-9a-f]{64}$/i.test(c) && timingSafeEqual(Buffer.from(c, 'hex'), expected));
}

const reject = (reason: WebhookRejection): WebhookVerification => ({ ok: false, reason });

function check(secret: string, headers: HeaderSource, body: string | Buffer, nowMs: number, toleranceSec: number, acceptV1: boolean): WebhookVerification {
  const ts = header(headers, TIMESTAMP_HEADER);
  if (ts === undefined || !/^\d{1,12}$/.test(ts)) return reject('missing-timestamp');
  const signatures = header(headers, SIGNATURE_HEADER);
  const v2 = candidates(signatures, 'v2');
  const v1 = acceptV1 ? candidates(signatures, 'v1') : [];
  if (v2.length === 0 && v1.length === 0) return reject('missing-signature');
  const timestamp = Number(ts);
  if (Math.abs(nowMs / 1000 - timestamp) > toleranceSec) return reject('stale-timestamp');
  if (v2.length === 0) return anyMatches(v1, webhookSignature(secret, ts, body)) ? { ok: true, timestamp } : reject('bad-signature');
  const nonce = header(headers, NONCE_HEADER);
  if (nonce === undefined || !NONCE_RE.test(nonce)) return reject('missing-nonce');
  const idempotencyKey = header(headers, IDEMPOTENCY_HEADER);
  if (idempotencyKey === undefined || !IDEMPOTENCY_KEY_RE.test(idempotencyKey)) return reject('missing-idempotency-key');
  if (!anyMatches(v2, webhookSignatureV2(secret, ts, { nonce, idempotencyKey }, body))) return reject('bad-signature');
  return { ok: true, timestamp, nonce, idempotencyKey };
}

/**
 * Checks one request's signature and timestamp, without memory: a replay inside the tolerance
 * window passes. Receivers should use {@link createWebhookVerifier}, which also refuses replays.
 * `body` must be the raw bytes received (not re-serialised JSON); `nowMs` is the receiver's clock.
 * A request carrying `v2=` signatures is judged by them alone (nonce and idempotency key signed);
 * otherwise `v1=` signatures are accepted. Several values separated by commas are accepted (any may
 * match), which lets a sender list signatures under an old and a new secret during a rotation.
 *
 * @throws RangeError when `toleranceSec` is not an integer from 5 to 3600 ({@link checkToleranceSec}).
 */
export function verifyWebhookSignature(secret: string, headers: HeaderSource, body: string | Buffer, nowMs: number, toleranceSec = DEFAULT_TOLERANCE_SEC): WebhookVerification {
  return check(secret, headers, body, nowMs, checkToleranceSec(toleranceSec), true);
}

export interface WebhookVerifierOptions {
  /** The shared secret (the value of the sink's `secretEnv` variable). */
  readonly secret: string;
  /** Largest accepted distance, in seconds, between a request's timestamp and `clock.now()`. Integer 5–3600. Default 300. */
  readonly toleranceSec?: number;
  /** The receiver's wall clock, ms since the epoch. */
  readonly clock: { now(): number };
  /**
   * Live nonces remembered at most. A nonce is forgotten once its request's timestamp has left the
   * window (the timestamp check refuses that request from then on); when this many are still live,
   * new requests are refused with `nonce-store-full` rather than forgetting one early. Size it above
   * requests per second × 2 × toleranceSec. Default 100,000.
   */
  readonly maxNonces?: number;
}

/** A receiver's verifier; one per receiving process (the nonce memory is in the process). */
export interface WebhookVerifier {
  /**
   * Accepts a request only if it is signed with scheme v2 under the secret, its timestamp is within
   * the tolerance, and its nonce was not accepted before; an accepted nonce is remembered. Answer
   * 401 to a rejection, except 503 to `nonce-store-full` (the sender retries with a new nonce).
   * Retries of one incident notice carry the same `idempotencyKey`: dedupe on it after acceptance.
   */
  verify(headers: HeaderSource, body: string | Buffer): WebhookVerification;
}

/** @throws RangeError for an empty secret or a bad `toleranceSec` or `maxNonces`. */
export function createWebhookVerifier(opts: WebhookVerifierOptions): WebhookVerifier {
  if (opts.secret === '') throw new RangeError('secret must not be empty');
  const toleranceSec = checkToleranceSec(opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC);
  const maxNonces = opts.maxNonces ?? 100_000;
  if (!Number.isInteger(maxNonces) || maxNonces < 1) throw new RangeError(`maxNonces must be a positive integer, got ${String(maxNonces)}`);
  // Nonce → the last ms at which its request's timestamp is still inside the window. Insertion order
  // is roughly expiry order (timestamps arrive roughly in order), so purging stops at the first live
  // entry; a full sweep runs only when the map is full.
  const live = new Map<string, number>();
  const purge = (now: number, all: boolean): void => {
    for (const [nonce, until] of live) {
      if (until >= now) {
        if (all) continue;
        break;
      }
      live.delete(nonce);
    }
  };
  return {
    verify(headers, body) {
      const now = opts.clock.now();
      const result = check(opts.secret, headers, body, now, toleranceSec, false);
      // Only authenticated nonces are remembered: forged requests cannot fill the memory.
      if (!result.ok || result.nonce === undefined) return result;
      purge(now, false);
      if (live.has(result.nonce)) return reject('replayed');
      if (live.size >= maxNonces) purge(now, true);
      if (live.size >= maxNonces) return reject('nonce-store-full');
      live.set(result.nonce, (result.timestamp + toleranceSec) * 1000);
      return result;
    },
  };
}

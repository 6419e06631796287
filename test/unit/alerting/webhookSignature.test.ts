/**
 * Webhook signature scheme v2 and the receiver's verifier: what is signed, the tolerance check
 * (NaN, negative and infinite tolerances refused), replay refusal by nonce with bounded, expiring
 * memory on an injected clock, and the idempotency key under the signature.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  checkToleranceSec,
  createWebhookVerifier,
  signWebhook,
  verifyWebhookSignature,
  type WebhookDelivery,
} from '../../../services/alerting/webhookSignature.ts';
import { webhookBody } from '../../../services/alerting/webhookSink.ts';
import { makeAlert } from '../../support/alerts.ts';

const SECRET = 's3cret';
const NOW = Date.parse('2026-01-05T12:00:00Z');
const body = webhookBody(makeAlert(), 'json');
const delivery = (nonce: string, idempotencyKey = 'tw-0123456789abcdef0123:1'): WebhookDelivery => ({ nonce, idempotencyKey });
const NONCE_A = '6f1c0d3e-2b7a-4c55-9d0e-8a1b2c3d4e5f';
const NONCE_B = 'b2d9e7a1-0c4f-4e86-a3b5-1f2e3d4c5b6a';

/** A receiver's clock the test moves by hand. */
const clockAt = (ms: number) => ({
  ms,
  now() {
    return this.ms;
  },
});

describe('webhook signature v2', () => {
  test('signs "v2\\n" + timestamp + nonce + idempotency key + body, newline-separated, and sends all four headers', () => {
    const headers = signWebhook(SECRET, body, NOW + 999, delivery(NONCE_A));
    const ts = String(NOW / 1000);
    const expected = createHmac('sha256', SECRET).update(`v2\n${ts}\n${NONCE_A}\ntw-0123456789abcdef0123:1\n${body}`).digest('hex');
    assert.deepEqual(headers, {
      'X-Tilewatch-Timestamp': ts,
      'X-Tilewatch-Nonce': NONCE_A,
      'Idempotency-Key': 'tw-0123456789abcdef0123:1',
      'X-Tilewatch-Signature': `v2=${expected}`,
    });
  });

  test('a modified idempotency key, nonce, timestamp or body fails the signature', () => {
    const headers = signWebhook(SECRET, body, NOW, delivery(NONCE_A));
    assert.deepEqual(verifyWebhookSignature(SECRET, headers, body, NOW), { ok: true, timestamp: NOW / 1000, nonce: NONCE_A, idempotencyKey: 'tw-0123456789abcdef0123:1' });
    const tampered: ReadonlyArray<[string, Record<string, string>]> = [
      ['idempotency key', { ...headers, 'Idempotency-Key': 'tw-0123456789abcdef0123:2' }],
      ['nonce', { ...headers, 'X-Tilewatch-Nonce': NONCE_B }],
      ['timestamp', { ...headers, 'X-Tilewatch-Timestamp': String(NOW / 1000 + 1) }],
    ];
    for (const [what, h] of tampered) {
      assert.deepEqual(verifyWebhookSignature(SECRET, h, body, NOW), { ok: false, reason: 'bad-signature' }, what);
      assert.deepEqual(createWebhookVerifier({ secret: SECRET, clock: clockAt(NOW) }).verify(h, body), { ok: false, reason: 'bad-signature' }, what);
    }
    assert.deepEqual(verifyWebhookSignature(SECRET, headers, body.replace('"version":1', '"version":2'), NOW), { ok: false, reason: 'bad-signature' });
    // The key cannot be dropped either: the v2 signature needs it.
    const { 'Idempotency-Key': _dropped, ...noKey } = headers;
    assert.deepEqual(verifyWebhookSignature(SECRET, noKey, body, NOW), { ok: false, reason: 'missing-idempotency-key' });
  });

  test('a nonce must be present and well-formed; a v2 request cannot be downgraded to v1', () => {
    const headers = signWebhook(SECRET, body, NOW, delivery(NONCE_A));
    const { 'X-Tilewatch-Nonce': _n, ...noNonce } = headers;
    assert.deepEqual(verifyWebhookSignature(SECRET, noNonce, body, NOW), { ok: false, reason: 'missing-nonce' });
    assert.deepEqual(verifyWebhookSignature(SECRET, { ...headers, 'X-Tilewatch-Nonce': 'short' }, body, NOW), { ok: false, reason: 'missing-nonce' });
    assert.deepEqual(verifyWebhookSignature(SECRET, { ...headers, 'X-Tilewatch-Nonce': [NONCE_A, NONCE_B] }, body, NOW), { ok: false, reason: 'missing-nonce' }, 'duplicated header');
    // A v1 signature added next to the captured v2 one cannot be made without the secret, and v2 is judged alone.
    const mixed = { ...headers, 'X-Tilewatch-Signature': `v1=${'0'.repeat(64)},${headers['X-Tilewatch-Signature']!.replace(/.$/, '0')}` };
    assert.equal(verifyWebhookSignature(SECRET, mixed, body, NOW).ok, false);
  });
});

describe('timestamp tolerance', () => {
  const bad = [Number.NaN, -300, 0, 4, 1.5, 3601, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

  test('NaN, negative, zero, fractional, out-of-range and infinite tolerances are refused, naming toleranceSec', () => {
    for (const tol of bad) assert.throws(() => checkToleranceSec(tol), new RangeError(`toleranceSec must be an integer from 5 to 3600, got ${String(tol)}`));
    assert.equal(checkToleranceSec(5), 5);
    assert.equal(checkToleranceSec(3600), 3600);
  });

  test('the verifiers refuse a bad tolerance instead of switching the timestamp check off', () => {
    // A request signed an hour ago: NaN used to let it through (`distance > NaN` is false).
    const old = signWebhook(SECRET, body, NOW - 3_600_000, delivery(NONCE_A));
    for (const tol of bad) {
      assert.throws(() => verifyWebhookSignature(SECRET, old, body, NOW, tol), RangeError, String(tol));
      assert.throws(() => createWebhookVerifier({ secret: SECRET, clock: clockAt(NOW), toleranceSec: tol }), RangeError, String(tol));
    }
    assert.deepEqual(verifyWebhookSignature(SECRET, old, body, NOW, 300), { ok: false, reason: 'stale-timestamp' });
    assert.throws(() => createWebhookVerifier({ secret: SECRET, clock: clockAt(NOW), maxNonces: 0 }), /maxNonces must be a positive integer, got 0/);
    assert.throws(() => createWebhookVerifier({ secret: '', clock: clockAt(NOW) }), /secret must not be empty/);
  });
});

describe('createWebhookVerifier', () => {
  test('a captured request replayed with the same headers and body is refused; a retry (new nonce, same key) is accepted', () => {
    const clock = clockAt(NOW);
    const v = createWebhookVerifier({ secret: SECRET, clock, toleranceSec: 300 });
    const captured = signWebhook(SECRET, body, NOW, delivery(NONCE_A));
    assert.equal(v.verify(captured, body).ok, true);
    clock.ms += 1000;
    assert.deepEqual(v.verify(captured, body), { ok: false, reason: 'replayed' });
    assert.deepEqual(v.verify(new Headers(captured), Buffer.from(body)), { ok: false, reason: 'replayed' }, 'whatever form the headers take');
    clock.ms += 299_000;
    assert.deepEqual(v.verify(captured, body), { ok: false, reason: 'replayed' }, 'last second of the window');
    clock.ms += 1000;
    assert.deepEqual(v.verify(captured, body), { ok: false, reason: 'stale-timestamp' }, 'after it');
    const retry = signWebhook(SECRET, body, clock.ms, delivery(NONCE_B));
    assert.deepEqual(v.verify(retry, body), { ok: true, timestamp: clock.ms / 1000, nonce: NONCE_B, idempotencyKey: 'tw-0123456789abcdef0123:1' });
  });

  test('a nonce from a clock ahead of the receiver is remembered until its own timestamp leaves the window', () => {
    const clock = clockAt(NOW);
    const v = createWebhookVerifier({ secret: SECRET, clock, toleranceSec: 60 });
    const ahead = signWebhook(SECRET, body, NOW + 50_000, delivery(NONCE_A));
    assert.equal(v.verify(ahead, body).ok, true);
    clock.ms = NOW + 109_000; // 70 s after acceptance, still within 60 s of the request's timestamp
    assert.deepEqual(v.verify(ahead, body), { ok: false, reason: 'replayed' });
  });

  test('only signed nonces are remembered: a forged request does not burn the nonce of the real one', () => {
    const v = createWebhookVerifier({ secret: SECRET, clock: clockAt(NOW) });
    const real = signWebhook(SECRET, body, NOW, delivery(NONCE_A));
    const forged = signWebhook('guessed', body, NOW, delivery(NONCE_A));
    assert.deepEqual(v.verify(forged, body), { ok: false, reason: 'bad-signature' });
    assert.equal(v.verify(real, body).ok, true);
  });

  test('v1 requests (no nonce) are refused: they cannot be told apart from their replays', () => {
    const v = createWebhookVerifier({ secret: SECRET, clock: clockAt(NOW) });
    const v1 = signWebhook(SECRET, body, NOW);
    assert.equal(verifyWebhookSignature(SECRET, v1, body, NOW).ok, true, 'the stateless check still reads v1');
    assert.deepEqual(v.verify(v1, body), { ok: false, reason: 'missing-signature' });
  });

  test('bounded memory: when full of live nonces it refuses (503, retried) rather than forgetting one early; expired ones make room', () => {
    const clock = clockAt(NOW);
    const v = createWebhookVerifier({ secret: SECRET, clock, toleranceSec: 60, maxNonces: 2 });
    const nonces = ['nonce-0000000000000001', 'nonce-0000000000000002', 'nonce-0000000000000003', 'nonce-0000000000000004'];
    const req = (i: number, at = clock.ms) => signWebhook(SECRET, body, at, delivery(nonces[i]!));
    assert.equal(v.verify(req(0), body).ok, true);
    clock.ms += 30_000;
    assert.equal(v.verify(req(1), body).ok, true);
    assert.deepEqual(v.verify(req(2), body), { ok: false, reason: 'nonce-store-full' });
    assert.deepEqual(v.verify(req(0, NOW), body), { ok: false, reason: 'replayed' }, 'nothing was forgotten');
    clock.ms = NOW + 61_000; // the first nonce's request is stale now, the second's is not
    assert.equal(v.verify(req(2), body).ok, true);
    assert.deepEqual(v.verify(req(3), body), { ok: false, reason: 'nonce-store-full' });
    assert.deepEqual(v.verify(req(1, NOW + 30_000), body), { ok: false, reason: 'replayed' });
  });
});

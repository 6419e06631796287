/**
 * The webhook sink with a fake fetch and clock: per-attempt timestamp and nonce under one signed
 * idempotency key; and what HTTP failures say (webhook and Alertmanager sinks, httpPost): the URL
 * by scheme, host and port only, no path, query, token or secret, even when the receiver echoes them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAlertmanagerSink } from '../../../services/alerting/alertmanagerSink.ts';
import { postJson, redact } from '../../../services/alerting/httpPost.ts';
import { createWebhookSink } from '../../../services/alerting/webhookSink.ts';
import { createWebhookVerifier, type WebhookVerification } from '../../../services/alerting/webhookSignature.ts';
import { makeAlert } from '../../support/alerts.ts';
import { FakeClock } from '../../support/fakeClock.ts';

const SECRET = 'whsec-unit-5f0e1d2c3b4a';
const PATH_TOKEN = 'T0KEN-in-the-path-9f8e7d6c';
const QUERY_TOKEN = 'query-secret-1a2b3c4d';
const URL_WITH_TOKENS = `https://hooks.example:8443/services/${PATH_TOKEN}?token=${QUERY_TOKEN}`;

interface Sent {
  readonly url: string;
  readonly headers: Headers;
  readonly body: string;
}

/** A fetch that records each request and answers `respond(n)` (1-based) with the given status and text. */
function fakeFetch(respond: (n: number, req: Sent) => { status: number; text?: string } | Error) {
  const sent: Sent[] = [];
  const fn = (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = { url: String(url), headers: new Headers(init?.headers), body: String(init?.body) };
    sent.push(req);
    const r = respond(sent.length, req);
    if (r instanceof Error) return Promise.reject(r);
    return Promise.resolve(new Response(r.text ?? null, { status: r.status }));
  };
  return { fetch: fn as typeof fetch, sent };
}

const rejection = async (p: Promise<unknown>): Promise<Error> => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
};

describe('webhook sink attempts', () => {
  test('every attempt is signed afresh (timestamp and nonce); all share the signed idempotency key', async () => {
    const clock = new FakeClock();
    const { fetch, sent } = fakeFetch((n) => ({ status: n < 3 ? 503 : 200 }));
    const nonces = ['attempt-nonce-000001', 'attempt-nonce-000002', 'attempt-nonce-000003'];
    const sink = createWebhookSink({ url: 'https://soc.example/hook', secret: SECRET, clock, fetch, nonce: () => nonces[sent.length]! });
    const alert = makeAlert({ version: 4 });
    const receiver = createWebhookVerifier({ secret: SECRET, clock, toleranceSec: 60 });
    const verdicts: WebhookVerification[] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await clock.advance(45_000); // each retry would be stale against the first timestamp by the third
      await sink.deliver(alert).catch(() => undefined);
      verdicts.push(receiver.verify(sent[i]!.headers, sent[i]!.body));
    }
    assert.deepEqual(
      verdicts,
      nonces.map((nonce, i) => ({ ok: true, timestamp: clock.now() / 1000 - (2 - i) * 45, nonce, idempotencyKey: 'ti-0123456789abcdef0123:opened:tw-0123456789abcdef0123:4' })),
    );
    assert.deepEqual(receiver.verify(sent[2]!.headers, sent[2]!.body), { ok: false, reason: 'replayed' });
  });

  test('the default nonce differs on every attempt', async () => {
    const { fetch, sent } = fakeFetch(() => ({ status: 200 }));
    const sink = createWebhookSink({ url: 'https://soc.example/hook', secret: SECRET, clock: new FakeClock(), fetch });
    for (let i = 0; i < 50; i++) await sink.deliver(makeAlert());
    const nonces = new Set(sent.map((s) => s.headers.get('x-tilewatch-nonce')));
    assert.equal(nonces.size, 50);
    for (const n of nonces) assert.match(String(n), /^[0-9a-f-]{36}$/);
  });
});

describe('failure messages name scheme, host and port only', () => {
  test('redact keeps neither path, query nor credentials', () => {
    assert.equal(redact(URL_WITH_TOKENS), 'https://hooks.example:8443');
    assert.equal(redact('http://user:pass@127.0.0.1:9093/am/api/v2/alerts'), 'http://127.0.0.1:9093');
    assert.equal(redact('not a url'), '<invalid url>');
  });

  test('a webhook receiver echoing the path and query in a 404 or 503 does not get them into the error', async () => {
    const echo = (n: number, req: Sent) => {
      const u = new URL(req.url);
      return { status: n === 1 ? 503 : 404, text: `Cannot POST ${u.pathname}${u.search} (token ${decodeURIComponent(PATH_TOKEN)}, ${u.searchParams.get('token')})` };
    };
    const { fetch } = fakeFetch(echo);
    const sink = createWebhookSink({ url: URL_WITH_TOKENS, secret: SECRET, clock: new FakeClock(), fetch });
    for (const [status, name] of [[503, 'RetryableHttpError'], [404, 'PermanentSinkError']] as const) {
      const err = await rejection(sink.deliver(makeAlert()));
      assert.equal(err.name, name);
      assert.match(err.message, new RegExp(`^POST https://hooks\\.example:8443: HTTP ${status} Cannot POST …`));
      for (const s of [PATH_TOKEN, QUERY_TOKEN, 'services/', SECRET]) assert.ok(!err.message.includes(s), `${s} in ${err.message}`);
    }
  });

  test('a network error is named by its code, not by the fetch message (which can quote the URL)', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const badUrl = new TypeError(`Failed to parse URL from ${URL_WITH_TOKENS}`);
    const { fetch } = fakeFetch((n) => (n === 1 ? refused : badUrl));
    const sink = createWebhookSink({ url: URL_WITH_TOKENS, secret: SECRET, clock: new FakeClock(), fetch });
    assert.equal((await rejection(sink.deliver(makeAlert()))).message, 'POST https://hooks.example:8443: network error (ECONNREFUSED)');
    assert.equal((await rejection(sink.deliver(makeAlert()))).message, 'POST https://hooks.example:8443: network error (TypeError)');
  });

  test('Alertmanager behind a proxy: neither the bearer token nor the base path comes back in the error', async () => {
    const token = 'am-bearer-7c6b5a4d3e2f';
    const { fetch, sent } = fakeFetch((_n, req) => ({ status: 400, text: `rejected ${req.headers.get('authorization') ?? ''} at ${new URL(req.url).pathname}` }));
    const sink = createAlertmanagerSink({ urls: [`https://proxy.example/am/${PATH_TOKEN}`], bearerToken: token, clock: new FakeClock(), fetch });
    const err = await rejection(sink.deliver(makeAlert()));
    assert.equal(sent[0]!.headers.get('authorization'), `Bearer ${token}`);
    assert.equal(err.message, 'POST https://proxy.example: HTTP 400 rejected … at …');
  });

  test('at most 512 characters of the body, scrubbed before the cut', async () => {
    const { fetch } = fakeFetch(() => ({ status: 500, text: `${'x'.repeat(495)}/services/${PATH_TOKEN}${'y'.repeat(600)}` }));
    const err = await rejection(postJson(fetch, URL_WITH_TOKENS, '{}', {}, 1000));
    const excerpt = err.message.slice('POST https://hooks.example:8443: HTTP 500 '.length);
    assert.equal(excerpt.length, 512);
    assert.ok(!excerpt.includes('T0KEN'), excerpt);
  });
});

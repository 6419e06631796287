/**
 * The webhook sink against a real HTTP server on loopback (node:http): the server verifies the
 * HMAC signature and timestamp of every request the way a receiver should, fails the first
 * attempts, and the dispatcher retries with backoff until it accepts. Also: 429 retried, other 4xx
 * permanent, timeouts and refused connections retried, redirects not followed, Slack format.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { systemClock } from '../../services/alerting/clock.ts';
import { createSinkDispatcher } from '../../services/alerting/dispatcher.ts';
import { createWebhookSink } from '../../services/alerting/webhookSink.ts';
import { verifyWebhookSignature } from '../../services/alerting/webhookSignature.ts';
import type { Alert } from '../../services/core/alert.ts';
import { makeAlert } from '../support/alerts.ts';
import { freePort, waitFor } from '../support/kafka.ts';

const SECRET = 'whsec-test-0123456789';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly verified: ReturnType<typeof verifyWebhookSignature>;
}

/** A receiver that verifies every request and answers with `respond(n)` for the n-th request (1-based). */
async function receiver(t: TestContext, respond: (n: number) => number | 'hang'): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = verifyWebhookSignature(SECRET, req.headers, body, Date.now(), 300);
      received.push({ headers: req.headers, body, verified });
      const status = verified.ok ? respond(received.length) : 401;
      if (status === 'hang') return; // never answers: the sink's timeout must fire
      if (status >= 300 && status < 400) res.setHeader('location', 'http://127.0.0.1:1/elsewhere');
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : `status ${status}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  t.after(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/tilewatch`, received };
}

function dispatcherFor(url: string, opts: { format?: 'json' | 'slack'; timeoutMs?: number; maxAttempts?: number } = {}) {
  const sink = createWebhookSink({ url, secret: SECRET, clock: systemClock, timeoutMs: opts.timeoutMs ?? 2000, ...(opts.format ? { format: opts.format } : {}) });
  return createSinkDispatcher({
    sinks: [sink],
    logger: pino({ level: 'silent' }),
    retry: { baseDelayMs: 20, maxDelayMs: 100, maxAttempts: opts.maxAttempts ?? 6 },
  });
}

const settled = (d: ReturnType<typeof dispatcherFor>, n: number) => () => {
  const s = d.stats().sinks[0]!;
  return s.delivered + s.dropped.rejected + s.dropped.retries_exhausted >= n;
};

describe('webhook sink (real HTTP server)', () => {
  test('503 twice, then accepted: three signed attempts with one idempotency key and the alert as body', async (t) => {
    const { url, received } = await receiver(t, (n) => (n <= 2 ? 503 : 200));
    const d = dispatcherFor(url);
    const alert: Alert = makeAlert({ version: 2 });
    d.push(alert);
    await waitFor(settled(d, 1), 5000, 'delivery');
    assert.equal(received.length, 3);
    for (const r of received) {
      assert.equal(r.verified.ok, true, JSON.stringify(r.verified));
      assert.equal(r.headers['idempotency-key'], `${alert.id}:2`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.match(String(r.headers['x-tilewatch-signature']), /^v1=[0-9a-f]{64}$/);
      assert.deepEqual(JSON.parse(r.body), alert);
    }
    const s = d.stats().sinks[0]!;
    assert.equal(s.delivered, 1);
    assert.equal(s.failedAttempts, 2);
    assert.deepEqual(await d.drain(1000), { drained: true, abandoned: 0 });
  });

  test('429 is retried; 400 is a permanent failure (one attempt, counted)', async (t) => {
    const { url, received } = await receiver(t, (n) => (n === 1 ? 429 : n === 2 ? 200 : 400));
    const d = dispatcherFor(url);
    d.push(makeAlert({ id: 'tw-aaaaaaaaaaaaaaaaaaaa' }));
    d.push(makeAlert({ id: 'tw-bbbbbbbbbbbbbbbbbbbb' }));
    await waitFor(settled(d, 2), 5000, 'both settled');
    assert.deepEqual(
      received.map((r) => r.headers['idempotency-key']),
      ['tw-aaaaaaaaaaaaaaaaaaaa:1', 'tw-aaaaaaaaaaaaaaaaaaaa:1', 'tw-bbbbbbbbbbbbbbbbbbbb:1'],
    );
    const s = d.stats().sinks[0]!;
    assert.equal(s.delivered, 1);
    assert.equal(s.dropped.rejected, 1);
    assert.equal(s.failedAttempts, 2);
    await d.drain(1000);
  });

  test('a redirect is not followed (the signed request goes only where configured)', async (t) => {
    const { url, received } = await receiver(t, () => 302);
    const d = dispatcherFor(url);
    d.push(makeAlert());
    await waitFor(settled(d, 1), 5000, 'settled');
    assert.equal(received.length, 1);
    assert.equal(d.stats().sinks[0]!.dropped.rejected, 1);
    await d.drain(1000);
  });

  test('a receiver that does not answer times out and is retried', async (t) => {
    const { url, received } = await receiver(t, (n) => (n === 1 ? 'hang' : 200));
    const d = dispatcherFor(url, { timeoutMs: 300 });
    const started = Date.now();
    d.push(makeAlert());
    await waitFor(settled(d, 1), 5000, 'delivery');
    assert.equal(received.length, 2);
    assert.ok(Date.now() - started >= 300, 'waited for the timeout');
    assert.equal(d.stats().sinks[0]!.delivered, 1);
    await d.drain(1000);
  });

  test('refused connections are retried until maxAttempts, then given up', async () => {
    const port = await freePort();
    const d = dispatcherFor(`http://127.0.0.1:${port}/nobody`, { maxAttempts: 3 });
    d.push(makeAlert());
    await waitFor(settled(d, 1), 5000, 'given up');
    const s = d.stats().sinks[0]!;
    assert.equal(s.failedAttempts, 3);
    assert.equal(s.dropped.retries_exhausted, 1);
    await d.drain(1000);
  });

  test('Slack-compatible format: { text } with the one-line summary, still signed', async (t) => {
    const { url, received } = await receiver(t, () => 200);
    const d = dispatcherFor(url, { format: 'slack' });
    d.push(makeAlert({ severity: 'critical' }));
    await waitFor(settled(d, 1), 5000, 'delivery');
    assert.equal(received[0]!.verified.ok, true);
    const body = JSON.parse(received[0]!.body) as { text: string };
    assert.deepEqual(Object.keys(body), ['text']);
    assert.match(body.text, /^CRITICAL bulk-harvest by 203\.0\.113\.7: rijks-SK-C-5: 96 % at full resolution/);
    await d.drain(1000);
  });
});

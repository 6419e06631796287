/**
 * The webhook sink against a real HTTP server on loopback (node:http): the server verifies every
 * request with the shipped verifier (signature, timestamp, nonce not seen before) the way a
 * receiver should, fails the first attempts, and the dispatcher retries with backoff until it
 * accepts. Also: a captured request replayed byte for byte is refused; 429 retried, other 4xx
 * permanent, timeouts and refused connections retried, redirects not followed, Slack format; the
 * log of a failing delivery holds neither the secret nor the URL's path or query; a bad
 * `toleranceSec` stops the CLI with exit code 2.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import { pino, type Logger } from 'pino';
import { systemClock } from '../../services/runtime/systemClock.ts';
import { createSinkDispatcher } from '../../services/alerting/dispatcher.ts';
import { createWebhookSink } from '../../services/alerting/webhookSink.ts';
import { createWebhookVerifier, type WebhookVerification } from '../../services/alerting/webhookSignature.ts';
import type { Alert } from '../../services/core/alert.ts';
import { makeAlert } from '../support/alerts.ts';
import { describeRun, runCli, tempDir } from '../support/cli.ts';
import { freePort, waitFor } from '../support/kafka.ts';

const SECRET = 'whsec-test-0123456789';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly verified: WebhookVerification;
}

/**
 * A receiver that verifies every request with one {@link createWebhookVerifier} and answers 401 to
 * a rejection, otherwise `respond(n)` for the n-th request (1-based); `text` is the response body.
 */
async function receiver(
  t: TestContext,
  respond: (n: number) => number | 'hang',
  opts: { path?: string; text?: (status: number, path: string) => string } = {},
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const verifier = createWebhookVerifier({ secret: SECRET, clock: systemClock, toleranceSec: 300 });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = verifier.verify(req.headers, body);
      received.push({ headers: req.headers, body, verified });
      const status = verified.ok ? respond(received.length) : 401;
      if (status === 'hang') return; // never answers: the sink's timeout must fire
      if (status >= 300 && status < 400) res.setHeader('location', 'http://127.0.0.1:1/elsewhere');
      const text = opts.text?.(status, req.url ?? '') ?? (status === 200 ? 'ok' : verified.ok ? `status ${status}` : verified.reason);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  t.after(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${opts.path ?? '/hooks/tilewatch'}`, received };
}

function dispatcherFor(url: string, opts: { format?: 'json' | 'slack'; timeoutMs?: number; maxAttempts?: number; logger?: Logger } = {}) {
  const sink = createWebhookSink({ url, secret: SECRET, clock: systemClock, timeoutMs: opts.timeoutMs ?? 2000, ...(opts.format ? { format: opts.format } : {}) });
  return createSinkDispatcher({
    sinks: [sink],
    logger: opts.logger ?? pino({ level: 'silent' }),
    retry: { baseDelayMs: 20, maxDelayMs: 100, maxAttempts: opts.maxAttempts ?? 6 },
  });
}

const settled = (d: ReturnType<typeof dispatcherFor>, n: number) => () => {
  const s = d.stats().sinks[0]!;
  return s.delivered + s.dropped.rejected >= n;
};

describe('webhook sink (real HTTP server)', () => {
  test('503 twice, then accepted: three attempts, each with its own signed nonce, one signed idempotency key, the alert as body', async (t) => {
    const { url, received } = await receiver(t, (n) => (n <= 2 ? 503 : 200));
    const d = dispatcherFor(url);
    const alert: Alert = makeAlert({ version: 2 });
    d.push(alert);
    await waitFor(settled(d, 1), 5000, 'delivery');
    assert.equal(received.length, 3);
    for (const r of received) {
      assert.equal(r.verified.ok, true, JSON.stringify(r.verified));
      assert.equal(r.verified.ok && r.verified.idempotencyKey, `ti-0123456789abcdef0123:opened:${alert.id}:2`);
      assert.equal(r.headers['idempotency-key'], `ti-0123456789abcdef0123:opened:${alert.id}:2`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.match(String(r.headers['x-tilewatch-signature']), /^v2=[0-9a-f]{64}$/);
      assert.deepEqual(JSON.parse(r.body), { ...alert, incident: { id: 'ti-0123456789abcdef0123', severity: 'high', status: 'open', alerts: 1, notice: 'opened' } });
    }
    assert.equal(new Set(received.map((r) => r.headers['x-tilewatch-nonce'])).size, 3, 'a nonce per attempt');
    const s = d.stats().sinks[0]!;
    assert.equal(s.delivered, 1);
    assert.equal(s.failedAttempts, 2);
    assert.deepEqual(await d.drain(1000), { drained: true, left: 0, leftBySink: {} });
  });

  test('incident notices: the body carries the incident, the key names incident, notice and alert version; a deduping receiver handles each notice once', async (t) => {
    // The receiver fails the first attempt of the escalation, so it arrives twice under one key.
    let escalations = 0;
    const { url, received } = await receiver(t, (n) => (n === 2 && ++escalations === 1 ? 503 : 200));
    const d = dispatcherFor(url);
    const incidentId = 'ti-00000000000000000c01';
    const incident = (severity: Alert['severity'], notice: 'opened' | 'escalated' | 'resolved', alerts: number) =>
      ({ id: incidentId, severity, status: notice === 'resolved' ? 'resolved' : 'open', alerts, notice }) as const;
    const notices: Alert[] = [
      makeAlert({ id: 'tw-00000000000000000c01', kind: 'low-and-slow', severity: 'medium', incident: incident('medium', 'opened', 1) }),
      makeAlert({ id: 'tw-00000000000000000c02', severity: 'critical', version: 3, incident: incident('critical', 'escalated', 2) }),
      makeAlert({ id: 'tw-00000000000000000c01', kind: 'low-and-slow', severity: 'medium', version: 4, status: 'resolved', resolvedAt: '2026-01-05T13:00:00.000Z', incident: incident('critical', 'resolved', 2) }),
    ];
    for (const a of notices) d.push(a);
    await waitFor(settled(d, 3), 5000, 'three notices delivered');
    assert.ok(received.every((r) => r.verified.ok));
    const keys = received.map((r) => String(r.headers['idempotency-key']));
    assert.deepEqual(keys, [
      `${incidentId}:opened:tw-00000000000000000c01:1`,
      `${incidentId}:escalated:tw-00000000000000000c02:3`,
      `${incidentId}:escalated:tw-00000000000000000c02:3`,
      `${incidentId}:resolved:tw-00000000000000000c01:4`,
    ]);
    // What a receiver does: keep the first body per key.
    const handled = new Map<string, { incident: unknown; id: string }>();
    for (const r of received) if (!handled.has(String(r.headers['idempotency-key']))) handled.set(String(r.headers['idempotency-key']), JSON.parse(r.body) as { incident: unknown; id: string });
    assert.deepEqual(
      [...handled.values()].map((b) => [b.id, b.incident]),
      notices.map((a) => [a.id, a.incident]),
      'each notice once, each naming its incident (id, severity, status, member count, notice) alongside the alert behind it',
    );
    assert.deepEqual(JSON.parse(received[1]!.body), notices[1]);
    await d.drain(1000);
  });

  test('a captured request replayed byte for byte (same headers, same body) is refused by the verifier', async (t) => {
    const { url, received } = await receiver(t, () => 200);
    const d = dispatcherFor(url);
    d.push(makeAlert());
    await waitFor(settled(d, 1), 5000, 'delivery');
    const captured = received[0]!;
    assert.equal(captured.verified.ok, true);
    const headers = Object.fromEntries(
      ['content-type', 'idempotency-key', 'x-tilewatch-timestamp', 'x-tilewatch-nonce', 'x-tilewatch-signature'].map((h) => [h, String(captured.headers[h])]),
    );
    const replay = await fetch(url, { method: 'POST', headers, body: captured.body });
    assert.equal(replay.status, 401);
    assert.equal(await replay.text(), 'replayed');
    assert.deepEqual(received[1]!.verified, { ok: false, reason: 'replayed' });
    // The same captured request with another idempotency key (to slip past the receiver's dedupe) fails the signature.
    const rekeyed = await fetch(url, { method: 'POST', headers: { ...headers, 'idempotency-key': 'tw-0123456789abcdef0123:99' }, body: captured.body });
    assert.equal(await rekeyed.text(), 'bad-signature');
    await d.drain(1000);
  });

  test('429 is retried; 400 is a permanent failure (one attempt, counted)', async (t) => {
    const { url, received } = await receiver(t, (n) => (n === 1 ? 429 : n === 2 ? 200 : 400));
    const d = dispatcherFor(url);
    d.push(makeAlert({ id: 'tw-aaaaaaaaaaaaaaaaaaaa' }));
    d.push(makeAlert({ id: 'tw-bbbbbbbbbbbbbbbbbbbb' }));
    await waitFor(settled(d, 2), 5000, 'both settled');
    assert.deepEqual(
      received.map((r) => r.headers['idempotency-key']),
      ['ti-aaaaaaaaaaaaaaaaaaaa:opened:tw-aaaaaaaaaaaaaaaaaaaa:1', 'ti-aaaaaaaaaaaaaaaaaaaa:opened:tw-aaaaaaaaaaaaaaaaaaaa:1', 'ti-bbbbbbbbbbbbbbbbbbbb:opened:tw-bbbbbbbbbbbbbbbbbbbb:1'],
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

  test('refused connections are retried past maxAttempts (never given up); at shutdown the version is left for the next start', async () => {
    const port = await freePort();
    const d = dispatcherFor(`http://127.0.0.1:${port}/nobody`, { maxAttempts: 3 });
    d.push(makeAlert());
    await waitFor(() => d.stats().sinks[0]!.failedAttempts >= 5, 5000, 'five refused attempts');
    const s = d.stats().sinks[0]!;
    assert.equal(s.delivered, 0);
    assert.deepEqual(s.dropped, { rejected: 0, missing: 0 });
    assert.equal(s.backlog, 1);
    assert.deepEqual(await d.drain(0), { drained: false, left: 1, leftBySink: { webhook: 1 } });
  });

  test('Slack-compatible format: { text } with the notice summary, still signed', async (t) => {
    const { url, received } = await receiver(t, () => 200);
    const d = dispatcherFor(url, { format: 'slack' });
    d.push(makeAlert({ severity: 'critical' }));
    await waitFor(settled(d, 1), 5000, 'delivery');
    assert.equal(received[0]!.verified.ok, true);
    const body = JSON.parse(received[0]!.body) as { text: string };
    assert.deepEqual(Object.keys(body), ['text']);
    assert.match(body.text, /^incident ti-0123456789abcdef0123 opened \(critical\), 1 alert: CRITICAL bulk-harvest by 203\.0\.113\.7: rijks-SK-C-5: 96 % at full resolution/);
    await d.drain(1000);
  });

  test('a failing delivery logs neither the secret nor the URL path or query, even when the receiver echoes them', async (t) => {
    const pathToken = 'T0KEN-path-4c1d9a77e0b2';
    const queryToken = 'q-secret-81f3aa0c5d6e';
    // Like many frameworks' 404 page: the path (and query) come back in the body.
    const { url, received } = await receiver(t, (n) => (n === 1 ? 503 : 404), { path: `/hooks/${pathToken}?token=${queryToken}`, text: (status, path) => `Cannot POST ${path} (${status})` });
    const lines: string[] = [];
    const sinkLog = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
        done();
      },
    });
    const d = dispatcherFor(url, { logger: pino({ level: 'debug' }, sinkLog), maxAttempts: 3 });
    d.push(makeAlert());
    await waitFor(settled(d, 1), 5000, 'given up');
    const refusedPort = await freePort();
    const d2 = dispatcherFor(`http://127.0.0.1:${refusedPort}/hooks/${pathToken}?token=${queryToken}`, { logger: pino({ level: 'debug' }, sinkLog), maxAttempts: 2 });
    d2.push(makeAlert());
    await waitFor(() => d2.stats().sinks[0]!.failedAttempts >= 2, 5000, 'refused twice');
    await d.drain(1000);
    await d2.drain(0);

    assert.equal(received.length, 2, '503, then 404 (permanent)');
    const text = lines.join('\n');
    for (const leak of [SECRET, pathToken, queryToken, '/hooks']) assert.ok(!text.includes(leak), `${leak} in the log:\n${text}`);
    const entries = lines.map((l) => JSON.parse(l) as { msg: string; err?: { message: string } }).filter((e) => e.err !== undefined);
    assert.deepEqual(
      entries.slice(0, 4).map((e) => [e.msg, e.err?.message]),
      [
        ['alert delivery failed; retrying', `POST ${new URL(url).origin}: HTTP 503 Cannot POST … (503)`],
        ['alert version not delivered', `POST ${new URL(url).origin}: HTTP 404 Cannot POST … (404)`],
        ['alert delivery failed; retrying', `POST http://127.0.0.1:${refusedPort}: network error (ECONNREFUSED)`],
        ['alert sink still failing; the version stays in the outbox and is retried', `POST http://127.0.0.1:${refusedPort}: network error (ECONNREFUSED)`],
      ],
    );
  });

  test('a bad toleranceSec in the config file stops the CLI with exit code 2, naming the key', async (t) => {
    const dir = tempDir(t, 'webhook-tolerance');
    const config = join(dir, 'tilewatch.json');
    process.env.TW_TEST_WEBHOOK_SECRET = 'whsec-cli'; // the CLI child inherits it; the secret is resolved before toleranceSec is read
    t.after(() => delete process.env.TW_TEST_WEBHOOK_SECRET);
    // 1e400 is valid JSON and parses to Infinity.
    writeFileSync(config, '{ "sinks": { "webhooks": [ { "url": "https://soc.example/hook", "secretEnv": "TW_TEST_WEBHOOK_SECRET", "toleranceSec": 1e400 } ] } }');
    const r = await runCli(['migrate', '--data', join(dir, 'data'), '--config', config]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /sinks\.webhooks\[0\]\.toleranceSec: must be an integer from 5 to 3600, got Infinity/);
  });
});

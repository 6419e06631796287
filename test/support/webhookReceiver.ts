/**
 * A webhook receiver on loopback for the sink tests: verifies every request with the shipped verifier
 * (signature, timestamp, nonce not seen before) as a real receiver must, answers 401 to a refusal and
 * 200 otherwise, and keeps the alert versions it accepted.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { systemClock } from '../../services/runtime/systemClock.ts';
import { createWebhookVerifier } from '../../services/alerting/webhookSignature.ts';
import type { Alert } from '../../services/core/alert.ts';

export interface VerifiedReceiver {
  readonly url: string;
  /** Bodies accepted, in arrival order (the alert version with its incident). */
  readonly accepted: Alert[];
  /** Reasons of the requests refused. */
  readonly refused: string[];
}

export async function verifiedReceiver(t: TestContext, secret: string, path = '/hooks/tilewatch'): Promise<VerifiedReceiver> {
  const accepted: Alert[] = [];
  const refused: string[] = [];
  const verifier = createWebhookVerifier({ secret, clock: systemClock, toleranceSec: 300 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const v = verifier.verify(req.headers, body);
      if (!v.ok) {
        refused.push(v.reason);
        res.writeHead(401).end(v.reason);
        return;
      }
      accepted.push(JSON.parse(body) as Alert);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  t.after(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, accepted, refused };
}

/** What a {@link switchableReceiver} does with the next request. */
export type ReceiverMode = 'up' | 'down' | 'hang';

export interface SwitchableReceiver {
  readonly url: string;
  /** 'up': verify and answer 200 (401 to a refusal); 'down': 503 to everything; 'hang': hold the request unanswered. */
  mode: ReceiverMode;
  /** Idempotency-Key of every request that arrived, in arrival order, whatever the answer. */
  readonly attempts: string[];
  /** Accepted (verified, answered 200), in arrival order, with the request's Idempotency-Key. */
  readonly accepted: Array<{ readonly key: string; readonly alert: Alert }>;
  /** Reasons of the requests refused by the verifier. */
  readonly refused: string[];
  /** Requests held while hanging (their sockets are destroyed when the test ends). */
  readonly held: () => number;
}

/**
 * A webhook receiver on loopback that can be taken down (503) or made to hang, for the outbox
 * tests: it verifies every request it accepts with the shipped verifier, as a real receiver must.
 */
export async function switchableReceiver(t: TestContext, secret: string, toleranceSec = 300): Promise<SwitchableReceiver> {
  const verifier = createWebhookVerifier({ secret, clock: systemClock, toleranceSec });
  let held = 0;
  const r: Omit<SwitchableReceiver, 'url'> = { mode: 'up', attempts: [], accepted: [], refused: [], held: () => held };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'] ?? '');
      r.attempts.push(key);
      if (r.mode === 'hang') {
        held++;
        return;
      }
      if (r.mode === 'down') {
        res.writeHead(503).end('down for maintenance');
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const v = verifier.verify(req.headers, body);
      if (!v.ok) {
        r.refused.push(v.reason);
        res.writeHead(401).end(v.reason);
        return;
      }
      r.accepted.push({ key, alert: JSON.parse(body) as Alert });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => new Promise<void>((done) => server.close(() => done())));
  t.after(() => server.closeAllConnections());
  return Object.assign(r, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/outbox` });
}

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

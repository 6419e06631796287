import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.ts';

export interface Health {
  /** Ready to do its job: consuming and the store reachable. */
  ready(): boolean;
  /** Why not ready, for /readyz. */
  reason(): string;
}

/**
 * /metrics (Prometheus), /healthz (the process answers) and /readyz (consuming, store writable).
 * These routes expose no personal data; the incident API with authentication comes separately.
 */
export function buildOpsApp(metrics: Metrics, health: Health): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (health.ready()) return { status: 'ready' };
    return reply.code(503).send({ status: 'not ready', reason: health.reason() });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app;
}

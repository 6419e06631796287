import type { FastifyInstance } from 'fastify';
import { summary } from '../../incidents/summary.ts';
import { ping } from '../../store/sql.ts';
import type { ApiDeps } from '../deps.ts';
import { responses, SummarySchema } from '../schemas.ts';

/** Health (process answers), readiness (store answers), metrics, who-am-I, viewer aggregates. */
export function registerOpsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const status = { type: 'object', properties: { status: { type: 'string' }, reason: { type: 'string' } } };
  app.get('/healthz', { config: { access: 'public', rateLimit: 'exempt' }, schema: { tags: ['ops'], response: { 200: status } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { access: 'public', rateLimit: 'exempt' }, schema: { tags: ['ops'], response: { 200: status, 503: status } } }, async (_req, reply) => {
    try {
      await ping(deps.store.client);
    } catch {
      return reply.code(503).send({ status: 'not ready', reason: 'store unavailable' });
    }
    const extra = deps.ready?.();
    if (extra && !extra.ready) return reply.code(503).send({ status: 'not ready', reason: extra.reason });
    return { status: 'ready' };
  });
  if (deps.metrics) {
    const m = deps.metrics;
    app.get('/metrics', { config: { access: 'viewer' }, schema: { tags: ['ops'], security: [{ bearer: [] }], response: responses({ type: 'string' }) } }, async (_req, reply) => {
      reply.header('content-type', m.contentType);
      return m.metrics();
    });
  }
  app.get(
    '/api/v1/me',
    {
      config: { access: 'viewer' },
      schema: { tags: ['ops'], security: [{ bearer: [] }], response: responses({ type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } } }) },
    },
    async (req) => req.principal,
  );
  app.get('/api/v1/summary', { config: { access: 'viewer' }, schema: { tags: ['ops'], security: [{ bearer: [] }], response: responses(SummarySchema) } }, async () =>
    summary(deps.store, deps.clock.now()),
  );
}

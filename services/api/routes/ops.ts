import { summary } from '../../incidents/summary.ts';
import { registerOpsEndpoints, type Readiness } from '../../observability/opsEndpoints.ts';
import { ping } from '../../store/sql.ts';
import type { ApiDeps } from '../deps.ts';
import { responses, SummarySchema } from '../schemas.ts';
import type { ApiApp } from '../types.ts';

/**
 * Health (process answers), readiness (store answers, and whatever else the process adds), metrics
 * (viewer role), who-am-I, viewer aggregates. The first three are the ops endpoints every process
 * serves (observability/opsEndpoints.ts); here they carry the API's access rules.
 */
export function registerOpsRoutes(app: ApiApp, deps: ApiDeps): void {
  const ready = async (): Promise<Readiness> => {
    try {
      await ping(deps.store.client);
    } catch {
      return { ready: false, reason: 'store unavailable' };
    }
    return deps.ready?.() ?? { ready: true, reason: '' };
  };
  const open = () => ({ config: { access: 'public', rateLimit: 'exempt' }, schema: { tags: ['ops'] } }) as const;
  registerOpsEndpoints(app, { ready, ...(deps.metrics ? { metrics: deps.metrics } : {}) }, {
    healthz: open(),
    readyz: open(),
    metrics: { config: { access: 'viewer' }, schema: { tags: ['ops'], security: [{ bearer: [] }], response: responses({ type: 'string' }) } },
  });
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

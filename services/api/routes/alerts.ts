import type { FastifyRequest } from 'fastify';
import { getAlert, listAlerts, recordAlertAction, alertExists } from '../../incidents/alerts.ts';
import { parseAlertId, parseClientIp, parseLimit, parseRange, parseTime } from '../../incidents/inputs.ts';
import { roleAtLeast } from '../../incidents/roles.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { AlertDetailSchema, alertIdText, AlertListQuery, AlertListSchema, ACTION_ROUTES, actionBody, responses } from '../schemas.ts';
import { sentField, type ApiApp } from '../types.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: alertIdText } } as const;

/** Alerts: list (viewers see no client data), get, and the analyst actions written to alert_actions. */
export function registerAlertRoutes(app: ApiApp, deps: ApiDeps): void {
  const sec = [{ bearer: [] }];
  const clientFilter = (req: FastifyRequest) => {
    const c = sentField(req.query, 'client');
    return typeof c === 'string' ? { type: 'ip' as const, value: c } : null;
  };
  app.get('/api/v1/alerts', { config: { access: 'viewer', audit: { action: 'alerts.by-client', target: clientFilter } }, schema: { tags: ['alerts'], security: sec, querystring: AlertListQuery, response: responses(AlertListSchema) } }, async (req) => {
    const q = req.query;
    const analyst = req.principal !== null && roleAtLeast(req.principal.role, 'analyst');
    if (q.client !== undefined && !analyst) throw new ApiError('forbidden', 'filtering by client IP needs the analyst role');
    const range = parseRange(q.from, q.to, Number.MAX_SAFE_INTEGER);
    return listAlerts(
      deps.store,
      {
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.severity ? { severity: q.severity } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.client !== undefined ? { client: parseClientIp(q.client, 'client') } : {}),
        ...range,
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        limit: parseLimit(q.limit, deps.config.defaultListRows, deps.config.maxListRows),
      },
      { now: deps.clock.now(), withClient: analyst },
    );
  });

  app.get('/api/v1/alerts/:id', { config: { access: 'viewer' }, schema: { tags: ['alerts'], security: sec, params: idParams, response: responses(AlertDetailSchema) } }, async (req) => {
    const id = parseAlertId(req.params.id);
    const analyst = req.principal !== null && roleAtLeast(req.principal.role, 'analyst');
    const d = await getAlert(deps.store, id, { now: deps.clock.now(), withClient: analyst });
    if (!d) throw new ApiError('not_found', `no alert ${id}`);
    return d;
  });

  for (const { path, action } of ACTION_ROUTES) {
    const body = actionBody(action);
    app.post(
      `/api/v1/alerts/:id/${path}`,
      {
        config: { access: 'analyst', audit: { action: `alert.${path}`, target: (req) => ({ type: 'alert', value: String(sentField(req.params, 'id') ?? '') }) } },
        schema: { tags: ['alerts'], security: sec, params: idParams, body, response: responses(AlertDetailSchema) },
      },
      async (req) => {
        const id = parseAlertId(req.params.id);
        const b = req.body;
        const now = deps.clock.now();
        if (!(await alertExists(deps.store, id))) throw new ApiError('not_found', `no alert ${id}`);
        await recordAlertAction(deps.store, {
          id,
          action,
          actor: `${req.principal?.name ?? '?'} (${req.principal?.id ?? '?'})`,
          note: b.note ?? '',
          ...('until' in b ? { muteUntil: parseTime(b.until, 'until') } : {}),
          now,
        });
        const d = await getAlert(deps.store, id, { now, withClient: true });
        if (!d) throw new ApiError('not_found', `no alert ${id}`);
        return d;
      },
    );
  }
}

import type { FastifyInstance } from 'fastify';
import { getIncident, recordIncidentAction } from '../../incidents/incidentDetail.ts';
import { listIncidents } from '../../incidents/incidentList.ts';
import type { IncidentStatus } from '../../incidents/incidentView.ts';
import { parseIncidentId, parseLimit, parseTime } from '../../incidents/inputs.ts';
import { roleAtLeast } from '../../incidents/roles.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { IncidentDetailSchema, incidentIdText, IncidentListQuery, IncidentListSchema, ACTION_ROUTES, actionBody, responses } from '../schemas.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: incidentIdText } } as const;

/**
 * Incidents for triage: the ranked list (viewers see no addresses), one incident with its alerts,
 * and the analyst actions applied to every alert of an incident (as the alert actions, audited).
 */
export function registerTriageRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const sec = [{ bearer: [] }];
  const isAnalyst = (role: Parameters<typeof roleAtLeast>[0] | undefined): boolean => role !== undefined && roleAtLeast(role, 'analyst');

  app.get(
    '/api/v1/incidents',
    { config: { access: 'viewer' }, schema: { tags: ['incidents'], security: sec, querystring: IncidentListQuery, response: responses(IncidentListSchema) } },
    async (req) => {
      const q = req.query as { kind?: string; severity?: string; status?: IncidentStatus; cursor?: string; limit?: number };
      return listIncidents(
        deps.store,
        {
          ...(q.kind ? { kind: q.kind } : {}),
          ...(q.severity ? { severity: q.severity } : {}),
          ...(q.status ? { status: q.status } : {}),
          ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
          limit: parseLimit(q.limit, deps.config.defaultListRows, deps.config.maxListRows),
        },
        { now: deps.clock.now(), withClient: isAnalyst(req.principal?.role) },
      );
    },
  );

  app.get(
    '/api/v1/incidents/:id',
    { config: { access: 'viewer' }, schema: { tags: ['incidents'], security: sec, params: idParams, response: responses(IncidentDetailSchema) } },
    async (req) => {
      const id = parseIncidentId((req.params as { id: string }).id);
      const d = await getIncident(deps.store, id, { now: deps.clock.now(), withClient: isAnalyst(req.principal?.role) });
      if (!d) throw new ApiError('not_found', `no incident ${id}`);
      return d;
    },
  );

  for (const { path, action } of ACTION_ROUTES) {
    const body = actionBody(action);
    app.post(
      `/api/v1/incidents/:id/${path}`,
      {
        config: { access: 'analyst', audit: { action: `incident.${path}`, target: (req) => ({ type: 'incident', value: String((req.params as { id?: unknown }).id ?? '') }) } },
        schema: { tags: ['incidents'], security: sec, params: idParams, body, response: responses(IncidentDetailSchema) },
      },
      async (req) => {
        const id = parseIncidentId((req.params as { id: string }).id);
        const b = (req.body ?? {}) as { note?: string; until?: string };
        const now = deps.clock.now();
        const inc = await recordIncidentAction(deps.store, {
          id,
          action,
          actor: `${req.principal?.name ?? '?'} (${req.principal?.id ?? '?'})`,
          note: b.note ?? '',
          ...(b.until !== undefined ? { muteUntil: parseTime(b.until, 'until') } : {}),
          now,
        });
        const d = inc === null ? null : await getIncident(deps.store, inc, { now, withClient: true });
        if (!d) throw new ApiError('not_found', `no incident ${id}`);
        return d;
      },
    );
  }
}

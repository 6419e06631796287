import { getIncident, recordIncidentAction } from '../../incidents/incidentDetail.ts';
import { listIncidents } from '../../incidents/incidentList.ts';
import { parseIncidentId, parseLimit, parseTime } from '../../incidents/inputs.ts';
import { roleAtLeast } from '../../incidents/roles.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { IncidentDetailSchema, incidentIdText, IncidentListQuery, IncidentListSchema, ACTION_ROUTES, actionBody, responses } from '../schemas.ts';
import { sentField, type ApiApp } from '../types.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: incidentIdText } } as const;

/**
 * Incidents for triage: the ranked list (viewers see no addresses), one incident with its alerts,
 * and the analyst actions applied to every alert of an incident (as the alert actions, audited).
 */
export function registerTriageRoutes(app: ApiApp, deps: ApiDeps): void {
  const sec = [{ bearer: [] }];
  const isAnalyst = (role: Parameters<typeof roleAtLeast>[0] | undefined): boolean => role !== undefined && roleAtLeast(role, 'analyst');

  app.get(
    '/api/v1/incidents',
    { config: { access: 'viewer' }, schema: { tags: ['incidents'], security: sec, querystring: IncidentListQuery, response: responses(IncidentListSchema) } },
    async (req) => {
      const q = req.query;
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
      const id = parseIncidentId(req.params.id);
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
        config: { access: 'analyst', audit: { action: `incident.${path}`, target: (req) => ({ type: 'incident', value: String(sentField(req.params, 'id') ?? '') }) } },
        schema: { tags: ['incidents'], security: sec, params: idParams, body, response: responses(IncidentDetailSchema) },
      },
      async (req) => {
        const id = parseIncidentId(req.params.id);
        const b = req.body;
        const now = deps.clock.now();
        const inc = await recordIncidentAction(deps.store, {
          id,
          action,
          actor: `${req.principal?.name ?? '?'} (${req.principal?.id ?? '?'})`,
          note: b.note ?? '',
          ...('until' in b ? { muteUntil: parseTime(b.until, 'until') } : {}),
          now,
        });
        const d = inc === null ? null : await getIncident(deps.store, inc, { now, withClient: true });
        if (!d) throw new ApiError('not_found', `no incident ${id}`);
        return d;
      },
    );
  }
}

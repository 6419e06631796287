import { ALERT_KINDS } from '../../core/alert.ts';
import { listAudit } from '../../incidents/audit.ts';
import { parseLimit, parseTime } from '../../incidents/inputs.ts';
import { createRule, deleteRule, listRules } from '../../incidents/suppressions.ts';
import { createToken, listTokens, parseRole, parseTokenName, revokeToken } from '../../incidents/tokens.ts';
import { ROLES } from '../../incidents/roles.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { AuditSchema, OkSchema, responses, RuleSchema, time, TokenSchema } from '../schemas.ts';
import { sentField, type ApiApp } from '../types.ts';

const sec = [{ bearer: [] }];

/** Admin: API tokens, suppression rules (allow-lists and mutes) and the audit log. */
export function registerAdminRoutes(app: ApiApp, deps: ApiDeps): void {
  const actor = (p: { name: string; id: string } | null): string => `${p?.name ?? '?'} (${p?.id ?? '?'})`;
  const idParam = (pattern: string) => ({ type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64, pattern } } }) as const;

  app.get('/api/v1/tokens', { config: { access: 'admin' }, schema: { tags: ['admin'], security: sec, response: responses({ type: 'object', properties: { items: { type: 'array', items: TokenSchema } } }) } }, async () => ({
    items: await listTokens(deps.store),
  }));

  app.post(
    '/api/v1/tokens',
    {
      config: { access: 'admin', audit: { action: 'token.create', target: (req) => ({ type: 'token', value: String(sentField(req.body, 'name') ?? '') }) } },
      schema: {
        tags: ['admin'],
        security: sec,
        description: 'Creates a token; the response holds the token itself, shown this once (only its SHA-256 is stored).',
        body: { type: 'object', additionalProperties: false, required: ['name', 'role'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, role: { type: 'string', enum: [...ROLES] } } },
        response: responses(TokenSchema, 201),
      },
    },
    async (req, reply) => {
      const b = req.body;
      const t = await createToken(deps.store, { name: parseTokenName(b.name), role: parseRole(b.role), createdBy: actor(req.principal), now: deps.clock.now() });
      return reply.code(201).send(t);
    },
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { access: 'admin', audit: { action: 'token.revoke', target: (req) => ({ type: 'token', value: String(sentField(req.params, 'id') ?? '') }) } },
      schema: { tags: ['admin'], security: sec, params: idParam('^[0-9a-f]{12}$'), response: responses(OkSchema) },
    },
    async (req) => {
      if (!(await revokeToken(deps.store, req.params.id, deps.clock.now()))) throw new ApiError('not_found', 'no live token with that id');
      return { ok: true };
    },
  );

  app.get('/api/v1/suppressions', { config: { access: 'admin' }, schema: { tags: ['admin'], security: sec, response: responses({ type: 'object', properties: { items: { type: 'array', items: RuleSchema } } }) } }, async () => ({
    items: await listRules(deps.store),
  }));

  app.post(
    '/api/v1/suppressions',
    {
      config: { access: 'admin', audit: { action: 'rule.create', target: (req) => ({ type: 'rule', value: JSON.stringify(req.body ?? {}).slice(0, 512) }) } },
      schema: {
        tags: ['admin'],
        security: sec,
        description: 'allow: matching clients never alert; mute: matching alerts are stored but not sent until expiresAt. Every non-empty field must match.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: {
            type: { type: 'string', enum: ['allow', 'mute'] },
            cidr: { type: 'string', maxLength: 64 },
            userAgent: { type: 'string', maxLength: 256 },
            alertKind: { type: 'string', enum: [...ALERT_KINDS] },
            imageId: { type: 'string', maxLength: 512 },
            note: { type: 'string', maxLength: 2000 },
            expiresAt: time,
          },
        },
        response: responses(RuleSchema, 201),
      },
    },
    async (req, reply) => {
      const b = req.body;
      const rule = await createRule(
        deps.store,
        {
          type: b.type,
          ...(b.cidr ? { cidr: b.cidr } : {}),
          ...(b.userAgent ? { userAgent: b.userAgent } : {}),
          ...(b.alertKind ? { alertKind: b.alertKind } : {}),
          ...(b.imageId ? { imageId: b.imageId } : {}),
          ...(b.note ? { note: b.note } : {}),
          ...(b.expiresAt ? { expiresAt: parseTime(b.expiresAt, 'expiresAt') } : {}),
        },
        { actor: actor(req.principal), now: deps.clock.now() },
      );
      return reply.code(201).send(rule);
    },
  );

  app.delete(
    '/api/v1/suppressions/:id',
    {
      config: { access: 'admin', audit: { action: 'rule.delete', target: (req) => ({ type: 'rule', value: String(sentField(req.params, 'id') ?? '') }) } },
      schema: { tags: ['admin'], security: sec, params: idParam('^sr-[0-9a-f]{16}$'), response: responses(OkSchema) },
    },
    async (req) => {
      if (!(await deleteRule(deps.store, req.params.id))) throw new ApiError('not_found', 'no live rule with that id');
      return { ok: true };
    },
  );

  app.get(
    '/api/v1/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        security: sec,
        querystring: { type: 'object', additionalProperties: false, properties: { actor: { type: 'string', maxLength: 200 }, limit: { type: 'integer', minimum: 1, maximum: 1000 } } },
        response: responses(AuditSchema),
      },
    },
    async (req) => {
      const q = req.query;
      return { items: await listAudit(deps.store, { limit: parseLimit(q.limit, 100, 1000), ...(q.actor ? { actor: q.actor } : {}) }) };
    },
  );
}

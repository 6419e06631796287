import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { AuditTargetType } from '../incidents/audit.ts';
import type { Role } from '../incidents/roles.ts';
import type { Principal } from './auth.ts';

/** Who may call a route: `public` (health, readiness, the static page, the API docs) or the lowest role. */
export type Access = Role | 'public';

/**
 * The app the routes are registered on: params, querystring and body are typed from the routes'
 * JSON schemas (json-schema-to-ts), so handlers read them without casts. Types only: the schemas
 * and their validation are fastify's as before.
 */
export type ApiApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, JsonSchemaToTsProvider>;

/**
 * One field of a request part (params, query or body) as the client sent it, or undefined. Audit
 * targets read requests whatever their validation gave (a refused request is audited too), so they
 * take the part as unknown rather than as its schema's type.
 */
export function sentField(part: unknown, key: string): unknown {
  return typeof part === 'object' && part !== null && Object.hasOwn(part, key) ? Reflect.get(part, key) : undefined;
}

/** An audited route: the action name and what it looked at (an IP, CIDR, image, alert …). */
export interface AuditSpec {
  readonly action: string;
  /** null: this request is not audited (e.g. an alert list without a client filter). */
  target(req: FastifyRequest): { type: AuditTargetType; value: string } | null;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    audit?: AuditSpec;
    /** `exempt`: requests are not counted against the rate limit (health and readiness only). */
    rateLimit?: 'exempt';
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

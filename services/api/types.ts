import type { FastifyRequest } from 'fastify';
import type { AuditTargetType } from '../incidents/audit.ts';
import type { Role } from '../incidents/roles.ts';
import type { Principal } from './auth.ts';

/** Who may call a route: `public` (health, readiness, the static page, the API docs) or the lowest role. */
export type Access = Role | 'public';

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

/**
 * API roles, lowest first. Each route declares the lowest role allowed; a higher role may do
 * everything a lower one may.
 * - viewer: aggregates and alerts without raw rows, IPs or user agents;
 * - analyst: IPs, timelines, exposure, reports, search, evidence, alert actions;
 * - admin: tokens, suppression rules (allow-lists and mutes), the audit log.
 */
export type Role = 'viewer' | 'analyst' | 'admin';

export const ROLES: readonly Role[] = ['viewer', 'analyst', 'admin'];

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/**
 * Bearer-token authentication and role checks. Tokens are looked up by their SHA-256 (see
 * services/incidents/tokens.ts) and cached for `tokenCacheMs`, so a revoked token stops working
 * within that time. Lookups of malformed tokens never reach the store.
 */
import type { Store } from '../store/openStore.ts';
import { findToken, hashToken, TOKEN_PATTERN } from '../incidents/tokens.ts';
import type { Role } from '../incidents/roles.ts';

export interface Principal {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
}

export interface Authenticator {
  /** The principal for an `Authorization` header value, or null. */
  authenticate(header: string | undefined): Promise<Principal | null>;
}

export function createAuthenticator(opts: { store: Store; now: () => number; cacheMs: number; maxEntries?: number }): Authenticator {
  const cache = new Map<string, { p: Principal | null; until: number }>();
  const max = opts.maxEntries ?? 1000;
  return {
    async authenticate(header) {
      if (typeof header !== 'string') return null;
      const m = /^Bearer ([^\s]+)$/.exec(header);
      if (!m || !TOKEN_PATTERN.test(m[1]!)) return null;
      const token = m[1]!;
      const key = hashToken(token);
      const now = opts.now();
      const hit = cache.get(key);
      if (hit && hit.until > now) return hit.p;
      const info = await findToken(opts.store, token);
      const p = info ? { id: info.id, name: info.name, role: info.role } : null;
      if (cache.size >= max) cache.clear();
      cache.set(key, { p, until: now + opts.cacheMs });
      return p;
    },
  };
}

/**
 * API tokens: `tw_` + 43 base64url characters (256 random bits). Only the SHA-256 of a token is
 * stored, so a read of `api_tokens` gives nothing to log in with; the token is shown once at creation.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/openStore.ts';
import { InvalidInputError } from './inputs.ts';
import { isRole, type Role } from './roles.ts';
import { readRows, execute } from '../store/sql.ts';
import { iso } from './iso.ts';

export const TOKEN_PATTERN = /^tw_[A-Za-z0-9_-]{43}$/;

export interface TokenInfo {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly revoked: boolean;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function parseTokenName(name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._@ -]{1,64}$/.test(name)) throw new InvalidInputError('token name must be 1–64 characters of [A-Za-z0-9._@ -]');
  return name;
}

export function parseRole(role: string): Role {
  if (!isRole(role)) throw new InvalidInputError('role must be viewer, analyst or admin');
  return role;
}

/** Creates a token; the returned `token` is the only copy there will ever be. */
export async function createToken(store: Store, opts: { name: string; role: Role; createdBy: string; now: number }): Promise<TokenInfo & { token: string }> {
  const token = `tw_${randomBytes(32).toString('base64url')}`;
  const id = randomBytes(6).toString('hex');
  await execute(
    store.client,
    `INSERT INTO api_tokens (id, version, name, role, token_sha256, created_at, created_by, revoked)
     SELECT {id:String}, 1, {name:String}, {role:String}, {hash:String}, fromUnixTimestamp64Milli({now:Int64}), {by:String}, 0`,
    { id, name: opts.name, role: opts.role, hash: hashToken(token), now: opts.now, by: opts.createdBy },
  );
  return { id, name: opts.name, role: opts.role, createdAt: iso(opts.now), createdBy: opts.createdBy, revoked: false, token };
}

interface TokenRow {
  id: string;
  name: string;
  role: string;
  created_ms: number;
  created_by: string;
  revoked: number;
}

const TOKEN_COLS = 'id, name, role, toUnixTimestamp64Milli(created_at) AS created_ms, created_by, revoked';

function toInfo(r: TokenRow): TokenInfo {
  return { id: r.id, name: r.name, role: isRole(r.role) ? r.role : 'viewer', createdAt: iso(r.created_ms), createdBy: r.created_by, revoked: r.revoked !== 0 };
}

export async function listTokens(store: Store): Promise<TokenInfo[]> {
  const rows = await readRows<TokenRow>(store.client, `SELECT ${TOKEN_COLS} FROM api_tokens FINAL ORDER BY created_at, id`);
  return rows.map(toInfo);
}

/** The live (not revoked) token with this secret, or null. */
export async function findToken(store: Store, token: string): Promise<TokenInfo | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const rows = await readRows<TokenRow>(store.client, `SELECT ${TOKEN_COLS} FROM api_tokens FINAL WHERE token_sha256 = {h:String} AND revoked = 0 LIMIT 1`, {
    h: hashToken(token),
  });
  const r = rows[0];
  return r && isRole(r.role) ? toInfo(r) : null;
}

/** Revokes by id; false when no live token has that id. */
export async function revokeToken(store: Store, id: string, now: number): Promise<boolean> {
  if (!/^[0-9a-f]{12}$/.test(id)) throw new InvalidInputError('token id must be 12 hex digits');
  const live = await readRows<{ version: number }>(store.client, 'SELECT version FROM api_tokens FINAL WHERE id = {id:String} AND revoked = 0', { id });
  const row = live[0];
  if (!row) return false;
  await execute(
    store.client,
    `INSERT INTO api_tokens (id, version, name, role, token_sha256, created_at, created_by, revoked, revoked_at)
     SELECT id, {v:UInt64}, name, role, token_sha256, created_at, created_by, 1, fromUnixTimestamp64Milli({now:Int64})
     FROM api_tokens FINAL WHERE id = {id:String}`,
    { id, v: row.version + 1, now },
  );
  return true;
}

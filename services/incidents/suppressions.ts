/**
 * Run-time allow-lists and mute rules (`suppression_rules`, read with FINAL). This module only
 * manages the rows; the alerting side applies them.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/openStore.ts';
import { InvalidInputError, parseCidrRange, parseImageId } from './inputs.ts';
import { readRows, execute } from '../store/sql.ts';
import { iso } from './iso.ts';

export interface SuppressionRule {
  readonly id: string;
  readonly type: 'allow' | 'mute';
  readonly cidr: string;
  readonly userAgent: string;
  readonly alertKind: string;
  readonly imageId: string;
  readonly note: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
}

export interface NewRule {
  readonly type: 'allow' | 'mute';
  readonly cidr?: string;
  readonly userAgent?: string;
  readonly alertKind?: string;
  readonly imageId?: string;
  readonly note?: string;
  readonly expiresAt?: number;
}

interface Row {
  id: string;
  version: number;
  type: 'allow' | 'mute';
  cidr: string;
  user_agent: string;
  alert_kind: string;
  image_id: string;
  note: string;
  created_by: string;
  created_ms: number;
  expires_ms: number;
}

const COLS = `id, version, toString(type) AS type, cidr, user_agent, toString(alert_kind) AS alert_kind, image_id, note, created_by,
  toUnixTimestamp64Milli(created_at) AS created_ms, ifNull(toUnixTimestamp64Milli(expires_at), 0) AS expires_ms`;

const toRule = (r: Row): SuppressionRule => ({
  id: r.id,
  type: r.type,
  cidr: r.cidr,
  userAgent: r.user_agent,
  alertKind: r.alert_kind,
  imageId: r.image_id,
  note: r.note,
  createdBy: r.created_by,
  createdAt: iso(r.created_ms),
  expiresAt: r.expires_ms > 0 ? iso(r.expires_ms) : null,
});

export async function listRules(store: Store): Promise<SuppressionRule[]> {
  return (await readRows<Row>(store.client, `SELECT ${COLS} FROM suppression_rules FINAL WHERE deleted = 0 ORDER BY created_at, id`)).map(toRule);
}

export async function createRule(store: Store, rule: NewRule, opts: { actor: string; now: number }): Promise<SuppressionRule> {
  const cidr = rule.cidr ? parseCidrRange(rule.cidr).cidr : '';
  const ua = rule.userAgent ?? '';
  if (ua.length > 256) throw new InvalidInputError('userAgent may hold at most 256 characters');
  const image = rule.imageId ? parseImageId(rule.imageId) : '';
  if (!cidr && !ua && !image && !rule.alertKind) throw new InvalidInputError('a rule needs at least one of cidr, userAgent, alertKind, imageId');
  if (rule.expiresAt !== undefined && rule.expiresAt <= opts.now) throw new InvalidInputError('expiresAt must be in the future');
  const id = `sr-${randomBytes(8).toString('hex')}`;
  await execute(
    store.client,
    `INSERT INTO suppression_rules (id, version, type, cidr, user_agent, alert_kind, image_id, note, created_by, created_at, expires_at, deleted)
     SELECT {id:String}, 1, {type:String}, {cidr:String}, {ua:String}, {kind:String}, {image:String}, {note:String}, {by:String},
            fromUnixTimestamp64Milli({now:Int64}), if({exp:Int64} = 0, NULL, fromUnixTimestamp64Milli({exp:Int64})), 0`,
    { id, type: rule.type, cidr, ua, kind: rule.alertKind ?? '', image, note: (rule.note ?? '').slice(0, 2000), by: opts.actor, now: opts.now, exp: rule.expiresAt ?? 0 },
  );
  const created = (await readRows<Row>(store.client, `SELECT ${COLS} FROM suppression_rules FINAL WHERE id = {id:String}`, { id }))[0];
  if (!created) throw new Error('suppression rule not readable after insert');
  return toRule(created);
}

/** Marks a rule deleted (a newer version); false when there is no live rule with that id. */
export async function deleteRule(store: Store, id: string): Promise<boolean> {
  if (!/^sr-[0-9a-f]{16}$/.test(id)) throw new InvalidInputError('rule id must look like sr-<16 hex digits>');
  const live = (await readRows<Row>(store.client, `SELECT ${COLS} FROM suppression_rules FINAL WHERE id = {id:String} AND deleted = 0`, { id }))[0];
  if (!live) return false;
  await execute(
    store.client,
    `INSERT INTO suppression_rules (id, version, type, cidr, user_agent, alert_kind, image_id, note, created_by, created_at, expires_at, deleted)
     SELECT id, {v:UInt64}, type, cidr, user_agent, alert_kind, image_id, note, created_by, created_at, expires_at, 1
     FROM suppression_rules FINAL WHERE id = {id:String}`,
    { id, v: live.version + 1 },
  );
  return true;
}

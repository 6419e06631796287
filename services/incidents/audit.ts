/**
 * The audit log: who looked up which IP, CIDR, image or alert, and who exported which evidence.
 * Written by the API (every audited route, with the status sent) and by the CLI's incident commands.
 */
import type { Store } from '../store/openStore.ts';
import { readRows, execute } from '../store/sql.ts';
import { iso } from './iso.ts';

export type AuditTargetType = 'ip' | 'cidr' | 'user_agent' | 'image' | 'alert' | 'incident' | 'day' | 'client' | 'report' | 'token' | 'rule' | 'none';

export interface AuditEntry {
  readonly at: number;
  readonly actor: string;
  readonly role: string;
  readonly action: string;
  readonly targetType: AuditTargetType;
  readonly target: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly status: number;
}

export async function writeAudit(store: Store, e: AuditEntry): Promise<void> {
  await execute(
    store.client,
    `INSERT INTO audit_log (at, actor, role, action, target_type, target, params, status)
     SELECT fromUnixTimestamp64Milli({at:Int64}), {actor:String}, {role:String}, {action:String}, {tt:String}, {target:String}, {params:String}, {status:UInt16}`,
    { at: e.at, actor: e.actor, role: e.role, action: e.action, tt: e.targetType, target: e.target.slice(0, 1024), params: JSON.stringify(e.params).slice(0, 8192), status: e.status },
  );
}

export interface AuditRecord extends Omit<AuditEntry, 'at' | 'params'> {
  readonly at: string;
  readonly params: string;
}

export async function listAudit(store: Store, opts: { limit: number; actor?: string }): Promise<AuditRecord[]> {
  const rows = await readRows<{ at_ms: number; actor: string; role: string; action: string; target_type: AuditEntry['targetType']; target: string; params: string; status: number }>(
    store.client,
    `SELECT toUnixTimestamp64Milli(at) AS at_ms, actor, role, action, target_type, target, params, status FROM audit_log
     WHERE {actor:String} = '' OR actor = {actor:String} ORDER BY at DESC LIMIT {limit:UInt32}`,
    { actor: opts.actor ?? '', limit: opts.limit },
  );
  return rows.map((r) => ({ at: iso(r.at_ms), actor: r.actor, role: r.role, action: r.action, targetType: r.target_type, target: r.target, params: r.params, status: r.status }));
}

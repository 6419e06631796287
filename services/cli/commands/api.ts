/** `tilewatch api` (the incident API as its own process) and `tilewatch token` (API tokens). */
import { startApiServer } from '../../api/server.ts';
import { DEFAULT_API_CONFIG } from '../../api/apiConfig.ts';
import { writeAudit } from '../../incidents/audit.ts';
import { InvalidInputError } from '../../incidents/inputs.ts';
import { createToken, listTokens, parseRole, parseTokenName, revokeToken } from '../../incidents/tokens.ts';
import { EXIT, UsageError } from '../exitCodes.ts';
import { formatTable } from '../formatTable.ts';
import { openContext, type CommonFlags } from './context.ts';
import { cliActor } from './incidents.ts';

export interface ApiFlags extends CommonFlags {
  readonly listen: string;
  readonly rateLimit?: number;
}

/** host:port (IPv6 hosts in brackets); port 0 picks a free one. */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen expects host:port, got ${v}`);
  return { host: m[1] ?? m[2]!, port };
}

export async function runApi(flags: ApiFlags): Promise<number> {
  const { host, port } = parseListen(flags.listen);
  const { logger, store } = await openContext(flags);
  const config = Object.freeze({ ...DEFAULT_API_CONFIG, ...(flags.rateLimit ? { rateLimitPerMinute: flags.rateLimit } : {}) });
  let server;
  try {
    server = await startApiServer({ store, logger: logger.child({ component: 'api' }), clock: { now: () => Date.now() }, config }, { host, port });
  } catch (err) {
    await store.close();
    throw err;
  }
  process.stderr.write(`tilewatch api listening on ${server.url} (page ${server.url}/, OpenAPI ${server.url}/docs)\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  try {
    await server.close();
  } finally {
    await store.close();
  }
  return EXIT.OK;
}

export async function runTokenCreate(flags: CommonFlags & { name: string; role: string; json?: boolean }): Promise<number> {
  let name: string;
  let role;
  try {
    name = parseTokenName(flags.name);
    role = parseRole(flags.role);
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UsageError(err.message);
    throw err;
  }
  const { store } = await openContext(flags);
  try {
    const now = Date.now();
    const t = await createToken(store, { name, role, createdBy: cliActor(), now });
    await writeAudit(store, { at: now, actor: cliActor(), role: 'cli', action: 'token.create', targetType: 'token', target: t.id, params: { name, role }, status: 200 });
    if (flags.json) process.stdout.write(`${JSON.stringify(t)}\n`);
    else process.stdout.write(`token ${t.id} (${t.name}, ${t.role}) — shown once, store it now:\n${t.token}\n`);
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

export async function runTokenList(flags: CommonFlags & { json?: boolean }): Promise<number> {
  const { store } = await openContext(flags);
  try {
    const tokens = await listTokens(store);
    if (flags.json) for (const t of tokens) process.stdout.write(`${JSON.stringify(t)}\n`);
    else process.stdout.write(formatTable(tokens.map((t) => ({ id: t.id, name: t.name, role: t.role, created: t.createdAt, by: t.createdBy, revoked: t.revoked }))) || '(no tokens)\n');
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

export async function runTokenRevoke(id: string, flags: CommonFlags): Promise<number> {
  if (!/^[0-9a-f]{12}$/.test(id)) throw new UsageError('token id must be 12 hex digits (see token list)');
  const { store } = await openContext(flags);
  try {
    const now = Date.now();
    const ok = await revokeToken(store, id, now);
    await writeAudit(store, { at: now, actor: cliActor(), role: 'cli', action: 'token.revoke', targetType: 'token', target: id, params: {}, status: ok ? 200 : 404 });
    if (!ok) {
      process.stderr.write(`tilewatch: no live token ${id}\n`);
      return EXIT.FAILURE;
    }
    process.stdout.write(`revoked ${id}\n`);
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

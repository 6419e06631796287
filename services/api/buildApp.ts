/**
 * The incident API as a fastify instance that never listens (server.ts owns listening, timeouts,
 * graceful close and the logger choice). Every route declares its access — `public` or the lowest
 * role — and building fails for a route that does not, so nothing is reachable by omission.
 *
 * Request path (onRequest, before any body is read): authentication → rate limit (per token for an
 * authenticated call, per client address otherwise; health and readiness exempt) → role check; then
 * the bounded JSON parser (jsonBody.ts) → schema validation → handler → audit row (onSend, with the
 * status, for audited routes; 429s are not audited) → `Cache-Control: no-store` on every response
 * of a non-public route → response. Errors become `{ error: { code, message } }` (errors.ts) and
 * never carry stack traces or store messages.
 */
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { writeAudit } from '../incidents/audit.ts';
import { NotFoundError, TooManyRowsError } from '../incidents/evidence.ts';
import { InvalidInputError } from '../incidents/inputs.ts';
import { roleAtLeast } from '../incidents/roles.ts';
import { createAuthenticator } from './auth.ts';
import type { ApiDeps } from './deps.ts';
import { ApiError, codeForStatus, errorBody, ERROR_CODES, type ErrorCode } from './errors.ts';
import { registerJsonParser } from './jsonBody.ts';
import { addressKey, createRateLimiter } from './rateLimiter.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerAlertRoutes } from './routes/alerts.ts';
import { registerIncidentRoutes } from './routes/incidents.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerTriageRoutes } from './routes/triage.ts';
import { registerWebRoutes } from './routes/web.ts';
import { ErrorSchema } from './schemas.ts';
import type { Access, ApiApp } from './types.ts';
import './types.ts';

/** One row of the route table (HEAD routes fastify adds for GETs included). */
export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  readonly access: Access;
  readonly audited: boolean;
  /** Requests count against the rate limit (all but health and readiness). */
  readonly rateLimited: boolean;
  /** The route declares its response schemas (serialisation and OpenAPI). */
  readonly responseSchema: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its declared access, for tests and docs. */
    readonly apiRoutes: readonly RouteEntry[];
  }
}

/** Routes of plugins (the OpenAPI document and its UI) that are public by design: they hold no data. */
const PUBLIC_PREFIXES = ['/docs'];

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const log = deps.logger;
  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimit,
    // URLs hold IPs (personal data): requests are logged by route pattern in onResponse instead.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, useDefaults: false } },
    routerOptions: { maxParamLength: 200 },
    // Unreadable URLs and over-long path parameters are answered before any hook: keep our shape.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).code(400).send(errorBody('invalid_input', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL could not be read'));
    },
  });
  const routes: RouteEntry[] = [];
  app.decorate('apiRoutes', routes);
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (opts) => {
    const declared = opts.config?.access;
    const access: Access | undefined = declared ?? (PUBLIC_PREFIXES.some((p) => opts.url === p || opts.url.startsWith(`${p}/`)) ? 'public' : undefined);
    if (access === undefined) throw new Error(`route ${String(opts.method)} ${opts.url} declares no access (config.access)`);
    opts.config = { ...opts.config, access };
    for (const m of Array.isArray(opts.method) ? opts.method : [opts.method]) routes.push({
        method: String(m),
        url: opts.url,
        access,
        audited: opts.config.audit !== undefined,
        rateLimited: opts.config.rateLimit !== 'exempt',
        responseSchema: opts.schema?.response !== undefined,
      });
  });
  app.addSchema(ErrorSchema);

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        // helmet's default would add upgrade-insecure-requests: this server speaks plain HTTP (TLS,
        // when there is any, ends at a proxy in front), and a browser told to upgrade would ask for
        // the page's script and styles over HTTPS from a host that has none.
        upgradeInsecureRequests: null,
      },
    },
  });
  registerJsonParser(app, { maxDepth: deps.config.jsonMaxDepth, maxKeys: deps.config.jsonMaxKeys });
  await app.register(swagger, {
    openapi: {
      info: { title: 'tilewatch incident API', version: '1', description: 'Alerts, timelines, exposure, reports, evidence. Errors: docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'tilewatch token create --name N --role R' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  const auth = createAuthenticator({ store: deps.store, now: () => deps.clock.now(), cacheMs: deps.config.tokenCacheMs });
  const limiter = createRateLimiter({ clock: deps.clock, max: deps.config.rateLimitPerMinute, windowMs: 60_000 });
  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config;
    const access = config?.access;
    // Only fastify's not-found handler has no access: it answers 404 whatever the token.
    const guarded = access !== undefined && access !== 'public';
    // A token is looked up (cached) before counting, so that the caller is counted as itself: an
    // anonymous flood from the same address (a proxy, a NAT) never spends a token's budget.
    const principal = guarded ? await auth.authenticate(req.headers.authorization) : null;
    if (config?.rateLimit !== 'exempt') {
      const d = limiter.hit(principal ? `token:${principal.id}` : addressKey(req.ip));
      const resetS = Math.ceil(d.resetInMs / 1000);
      reply.header('x-ratelimit-limit', d.limit).header('x-ratelimit-remaining', d.remaining).header('x-ratelimit-reset', resetS);
      if (!d.allowed) {
        reply.header('retry-after', resetS);
        throw new ApiError('rate_limited', `rate limit of ${d.limit} requests per minute for this ${principal ? 'token' : 'address'} exceeded; retry in ${resetS} s`);
      }
    }
    if (!guarded) return;
    if (principal === null) throw new ApiError('unauthorized', 'a valid bearer token is required (Authorization: Bearer <token>)');
    req.principal = principal;
    if (!roleAtLeast(principal.role, access)) throw new ApiError('forbidden', `this needs the ${access} role`);
  });

  app.addHook('onSend', async (req, reply, payload) => {
    // Responses of every non-public route (errors included) may hold personal data: no cache keeps them.
    if (req.routeOptions.config?.access !== 'public') reply.header('cache-control', 'no-store');
    const spec = req.routeOptions.config?.audit;
    const target = spec && req.principal ? spec.target(req) : null;
    if (spec && req.principal && target) {
      try {
        await writeAudit(deps.store, {
          at: deps.clock.now(),
          actor: `${req.principal.name} (${req.principal.id})`,
          role: req.principal.role,
          action: spec.action,
          targetType: target.type,
          target: target.value,
          params: { params: req.params ?? {}, query: req.query ?? {}, body: typeof req.body === 'object' && req.body !== null ? req.body : {} },
          status: reply.statusCode,
        });
      } catch (err) {
        // Fail closed: who looked up whom must be on record, so no audited answer leaves without its row.
        log.error({ err, reqId: req.id, route: req.routeOptions.url }, 'audit row could not be written; answer withheld');
        reply.code(ERROR_CODES.internal).removeHeader('content-disposition').header('content-type', 'application/json; charset=utf-8');
        return JSON.stringify(errorBody('internal', `internal error (request ${req.id})`));
      }
    }
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    log.info({ method: req.method, route: req.routeOptions.url ?? '(none)', status: reply.statusCode, ms: Math.round(reply.elapsedTime), actor: req.principal?.id }, 'request');
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    let code: ErrorCode;
    let message: string;
    if (err instanceof ApiError) {
      code = err.code;
      message = err.message;
    } else if (err instanceof InvalidInputError) {
      code = 'invalid_input';
      message = err.message;
    } else if (err instanceof NotFoundError) {
      code = 'not_found';
      message = err.message;
    } else if (err instanceof TooManyRowsError) {
      code = 'too_many_rows';
      message = err.message;
    } else if ('validation' in err && err.validation) {
      code = 'invalid_input';
      message = err.message;
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      code = codeForStatus(err.statusCode);
      message = code === 'invalid_input' ? 'the request could not be read' : code.replace(/_/g, ' ');
    } else {
      code = 'internal';
      message = `internal error (request ${req.id})`;
      log.error({ err, reqId: req.id, route: req.routeOptions.url }, 'request failed');
    }
    return reply.code(ERROR_CODES[code]).send(errorBody(code, message));
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody('not_found', 'no such route')));

  // The same instance, typed from the route schemas (request parts need no casts in the handlers).
  const api: ApiApp = app.withTypeProvider<JsonSchemaToTsProvider>();
  registerOpsRoutes(api, deps);
  registerAlertRoutes(api, deps);
  registerIncidentRoutes(api, deps);
  registerTriageRoutes(api, deps);
  registerAdminRoutes(api, deps);
  registerWebRoutes(api);
  return app;
}

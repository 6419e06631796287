import Fastify, { type FastifyInstance, type FastifySchema, type RouteShorthandOptions } from 'fastify';

/**
 * The ops endpoints of every tilewatch process, one behaviour wherever they are mounted:
 * GET /healthz — 200 `{"status":"ok"}` (the process answers);
 * GET /readyz — 200 `{"status":"ready"}`, or 503 `{"status":"not ready","reason":…}`;
 * GET /metrics — the Prometheus text, in the registry's content type (when the process has one).
 * What "ready" means is the caller's: ingest is ready when it consumes and its store is writable,
 * the incident API when its store answers (and, in `serve`, ingest too). They expose no personal
 * data. Mounted on ingest's own port by `buildOpsApp` (all three public), and on the incident API
 * (services/api/routes/ops.ts) with the API's access rules: /metrics there needs a viewer token.
 */

/** Whether the process can do its job now, and why not. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
}

/** A Prometheus registry as far as /metrics needs it (prom-client's `Registry` is one). */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface OpsEndpoints {
  /** What "ready" means for this process. */
  readonly ready: () => Readiness | Promise<Readiness>;
  /** Served at /metrics when given. */
  readonly metrics?: MetricsSource;
}

/**
 * The host app's own options per endpoint (route config such as access and rate limit, OpenAPI
 * tags, security and error responses). A given `schema.response` replaces the endpoint's own.
 */
export interface OpsRouteOptions {
  readonly healthz?: RouteShorthandOptions;
  readonly readyz?: RouteShorthandOptions;
  readonly metrics?: RouteShorthandOptions;
}

const StatusSchema = { type: 'object', properties: { status: { type: 'string' }, reason: { type: 'string' } } } as const;

/** Mounts /healthz, /readyz and (with a registry) /metrics on `app`. */
export function registerOpsEndpoints(app: FastifyInstance, ops: OpsEndpoints, options: OpsRouteOptions = {}): void {
  app.get('/healthz', withResponse(options.healthz, { 200: StatusSchema }), async () => ({ status: 'ok' }));
  app.get('/readyz', withResponse(options.readyz, { 200: StatusSchema, 503: StatusSchema }), async (_req, reply) => {
    const r = await ops.ready();
    if (r.ready) return { status: 'ready' };
    return reply.code(503).send({ status: 'not ready', reason: r.reason });
  });
  const m = ops.metrics;
  if (m) {
    app.get('/metrics', withResponse(options.metrics, { 200: { type: 'string' } }), async (_req, reply) => {
      reply.header('content-type', m.contentType);
      return m.metrics();
    });
  }
}

/** A bare fastify instance serving only the ops endpoints, all public (ingest's --http-port). */
export function buildOpsApp(ops: OpsEndpoints): FastifyInstance {
  const app = Fastify({ logger: false });
  registerOpsEndpoints(app, ops);
  return app;
}

function withResponse(opts: RouteShorthandOptions | undefined, response: FastifySchema['response']): RouteShorthandOptions {
  const schema: FastifySchema | undefined = opts?.schema;
  return { ...opts, schema: { ...schema, response: schema?.response ?? response } };
}

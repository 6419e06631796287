/**
 * Runs the incident API: listen, timeouts, graceful close. The caller owns the store (it may be
 * shared with ingest in `tilewatch serve`) and the logger.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from './buildApp.ts';
import type { ApiDeps } from './deps.ts';

export interface ServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Whole-request timeout (ms). Default 120 s (evidence exports can be large). */
  readonly requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this (ms). Default 5 s. */
  readonly keepAliveTimeoutMs?: number;
  /** Bound on a graceful close before connections are dropped (ms). Default 10 s. */
  readonly closeTimeoutMs?: number;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (bounded), closes. Idempotent. */
  close(): Promise<void>;
}

export async function startApiServer(deps: ApiDeps, opts: ServerOptions): Promise<RunningServer> {
  const app = await buildApp(deps);
  const server = app.server;
  server.requestTimeout = opts.requestTimeoutMs ?? 120_000;
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 5_000;
  server.headersTimeout = 20_000;
  await app.listen({ host: opts.host, port: opts.port });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | null = null;
  return {
    app,
    url: `http://${host}:${port}`,
    port,
    close() {
      closing ??= (async () => {
        const timer = setTimeout(() => server.closeAllConnections(), opts.closeTimeoutMs ?? 10_000);
        try {
          server.closeIdleConnections();
          await app.close();
        } finally {
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}

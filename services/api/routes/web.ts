import { readFileSync } from 'node:fs';
import type { ApiApp } from '../types.ts';

// Through the repository root, so the compiled build (dist/api/routes/) serves the same files.
const WEB_DIR = new URL('../../../services/api/web/', import.meta.url);

/**
 * The built-in page: three static files, no build step. They hold no data (everything is fetched
 * with the user's token), so they are public; the token lives in the tab's sessionStorage.
 */
export function registerWebRoutes(app: ApiApp): void {
  const files: Array<{ url: string; file: string; type: string }> = [
    { url: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
    { url: '/web/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
    { url: '/web/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
  ];
  for (const f of files) {
    const body = readFileSync(new URL(f.file, WEB_DIR));
    app.get(f.url, { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => {
      reply.header('content-type', f.type).header('cache-control', 'no-cache');
      return reply.send(body);
    });
  }
}

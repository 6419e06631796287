/**
 * The ops endpoints (observability/opsEndpoints.ts) as ingest serves them on its own port: health,
 * readiness from the process's own check (sync or async), and the registry's text at /metrics.
 * The incident API mounts the same module (test/integration/api.test.ts covers its access rules).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOpsApp, type Readiness } from '../../../services/observability/opsEndpoints.ts';

const registry = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => 'tilewatch_up 1\n' };

test('/healthz answers 200 ok whatever the readiness', async () => {
  const app = buildOpsApp({ ready: () => ({ ready: false, reason: 'consumer not joined' }) });
  const r = await app.inject({ url: '/healthz' });
  assert.equal(r.statusCode, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.deepEqual(r.json(), { status: 'ok' });
  await app.close();
});

test('/readyz is 200 ready, or 503 not ready with the reason the check gives', async () => {
  let state: Readiness = { ready: false, reason: 'store not writable' };
  const app = buildOpsApp({ ready: () => state });
  const down = await app.inject({ url: '/readyz' });
  assert.equal(down.statusCode, 503);
  assert.deepEqual(down.json(), { status: 'not ready', reason: 'store not writable' });
  state = { ready: true, reason: '' };
  const up = await app.inject({ url: '/readyz' });
  assert.equal(up.statusCode, 200);
  assert.deepEqual(up.json(), { status: 'ready' });
  assert.equal((await app.inject({ method: 'HEAD', url: '/readyz' })).statusCode, 200);
  await app.close();
});

test('an async readiness check is awaited', async () => {
  const app = buildOpsApp({ ready: async () => ({ ready: false, reason: 'store unavailable' }) });
  const r = await app.inject({ url: '/readyz' });
  assert.equal(r.statusCode, 503);
  assert.deepEqual(r.json(), { status: 'not ready', reason: 'store unavailable' });
  await app.close();
});

test('/metrics sends the registry text in its content type, unauthenticated; absent without a registry', async () => {
  const app = buildOpsApp({ ready: () => ({ ready: true, reason: '' }), metrics: registry });
  const r = await app.inject({ url: '/metrics' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['content-type'], registry.contentType);
  assert.equal(r.body, 'tilewatch_up 1\n');
  await app.close();
  const bare = buildOpsApp({ ready: () => ({ ready: true, reason: '' }) });
  assert.equal((await bare.inject({ url: '/metrics' })).statusCode, 404);
  await bare.close();
});

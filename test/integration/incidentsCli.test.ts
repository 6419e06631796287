/**
 * The incident commands as real CLI processes on a replayed store: timeline, exposure, digest, report
 * and evidence (tables and --json), tokens (created once, listed without secrets, revoked) and
 * `tilewatch api --listen` serving until SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { BIN, childEnv, describeRun, REPO_ROOT, runCli, runCliOk } from '../support/cli.ts';
import { sqlRows } from '../support/store.ts';
import { replayScenario } from '../support/incidentStore.ts';

async function tarFiles(buf: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = tar.extract();
  for await (const entry of (async function* () {
    ex.end(buf);
    yield* ex;
  })()) {
    const parts: Buffer[] = [];
    for await (const c of entry) parts.push(c as Buffer);
    files.set(entry.header.name, Buffer.concat(parts));
  }
  return files;
}

test('incident CLI: timeline, exposure, digest, report, evidence, tokens, api', async (t) => {
  const fx = await replayScenario(t);
  const d = ['--data', fx.dataDir];
  const ip = fx.scenario.scraperIp;
  const [img1, img2] = fx.scenario.imageIds;

  const tl = JSON.parse((await runCliOk(['timeline', ip, '--json', ...d])).stdout);
  assert.equal(tl.totals.requests, fx.scenario.scraperTiles);
  assert.equal(tl.buckets.at(-1).cumulativeCells, 3 * 368);
  const tlText = (await runCliOk(['timeline', ip, ...d])).stdout;
  assert.match(tlText, /^client 203\.0\.113\.66: 1152 requests, 3 images/m);
  assert.match(tlText, /^bucket +requests +tiles/m);

  const ex = JSON.parse((await runCliOk(['exposure', img1!, '--json', ...d])).stdout);
  assert.equal(ex.clients[0].ip, ip);
  assert.equal(ex.union.reconstructLongEdge, 6000);
  assert.match((await runCliOk(['exposure', img1!, ...d])).stdout, /all together reconstructable at 6000 px/);

  // The day's exposure digest: the three images the scraper swept, in order, attributed to its incident.
  const harvest = await sqlRows<{ id: string }>(fx.dataDir, "SELECT id FROM alerts FINAL WHERE kind = 'bulk-harvest'");
  const incidentId = `ti-${harvest[0]!.id.slice(3)}`;
  const dg = JSON.parse((await runCliOk(['digest', '--day', '2026-03-02', '--json', ...d])).stdout);
  assert.equal(dg.day, '2026-03-02');
  assert.deepEqual(dg.images.map((i: { imageId: string }) => i.imageId), [...fx.scenario.imageIds]);
  for (const im of dg.images as Array<{ longEdge: number; clients: Array<{ ip: string; cells: number; incidents: string[] }>; incidents: Array<{ id: string; severity: string }> }>) {
    assert.equal(im.longEdge, 6000);
    assert.deepEqual(im.clients.map((c) => [c.ip, c.cells, c.incidents]), [[ip, 368, [incidentId]]]);
    assert.deepEqual(im.incidents.map((i) => [i.id, i.severity]), [[incidentId, 'critical']]);
  }
  const dgText = (await runCliOk(['digest', '--day', '2026-03-02', ...d])).stdout;
  assert.match(dgText, /^exposure digest 2026-03-02: 3 image\(s\) newly reconstructable beyond policy/m);
  assert.match(dgText, /^ms-6000x4000-1 \(6000×4000, open data 2048 px\): 6000 px at 100 % since 2026-03-02T14:06:45\.000Z; 1 client\(s\)$/m);
  assert.match(dgText, new RegExp(`^203\\.0\\.113\\.66 +368 +100 % +384 .* ${incidentId}$`, 'm'));
  assert.match(dgText, new RegExp(`^incidents: ${incidentId} \\(critical, open, bulk-harvest\\)$`, 'm'));
  assert.deepEqual(JSON.parse((await runCliOk(['digest', '--day', '2026-03-03', '--json', ...d])).stdout).images, []);
  const badDay = await runCli(['digest', '--day', '2026-02-30', ...d]);
  assert.equal(badDay.code, 2, describeRun(badDay));
  assert.match(badDay.stderr, /--day must be a calendar day YYYY-MM-DD/);

  const rep = JSON.parse((await runCliOk(['report', '--image', img1!, '--image', img2!, '--from', '2026-03-02T00:00:00Z', '--to', '2026-03-03T00:00:00Z', '--min-long-edge', '4000', '--json', ...d])).stdout);
  assert.deepEqual(rep.images.map((i: { clients: Array<{ ip: string }> }) => i.clients.map((c) => c.ip)), [[ip], [ip]]);
  assert.equal(rep.images[0].clients[0].firstEvidence.source, fx.logPath);
  const repText = (await runCliOk(['report', '--image', img1!, '--from', '2026-03-02', '--to', '2026-03-03', '--min-long-edge', '4000', ...d])).stdout;
  assert.match(repText, new RegExp(`^203\\.0\\.113\\.66 +6000 +2026-03-02T14:06:45\\.000Z +384 +${fx.logPath.replace(/[/.]/g, '\\$&')}:19 @`, 'm'));

  const bad = await runCli(['timeline', "' OR 1=1 --", ...d]);
  assert.equal(bad.code, 2, describeRun(bad));
  assert.match(bad.stderr, /ip must be an IPv4 or IPv6 address/);
  const missing = await runCli(['timeline', '198.51.100.200', ...d]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no stored requests from 198\.51\.100\.200/);

  const alerts = await sqlRows<{ id: string }>(fx.dataDir, "SELECT id FROM alerts FINAL WHERE kind = 'bulk-harvest'");
  const out = join(fx.dir, 'evidence.tar');
  const ev = await runCliOk(['evidence', '--alert', alerts[0]!.id, '-o', out, ...d]);
  assert.match(ev.stdout, /^wrote .*evidence\.tar \(\d+ bytes\): \d+ rows/m);
  const files = await tarFiles(readFileSync(out));
  const manifest = JSON.parse(files.get('manifest.json')!.toString());
  for (const f of manifest.files as Array<{ name: string; sha256: string }>) assert.equal(createHash('sha256').update(files.get(f.name)!).digest('hex'), f.sha256);
  assert.equal(manifest.generatedBy.startsWith('cli:'), true);

  const created = JSON.parse((await runCliOk(['token', 'create', '--name', 'alice', '--role', 'analyst', '--json', ...d])).stdout);
  assert.match(created.token, /^tw_[A-Za-z0-9_-]{43}$/);
  const listed = (await runCliOk(['token', 'list', ...d])).stdout;
  assert.match(listed, new RegExp(`^${created.id} +alice +analyst`, 'm'));
  assert.equal(listed.includes(created.token), false);
  assert.equal((await runCli(['token', 'create', '--name', 'x', '--role', 'root', ...d])).code, 2);

  // The API as its own process: the token works until revoked (a new process has no token cache).
  const server = spawn(process.execPath, [BIN, 'api', '--listen', '127.0.0.1:0', ...d], { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`api did not start: ${stderr}`)), 30_000);
    server.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  try {
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/api/v1/alerts`)).status, 401);
    const me = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${created.token}` } });
    assert.deepEqual(await me.json(), { id: created.id, name: 'alice', role: 'analyst' });
    const page = await fetch(`${url}/`);
    assert.match(await page.text(), /<script type="module" src="\/web\/app\.js">/);
  } finally {
    server.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `api exits 0 on SIGTERM: ${stderr}`);

  assert.match((await runCliOk(['token', 'revoke', created.id, ...d])).stdout, /revoked/);
  const after = await sqlRows<{ revoked: number }>(fx.dataDir, 'SELECT revoked FROM api_tokens FINAL WHERE id = {id:String}', { id: created.id });
  assert.equal(Number(after[0]!.revoked), 1);
  const audit = await sqlRows<{ action: string; target_type: string; target: string }>(fx.dataDir, "SELECT action, target_type, target FROM audit_log WHERE actor LIKE 'cli:%' ORDER BY at");
  for (const [action, type, target] of [['timeline', 'ip', ip], ['exposure', 'image', img1], ['exposure.digest', 'day', '2026-03-02'], ['export', 'alert', alerts[0]!.id], ['token.create', 'token', created.id], ['token.revoke', 'token', created.id]]) {
    assert.ok(audit.some((a) => a.action === action && a.target_type === type && a.target === target), `audit ${action} ${target}`);
  }
});

/**
 * The production stack (docker-compose.yml, Dockerfile, deploy/): Debian's docker-compose validates
 * the file with the example env file, refuses it without one (no default passwords), and the
 * normalised configuration has the shape the README promises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, tempDir } from '../support/cli.ts';

const exec = promisify(execFile);
const COMPOSE = '/usr/bin/docker-compose';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  volumes?: Array<string | { source?: string; target: string; type: string }>;
  restart?: string;
}

/** Environment for docker-compose without any of the stack's variables inherited from this process. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/PASSWORD|KAFKA_CLUSTER_ID/.test(k)) delete env[k];
  return env;
}

function compose(envFile: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec(COMPOSE, ['--project-directory', REPO_ROOT, '-f', join(REPO_ROOT, 'docker-compose.yml'), '--env-file', envFile, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(),
  });
}

const flag = (cmd: readonly string[] | undefined, name: string): string | undefined => {
  const i = cmd?.indexOf(name) ?? -1;
  return i >= 0 ? cmd![i + 1] : undefined;
};

test('docker-compose config validates the stack with the example env file, and refuses it without one', async (t) => {
  const dir = tempDir(t, 'stack');
  const envFile = join(dir, 'env');
  writeFileSync(envFile, readFileSync(join(REPO_ROOT, '.env.example'), 'utf8'));
  await compose(envFile, 'config', '-q');

  const empty = join(dir, 'empty.env');
  writeFileSync(empty, '# nothing set\n');
  await assert.rejects(compose(empty, 'config', '-q'), (err: { stderr: string }) => /set it in \.env/.test(err.stderr));

  const { stdout } = await compose(envFile, 'config');
  const config = parseYaml(stdout) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const s = config.services;
  for (const name of ['kafka', 'clickhouse', 'grafana', 'alertmanager', 'prometheus', 'ingest-1', 'ingest-2', 'api', 'vector'])
    assert.ok(s[name], `service ${name} is missing`);

  // Two ingest instances, one consumer group, one topic, distinct client ids.
  const ingest = Object.entries(s).filter(([, v]) => v.command?.[0] === 'ingest');
  assert.equal(ingest.length, 2, 'two tilewatch ingest services');
  const [a, b] = ingest.map(([, v]) => v.command);
  assert.ok(flag(a, '--group') && flag(a, '--group') === flag(b, '--group'), 'same --group');
  assert.equal(flag(a, '--topic'), flag(b, '--topic'));
  assert.notEqual(flag(a, '--client-id'), flag(b, '--client-id'));
  assert.equal(s.api!.command?.[0], 'api');

  // Kafka runs KRaft (no ZooKeeper service).
  assert.match(s.kafka!.environment!.KAFKA_PROCESS_ROLES!, /controller/);
  assert.ok(!Object.values(s).some((v) => /zookeeper/i.test(v.image ?? '')), 'no ZooKeeper');

  // Every long-running service has a health check; data lives in named volumes.
  for (const [name, v] of Object.entries(s)) if (v.restart !== 'no') assert.ok(v.healthcheck?.test?.length, `${name} has no healthcheck`);
  for (const vol of ['kafka-data', 'clickhouse-data', 'grafana-data', 'prometheus-data', 'alertmanager-data']) assert.ok(vol in config.volumes, `named volume ${vol}`);

  // Grafana gets the ClickHouse plugin (pinned: composeStack.test.ts) and this repository's provisioning and dashboards.
  assert.match(s.grafana!.environment!.GF_PLUGINS_PREINSTALL_SYNC!, /grafana-clickhouse-datasource@/);
  const mounts = (s.grafana!.volumes ?? []).map((m) => (typeof m === 'string' ? m : `${m.source ?? ''}:${m.target}`));
  assert.ok(mounts.some((m) => m.includes('dashboards/provisioning') && m.includes('/etc/grafana/provisioning')), mounts.join('\n'));
  assert.ok(mounts.some((m) => m.includes('dashboards/grafana')), mounts.join('\n'));
});

test('no password, key or token is written in the compose file: each comes from .env and is required', () => {
  const raw = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
  const doc = parseYaml(raw, { merge: true }) as { services: Record<string, Service> };
  let secrets = 0;
  for (const [name, v] of Object.entries(doc.services))
    for (const [k, value] of Object.entries(v.environment ?? {}))
      if (/PASSWORD|SECRET|TOKEN|KEY/i.test(k)) {
        secrets++;
        assert.match(String(value), /^\$\{\w+:\?[^}]+\}$/, `${name}.${k} must be \${VAR:?…} from .env, not a literal`);
      }
  assert.ok(secrets >= 4, `expected the stack's secrets to be wired, found ${secrets}`);
  const required = new Set([...raw.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!));
  const example = new Set([...readFileSync(join(REPO_ROOT, '.env.example'), 'utf8').matchAll(/^(\w+)=/gm)].map((m) => m[1]!));
  for (const v of required) assert.ok(example.has(v), `.env.example lacks ${v}`);
  assert.match(readFileSync(join(REPO_ROOT, '.gitignore'), 'utf8'), /^\.env$/m, '.env is never committed');
});

test('Vector ships to the ingest topic keyed by client IP; the image is multi-stage and non-root', () => {
  const vector = parseYaml(readFileSync(join(REPO_ROOT, 'deploy', 'vector', 'vector.yaml'), 'utf8')) as {
    sinks: Record<string, { type: string; topic: string; key_field: string; bootstrap_servers: string; inputs: string[] }>;
    transforms: Record<string, { source: string }>;
  };
  const kafka = Object.values(vector.sinks).find((x) => x.type === 'kafka');
  assert.ok(kafka, 'a kafka sink');
  const compose = parseYaml(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
  assert.equal(kafka.topic, flag(compose.services['ingest-1']!.command, '--topic'));
  assert.equal(kafka.bootstrap_servers, flag(compose.services['ingest-1']!.command, '--brokers'));
  assert.equal(kafka.key_field, 'client_ip');
  assert.match(vector.transforms[kafka.inputs[0]!]!.source, /\.client_ip\s*=/, 'the key field is set from the log line');

  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
  assert.match(dockerfile, /npm ci --omit=dev/);
  const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
  assert.ok(users.length > 0 && users.at(-1) !== 'root' && users.at(-1) !== '0', 'the runtime stage runs as a non-root user');
  // bin/tilewatch.js loads tsx at run time when there is no up-to-date build (the image has none):
  // it must survive --omit=dev.
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.match(readFileSync(join(REPO_ROOT, 'bin', 'tilewatch.js'), 'utf8'), /import\('tsx\/esm\/api'\)/);
  assert.ok(pkg.dependencies.tsx, 'tsx is a production dependency');
  assert.match(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'), /^node_modules$/m);
});

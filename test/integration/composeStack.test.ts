/**
 * The compose stack works end to end (issue 17): the file is rendered by Debian's docker-compose
 * (`docker-compose config` with .env.example) and every cross-reference is followed to the file or
 * process it names. Ingest instances carry sinks (a webhook and Alertmanager, from a mounted config
 * file, secrets from the environment) and the Alertmanager link opens the web page; Alertmanager's
 * receivers have an integration; Prometheus scrapes endpoints that tilewatch serves (with a token
 * where one is needed); the sample log has a file of its own, apart from where real logs are
 * mounted; Grafana and the ClickHouse plugin are pinned to a documented compatible pair; every
 * dashboard is importable (`__inputs`) and still provisions; the image runs a supported Node LTS;
 * no obsolete keys. Debian's amtool and promtool check the configs when installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { incidentPageUrl } from '../../services/alerting/alertmanagerPayload.ts';
import { loadConfig } from '../../services/cli/config.ts';
import { REPO_ROOT, tempDir } from '../support/cli.ts';

const exec = promisify(execFile);
const COMPOSE = '/usr/bin/docker-compose';
const AMTOOL = '/usr/bin/amtool';
const PROMTOOL = '/usr/bin/promtool';
const CLICKHOUSE_PLUGIN = 'grafana-clickhouse-datasource';

interface Service {
  image?: string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  secrets?: Array<string | { source: string; target?: string }>;
}
interface Rendered {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string; environment?: string }>;
}
interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** A bind mount of a path on the host (rendered absolute); otherwise a named volume. */
  bind: boolean;
}

/** `docker-compose config` of the stack with the example env file, as the operator's `up` sees it. */
let renderedOnce: Promise<Rendered> | null = null;
function rendered(): Promise<Rendered> {
  renderedOnce ??= (async () => {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (/PASSWORD|SECRET|TOKEN|KAFKA_CLUSTER_ID/.test(k)) delete env[k];
    const { stdout } = await exec(
      COMPOSE,
      ['--project-directory', REPO_ROOT, '-f', join(REPO_ROOT, 'docker-compose.yml'), '--env-file', join(REPO_ROOT, '.env.example'), 'config'],
      { cwd: REPO_ROOT, env },
    );
    return parseYaml(stdout) as Rendered;
  })();
  return renderedOnce;
}

const argv = (v: string[] | string | undefined): string[] => (v === undefined ? [] : typeof v === 'string' ? v.split(/\s+/) : v);
/** The command words of a service, with a `sh -c '…'` script split into words. */
const words = (s: Service): string[] => [...argv(s.entrypoint), ...argv(s.command)].flatMap((w) => w.split(/\s+/)).filter((w) => w !== '');
function flag(cmd: readonly string[], name: string): string | undefined {
  for (let i = 0; i < cmd.length; i++) {
    if (cmd[i] === name) return cmd[i + 1];
    if (cmd[i]!.startsWith(`${name}=`)) return cmd[i]!.slice(name.length + 1);
  }
  return undefined;
}
/** The tilewatch subcommand a service runs (its image's entrypoint is `node bin/tilewatch.js`). */
function tilewatchCommand(s: Service): string | undefined {
  const w = words(s);
  const bin = w.indexOf('bin/tilewatch.js');
  return bin >= 0 ? w[bin + 1] : s.image === 'tilewatch:local' ? w[0] : undefined;
}

function mounts(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    const [source, target, mode] = v.split(':') as [string, string, string | undefined];
    return { source, target, readOnly: mode === 'ro', bind: source.startsWith('/') };
  });
}
/** The mount that holds `containerPath` in the service, and the path inside it. */
function mountOf(s: Service, containerPath: string): { mount: Mount; rest: string } | null {
  const hits = mounts(s)
    .filter((m) => containerPath === m.target || containerPath.startsWith(`${m.target}/`))
    .sort((a, b) => b.target.length - a.target.length);
  return hits[0] ? { mount: hits[0], rest: posix.relative(hits[0].target, containerPath) } : null;
}
/** The host file behind a path inside a container (a bind mount of this repository), or a failure. */
function hostFile(name: string, s: Service, containerPath: string): string {
  const m = mountOf(s, containerPath);
  assert.ok(m?.mount.bind, `${name}: ${containerPath} is not mounted from the repository`);
  const file = join(m.mount.source, m.rest);
  assert.ok(existsSync(file), `${name}: ${containerPath} is mounted from ${file}, which does not exist`);
  return file;
}

/**
 * Where a service serves Prometheus metrics, as tilewatch's code does: `ingest` and `serve` on the ops
 * port without a token (fetched by the ingest tests through test/support/ingest.ts), `serve --listen`
 * also on the incident API behind a viewer token (api.test.ts), `tilewatch api` nowhere.
 */
interface MetricsEndpoint {
  host: string;
  port: number;
  token: boolean;
}
const TILEWATCH_API_SRC = join(REPO_ROOT, 'services', 'cli', 'commands', 'api.ts');
function metricsEndpoints(s: Service): MetricsEndpoint[] {
  const cmd = words(s);
  const sub = tilewatchCommand(s);
  const out: MetricsEndpoint[] = [];
  if (sub === 'ingest' || sub === 'serve') {
    // The ops server: /metrics, /healthz, /readyz, no token (services/observability/httpServer.ts).
    out.push({ host: flag(cmd, '--http-host') ?? '127.0.0.1', port: Number(flag(cmd, '--http-port') ?? 9464), token: false });
  }
  const listen = flag(cmd, '--listen');
  if (sub === 'serve' && listen) {
    // `serve` also mounts its registry on the incident API, behind a viewer token (services/api/routes/ops.ts).
    const m = /^(.*):(\d+)$/.exec(listen)!;
    out.push({ host: m[1]!, port: Number(m[2]), token: true });
  }
  // `tilewatch api` has no registry: its /metrics answers 404. If that changes, this model must too.
  if (sub === 'api') assert.doesNotMatch(readFileSync(TILEWATCH_API_SRC, 'utf8'), /metrics/, 'tilewatch api now serves metrics: teach metricsEndpoints() in this test');
  return out;
}

test('no obsolete keys: the compose file has no top-level `version` (Compose Specification)', () => {
  const raw = parseYaml(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as Record<string, unknown>;
  const known = new Set(['name', 'services', 'networks', 'volumes', 'configs', 'secrets', 'include', 'models']);
  for (const key of Object.keys(raw)) assert.ok(known.has(key) || key.startsWith('x-'), `top-level "${key}" is obsolete or unknown`);
});

test('ingest instances send incidents to a webhook and to Alertmanager, configured by a mounted file with secrets from the environment', async () => {
  const { services } = await rendered();
  const ingest = Object.entries(services).filter(([, s]) => tilewatchCommand(s) === 'ingest');
  assert.ok(ingest.length >= 1, 'no tilewatch ingest service');

  const api = Object.entries(services).find(([, s]) => ['api', 'serve'].includes(tilewatchCommand(s) ?? '') && flag(words(s), '--listen'));
  assert.ok(api, 'no tilewatch api (or serve --listen) service: nothing serves the web page the links open');
  const apiListenPort = Number(/:(\d+)$/.exec(flag(words(api[1]), '--listen') ?? '')?.[1]);
  // Published as [host ip:]host port:container port[/tcp]; the links must reach the --listen port.
  const published = (api[1].ports ?? [])
    .map((p) => /^(?:(.*):)?(\d+):(\d+)(?:\/tcp)?$/.exec(String(p)))
    .flatMap((m) => (m && Number(m[3]) === apiListenPort ? [{ ip: m[1] ?? '0.0.0.0', port: Number(m[2]) }] : []));
  assert.ok(published.length > 0, `the api's --listen port ${apiListenPort} is not published`);

  for (const [name, s] of ingest) {
    const cmd = words(s);
    const configPath = flag(cmd, '--config');
    assert.ok(configPath, `${name}: no --config: the ingest services carry no sinks`);
    const file = hostFile(name, s, configPath);
    // The real loader, with the service's own (rendered) environment: secrets resolve or it throws.
    const clickhouseUrl = flag(cmd, '--clickhouse-url');
    const cfg = loadConfig({ config: file, ...(clickhouseUrl ? { clickhouseUrl } : {}) }, s.environment ?? {});
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { sinks?: { webhooks?: Array<{ secretEnv?: string }>; alertmanager?: { bearerTokenEnv?: string } } };

    assert.ok(cfg.sinks.webhooks.length >= 1, `${name}: no webhook sink`);
    for (const w of raw.sinks?.webhooks ?? []) assert.ok(w.secretEnv && s.environment?.[w.secretEnv], `${name}: webhook secret ${w.secretEnv} is not in the service environment`);

    const am = cfg.sinks.alertmanager;
    assert.ok(am, `${name}: no Alertmanager sink`);
    for (const u of am.urls) {
      const url = new URL(u);
      const target = services[url.hostname];
      assert.ok(target && /(^|\/)alertmanager:/.test(target.image ?? ''), `${name}: Alertmanager URL ${u} is not the stack's Alertmanager`);
      const listen = flag(words(target), '--web.listen-address') ?? ':9093';
      assert.equal(url.port, listen.split(':').at(-1), `${name}: Alertmanager listens on ${listen}, the sink posts to ${u}`);
    }

    // generatorURL: the link in every Alertmanager notification opens the incident in the web page.
    assert.ok(am.webUrl, `${name}: alertmanager.webUrl is not set, notifications carry no link`);
    const link = new URL(incidentPageUrl(am.webUrl, 'ti-0123456789abcdef0123'));
    assert.equal(link.pathname, '/', `${name}: the link ${link.href} is not the page (served at the API's root)`);
    assert.equal(link.searchParams.get('incident'), 'ti-0123456789abcdef0123');
    assert.ok(
      published.some((p) => p.port === Number(link.port || 80) && (p.ip === '0.0.0.0' || p.ip === link.hostname)),
      `${name}: the link ${link.href} is not where the stack publishes the api (${(api[1].ports ?? []).join(', ')})`,
    );
  }
  assert.match(readFileSync(join(REPO_ROOT, 'services', 'api', 'web', 'app.js'), 'utf8'), /URLSearchParams\(location\.search\)\.get\('incident'\)/, 'the page opens ?incident=');
  // Hunts: every ingest instance has them on and the hunt lease runs them on one member of the group
  // at a time (test/integration/kafkaHuntLease.test.ts), so each instance can take over from the
  // other. That needs one group and one shared store (the lease's hunter reads every partition's rows).
  const hunters = ingest.filter(([, s]) => !words(s).includes('--no-hunts')).map(([n]) => n);
  assert.deepEqual(hunters, ingest.map(([n]) => n), 'every ingest instance may hunt (the lease picks one)');
  assert.ok(ingest.length >= 2, 'two ingest instances: a hunter and one to take over');
  assert.equal(new Set(ingest.map(([, s]) => flag(words(s), '--group'))).size, 1, 'the ingest instances are one consumer group');
  const stores = new Set(ingest.map(([, s]) => flag(words(s), '--clickhouse-url')));
  assert.ok(stores.size === 1 && !stores.has(undefined), `the ingest instances share one ClickHouse server: ${[...stores].join(', ')}`);
});

test('Alertmanager routes to receivers that have an integration (an example webhook the operator replaces)', async () => {
  const { services } = await rendered();
  const entry = Object.entries(services).find(([, s]) => /(^|\/)alertmanager:/.test(s.image ?? ''));
  assert.ok(entry, 'no Alertmanager service');
  const [name, s] = entry;
  const file = hostFile(name, s, flag(words(s), '--config.file') ?? '/etc/alertmanager/alertmanager.yml');
  interface Route {
    receiver?: string;
    routes?: Route[];
  }
  const config = parseYaml(readFileSync(file, 'utf8')) as { route: Route; receivers: Array<Record<string, unknown> & { name: string }> };
  const used = new Set<string>();
  const walk = (r: Route): void => {
    if (r.receiver) used.add(r.receiver);
    for (const c of r.routes ?? []) walk(c);
  };
  walk(config.route);
  for (const receiver of used) {
    const r = config.receivers.find((x) => x.name === receiver);
    assert.ok(r, `receiver ${receiver} is not defined`);
    const integrations = Object.entries(r).filter(([k, v]) => k.endsWith('_configs') && Array.isArray(v) && v.length > 0);
    assert.ok(integrations.length > 0, `receiver ${receiver} has no integration (email_configs, webhook_configs, …): Alertmanager notifies nobody`);
  }
  assert.match(readFileSync(file, 'utf8'), /#.*replace/i, 'the example receiver says what to replace');
  if (existsSync(AMTOOL)) assert.match((await exec(AMTOOL, ['check-config', file])).stdout, /SUCCESS/);
});

test('Prometheus scrapes endpoints tilewatch serves, every ingest instance, with a token where one is needed', async (t) => {
  const rendered_ = await rendered();
  const { services } = rendered_;
  const entry = Object.entries(services).find(([, s]) => /(^|\/)prometheus:/.test(s.image ?? ''));
  assert.ok(entry, 'no Prometheus service');
  const [pname, prom] = entry;
  const file = hostFile(pname, prom, flag(words(prom), '--config.file') ?? '/etc/prometheus/prometheus.yml');
  interface Job {
    job_name: string;
    metrics_path?: string;
    scheme?: string;
    static_configs?: Array<{ targets: string[] }>;
    authorization?: { type?: string; credentials?: string; credentials_file?: string };
  }
  const config = parseYaml(readFileSync(file, 'utf8')) as { rule_files?: string[]; scrape_configs: Job[] };

  const scraped = new Set<string>();
  for (const job of config.scrape_configs) {
    for (const target of (job.static_configs ?? []).flatMap((c) => c.targets)) {
      const [host, port] = target.split(':') as [string, string];
      const s = services[host];
      if (!s) {
        assert.ok(host === 'localhost' || host === '127.0.0.1', `${job.job_name}: target ${target} is not a service of the stack`);
        continue; // Prometheus itself
      }
      const endpoint = metricsEndpoints(s).find((e) => e.port === Number(port));
      assert.ok(endpoint, `${job.job_name}: ${target} serves no /metrics (${host} runs ${words(s).slice(0, 2).join(' ')})`);
      assert.ok(['0.0.0.0', '::', '[::]'].includes(endpoint.host), `${job.job_name}: ${host} listens on ${endpoint.host}, unreachable from Prometheus`);
      assert.equal(job.metrics_path ?? '/metrics', '/metrics', job.job_name);
      assert.equal(job.scheme ?? 'http', 'http', job.job_name);
      if (endpoint.token) {
        assert.equal(job.authorization?.credentials, undefined, `${job.job_name}: a token is written in the Prometheus config`);
        const credentials = job.authorization?.credentials_file;
        assert.ok(credentials, `${job.job_name}: ${target} needs a viewer token (authorization.credentials_file)`);
        const secret = (prom.secrets ?? []).map((x) => (typeof x === 'string' ? { source: x } : x)).find((x) => (x.target ?? `/run/secrets/${x.source}`) === credentials || `/run/secrets/${x.target}` === credentials);
        assert.ok(secret && rendered_.secrets?.[secret.source], `${job.job_name}: ${credentials} is not a compose secret mounted into Prometheus`);
      }
      scraped.add(`${host}:${endpoint.port}`);
    }
  }
  for (const [name, s] of Object.entries(services))
    if (tilewatchCommand(s) === 'ingest') for (const e of metricsEndpoints(s)) assert.ok(scraped.has(`${name}:${e.port}`), `${name}:${e.port} is not scraped`);

  // The rule files are mounted; promtool accepts the config with the container paths mapped to the
  // repository (and token files to a stand-in: promtool reads them).
  const dir = tempDir(t, 'prom');
  let text = readFileSync(file, 'utf8');
  for (const rules of config.rule_files ?? []) text = text.replaceAll(rules, hostFile(pname, prom, rules));
  for (const job of config.scrape_configs) {
    const credentials = job.authorization?.credentials_file;
    if (!credentials) continue;
    const standIn = join(dir, `${job.job_name}.token`);
    writeFileSync(standIn, 'token\n');
    text = text.replaceAll(credentials, standIn);
  }
  if (existsSync(PROMTOOL)) {
    const copy = join(dir, 'prometheus.yml');
    writeFileSync(copy, text);
    const check = await exec(PROMTOOL, ['check', 'config', copy]).catch((err: { stdout: string; stderr: string }) => assert.fail(`promtool check config:\n${err.stdout}${err.stderr}`));
    assert.match(check.stdout, /SUCCESS/);
  }
});

/** Where README "Production stack" tells operators to mount real logs: Vector's /var/log/nginx. */
const REAL_LOGS = '/var/log/nginx';

test('the sample log is written to a file of its own, apart from the volume real logs are mounted into', async () => {
  const { services } = await rendered();
  const sample = Object.entries(services).find(([, s]) => words(s).includes('simulate'));
  assert.ok(sample, 'no sample-log service');
  const [sname, ss] = sample;
  const out = flag(words(ss), '--out');
  assert.ok(out, `${sname}: simulate has no --out`);
  const sampleMount = mountOf(ss, out)?.mount;
  assert.ok(sampleMount && !sampleMount.readOnly, `${sname}: --out ${out} is not a writable mount`);

  const vector = Object.entries(services).find(([, s]) => /(^|\/)vector:/.test(s.image ?? ''));
  assert.ok(vector, 'no Vector service');
  const [vname, vs] = vector;
  const vfile = hostFile(vname, vs, flag(words(vs), '--config') ?? '/etc/vector/vector.yaml');
  const vconfig = parseYaml(readFileSync(vfile, 'utf8')) as { sources: Record<string, { type: string; include?: string[] }> };
  const includes = Object.values(vconfig.sources).flatMap((x) => (x.type === 'file' ? (x.include ?? []) : []));
  const inVector = mounts(vs).find((m) => m.source === sampleMount.source);
  assert.ok(inVector, `${vname} does not mount the sample's ${sampleMount.source}`);
  const sampleFile = posix.join(inVector.target, posix.relative(sampleMount.target, out), 'access.log');
  assert.ok(includes.includes(sampleFile), `${vname} does not read the sample ${sampleFile} (reads ${includes.join(', ')})`);
  assert.ok(!sampleFile.startsWith(`${REAL_LOGS}/`), `the sample is written into ${REAL_LOGS} (${sampleMount.source}), where real logs are mounted`);

  // Every other path Vector reads is where real logs go: a mount no service of the stack writes into.
  const real = includes.filter((p) => p !== sampleFile);
  assert.ok(real.some((p) => p.startsWith(`${REAL_LOGS}/`)), `${vname} reads no real logs from ${REAL_LOGS} (reads ${includes.join(', ')})`);
  for (const path of real) {
    const m = mountOf(vs, path.replace(/[*?[].*$/, ''))?.mount;
    assert.ok(m, `${vname}: ${path} is not on a mount`);
    assert.ok(m.readOnly, `${vname} mounts ${m.target} writable`);
    assert.notEqual(m.source, sampleMount.source, `${vname}: real logs at ${path} share ${m.source} with the sample, which ${sname} rewrites`);
    for (const [other, s] of Object.entries(services))
      if (other !== vname) assert.ok(!mounts(s).some((x) => x.source === m.source && !x.readOnly), `${other} writes into ${m.source}, where real logs are mounted`);
  }
});

/**
 * grafana-clickhouse-datasource's documented Grafana requirements (plugin docs, "Requirements":
 * https://grafana.com/docs/plugins/grafana-clickhouse-datasource/latest/ — Grafana 11.6.0 and later:
 * v4.15+; 9.x – 11.5.x: v4.0 – v4.14; the catalogue lists 4.20.0 with "Grafana >=11.6.0-0").
 */
const PLUGIN_COMPAT: Array<{ plugin: [number[], number[] | null]; grafana: [number[], number[] | null] }> = [
  { plugin: [[4, 15, 0], null], grafana: [[11, 6, 0], null] },
  { plugin: [[4, 0, 0], [4, 15, 0]], grafana: [[9, 0, 0], [11, 6, 0]] },
];
const semver = (v: string): number[] => v.split('.').map(Number);
const cmp = (a: number[], b: number[]): number => a.map((x, i) => x - (b[i] ?? 0)).find((d) => d !== 0) ?? 0;
const inRange = (v: number[], [lo, hi]: [number[], number[] | null]): boolean => cmp(v, lo) >= 0 && (hi === null || cmp(v, hi) < 0);

function grafanaPins(s: Service): { grafana: string; plugin: string } {
  const image = /^grafana\/grafana(?:-oss|-enterprise)?:(\d+\.\d+\.\d+)$/.exec(s.image ?? '');
  assert.ok(image, `Grafana image ${s.image} is not pinned to an exact version`);
  const env = s.environment ?? {};
  assert.equal(env.GF_INSTALL_PLUGINS, undefined, 'GF_INSTALL_PLUGINS is deprecated since Grafana 12 and installs the newest plugin');
  const listed = [env.GF_PLUGINS_PREINSTALL_SYNC, env.GF_PLUGINS_PREINSTALL].flatMap((v) => (v ?? '').split(',')).map((p) => p.trim());
  const entry = listed.find((p) => p.split('@')[0] === CLICKHOUSE_PLUGIN);
  assert.ok(entry, `${CLICKHOUSE_PLUGIN} is not installed by GF_PLUGINS_PREINSTALL_SYNC`);
  const version = entry.split('@')[1];
  assert.ok(version && /^\d+\.\d+\.\d+$/.test(version), `${CLICKHOUSE_PLUGIN} is not pinned (${entry}): a new release may need a newer Grafana`);
  return { grafana: image[1]!, plugin: version };
}

test('Grafana and the ClickHouse plugin are pinned to a pair the plugin documents as compatible', async () => {
  const { services } = await rendered();
  const s = Object.values(services).find((x) => /^grafana\/grafana/.test(x.image ?? ''));
  assert.ok(s, 'no Grafana service');
  const pins = grafanaPins(s);
  const row = PLUGIN_COMPAT.find((r) => inRange(semver(pins.plugin), r.plugin));
  assert.ok(row, `no documented requirement for ${CLICKHOUSE_PLUGIN} ${pins.plugin}`);
  assert.ok(inRange(semver(pins.grafana), row.grafana), `${CLICKHOUSE_PLUGIN} ${pins.plugin} needs Grafana ${row.grafana[0].join('.')}${row.grafana[1] ? `–<${row.grafana[1].join('.')}` : '+'}, the stack runs ${pins.grafana}`);
});

test('every dashboard is importable (__inputs, only ${DS_…} datasource references) and still provisions in the stack', async () => {
  const { services } = await rendered();
  const entry = Object.entries(services).find(([, x]) => /^grafana\/grafana/.test(x.image ?? ''));
  assert.ok(entry, 'no Grafana service');
  const [gname, gs] = entry;
  const provisioning = gs.environment?.GF_PATHS_PROVISIONING ?? '/etc/grafana/provisioning';
  const dsDir = hostFile(gname, gs, `${provisioning}/datasources`);
  const provisioned = readdirSync(dsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => (parseYaml(readFileSync(join(dsDir, f), 'utf8')) as { datasources?: Array<{ uid: string; type: string }> }).datasources ?? [])
    .filter((d) => d.type === CLICKHOUSE_PLUGIN);
  assert.equal(provisioned.length, 1, 'one provisioned ClickHouse datasource');
  const dbDir = hostFile(gname, gs, `${provisioning}/dashboards`);
  const paths = readdirSync(dbDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => (parseYaml(readFileSync(join(dbDir, f), 'utf8')) as { providers: Array<{ options: { path: string } }> }).providers.map((p) => p.options.path));
  assert.ok(paths.length > 0, 'no dashboard provider');

  let count = 0;
  for (const dir of paths.map((p) => hostFile(gname, gs, p))) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      count++;
      const text = readFileSync(join(dir, file), 'utf8');
      const d = JSON.parse(text) as {
        __inputs?: Array<{ name: string; type: string; pluginId?: string }>;
        __requires?: Array<{ type: string; id: string; version: string }>;
        panels?: unknown[];
        templating: { list: Array<{ name: string; type: string; query?: unknown; current?: { value?: unknown }; datasource?: unknown }> };
      };
      const inputs = (d.__inputs ?? []).filter((i) => i.type === 'datasource');
      assert.ok(inputs.length > 0, `${file}: no __inputs: importing it cannot pick a datasource`);
      for (const i of inputs) {
        assert.match(i.name, /^DS_[A-Z0-9_]+$/, `${file}: input ${i.name}`);
        assert.equal(i.pluginId, CLICKHOUSE_PLUGIN, `${file}: input ${i.name}`);
      }
      const declared = new Map(inputs.map((i) => [`\${${i.name}}`, i]));

      // Every datasource reference (panels, targets, query variables) is a declared input of its type.
      const refs: Array<{ type?: string; uid?: string }> = [];
      const walk = (o: unknown): void => {
        if (Array.isArray(o)) o.forEach(walk);
        else if (o && typeof o === 'object')
          for (const [k, v] of Object.entries(o)) {
            if (k === 'datasource' && v && typeof v === 'object') refs.push(v as { type?: string; uid?: string });
            else if (k === 'datasource') assert.fail(`${file}: datasource given by name (${JSON.stringify(v)}), not by a reference`);
            walk(v);
          }
      };
      walk(d.panels ?? []);
      walk(d.templating.list);
      assert.ok(refs.length > 0, `${file}: no datasource references`);
      for (const r of refs) {
        const input = declared.get(r.uid ?? '');
        assert.ok(input, `${file}: datasource uid ${r.uid} is not one of the declared inputs ${[...declared.keys()].join(', ')}`);
        assert.equal(r.type, input.pluginId, `${file}: datasource ${r.uid}`);
      }
      for (const key of declared.keys()) assert.ok(refs.some((r) => r.uid === key), `${file}: input ${key} is declared but unused`);

      // Import: Grafana replaces each ${DS_…} with the datasource picked; nothing unresolved remains.
      let imported = text;
      for (const i of inputs) imported = imported.replaceAll(`\${${i.name}}`, 'picked-at-import');
      assert.doesNotMatch(imported, /\$\{DS_/, `${file}: a \${DS_…} reference survives the import`);

      // Provisioning does not read __inputs: a datasource variable of the same name resolves each
      // ${DS_…}, defaulting to the stack's provisioned datasource, before any variable that uses it.
      const list = d.templating.list;
      for (const i of inputs) {
        const at = list.findIndex((v) => v.name === i.name);
        const v = list[at];
        assert.ok(v && v.type === 'datasource' && v.query === i.pluginId, `${file}: no datasource variable ${i.name} (query ${i.pluginId}): provisioning leaves \${${i.name}} unresolved`);
        assert.equal(v.current?.value, provisioned[0]!.uid, `${file}: variable ${i.name} does not default to the provisioned datasource`);
        const firstUse = list.findIndex((x) => JSON.stringify(x.datasource ?? null).includes(`\${${i.name}}`));
        assert.ok(firstUse === -1 || firstUse > at, `${file}: a variable uses \${${i.name}} before it is defined`);
      }

      // What the import screen shows as required matches what the stack runs.
      const requires = d.__requires ?? [];
      const pins = requires.length > 0 ? grafanaPins(gs) : null;
      for (const r of requires) {
        if (r.type === 'grafana') assert.ok(cmp(semver(pins!.grafana), semver(r.version)) >= 0, `${file}: requires Grafana ${r.version}, the stack runs ${pins!.grafana}`);
        if (r.id === CLICKHOUSE_PLUGIN) assert.equal(r.version, pins!.plugin, `${file}: __requires ${CLICKHOUSE_PLUGIN} ${r.version}, the stack pins ${pins!.plugin}`);
      }
    }
  }
  assert.ok(count >= 4, `expected the four dashboards, found ${count}`);
});

/** Node.js release lines and their end of life (https://github.com/nodejs/Release, schedule as of 2026-12). */
const NODE_EOL: Record<number, string> = { 18: '2025-04-30', 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30', 26: '2029-04-30' };

test('the image runs a Node.js LTS line that is still supported, and package.json engines admits it', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const majors = [...dockerfile.matchAll(/^FROM\s+(?:--\S+\s+)*node:(\d+)\S*/gm)].map((m) => Number(m[1]));
  assert.ok(majors.length > 0, 'no node base image');
  const major = majors[0]!;
  assert.ok(majors.every((m) => m === major), `stages on different Node lines: ${majors.join(', ')}`);
  assert.equal(major % 2, 0, `Node ${major} is not an LTS line`);
  const eol = NODE_EOL[major];
  assert.ok(eol === undefined ? major > 26 : Date.parse(eol) > Date.now(), `Node ${major} reached end of life on ${eol}`);

  const engines = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines?.node ?? '';
  const admits = engines.split('||').some((range) => {
    const r = range.trim();
    const ge = /^>=\s*(\d+)/.exec(r);
    const caret = /^\^(\d+)/.exec(r);
    return (ge !== null && Number(ge[1]) <= major && !/</.test(r)) || (caret !== null && Number(caret[1]) === major);
  });
  assert.ok(admits, `engines.node "${engines}" does not admit the image's Node ${major}`);
});

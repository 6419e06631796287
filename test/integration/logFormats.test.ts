/**
 * Log formats through the real CLI: a pasted nginx directive and an Apache LogFormat store every
 * line; a format that does not fit the log stops with exit 2 and says which line failed where; an
 * invalid log_format is exit 2; a missing input is exit 1 and creates no data directory; --version.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, describeRun, parseSummary, runCli, tempDir } from '../support/cli.ts';
import { goodLines, writeLines } from '../support/logs.ts';

describe('log formats as people paste them', () => {
  it('stores every line with a pasted nginx directive or Apache LogFormat', async (t) => {
    const dir = tempDir(t, 'formats');
    const log = join(dir, 'access.log');
    writeLines(log, goodLines(120));
    const nginx = `log_format main '$remote_addr - $remote_user [$time_local] "$request" '\n    '$status $body_bytes_sent "$http_referer" '\n    '"$http_user_agent"';`;
    const apache = 'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\"" combined';
    for (const [k, format] of [['nginx', nginx], ['apache', apache]] as const) {
      const r = await runCli(['replay', log, '--data', join(dir, k), '--format', format, '--no-hunts', '--quiet']);
      assert.equal(r.code, 0, describeRun(r));
      const s = parseSummary(r.stdout);
      assert.equal(s.stored, 120, `${k}: every line stored`);
      assert.equal(s.deadLetters, 0, `${k}: no dead letters`);
    }
  });

  it('stops with exit 2 when most of the first lines do not fit the format, naming a line, the format and where it failed', async (t) => {
    const dir = tempDir(t, 'misfit');
    const log = join(dir, 'access.log');
    writeLines(log, goodLines(60));
    const r = await runCli(['replay', log, '--data', join(dir, 'data'), '--format', '$remote_addr [$time_local] "$request" $status', '--no-hunts', '--quiet']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /does not fit .*access\.log: 60 of its first 60 lines do not parse/);
    assert.match(r.stderr, /format tried: \$remote_addr \[\$time_local\]/);
    assert.match(r.stderr, /line 1: 198\.51\.100\.10 - - \[/);
    assert.match(r.stderr, /failed at: invalid ip/);
  });

  it('refuses an invalid log_format with exit 2 and a missing input with exit 1, before creating the data directory', async (t) => {
    const dir = tempDir(t, 'preflight');
    const log = join(dir, 'access.log');
    writeLines(log, goodLines(5));
    const bad = await runCli(['replay', log, '--data', join(dir, 'd1'), '--format', '$remote_addr $time_local', '--quiet']);
    assert.equal(bad.code, 2, describeRun(bad));
    assert.match(bad.stderr, /invalid log_format .*missing \$request, \$request_uri or \$uri/);
    assert.equal(existsSync(join(dir, 'd1')), false, 'no data directory for a bad format');
    const missing = await runCli(['replay', join(dir, 'nope.log'), '--data', join(dir, 'd2'), '--quiet']);
    assert.equal(missing.code, 1, describeRun(missing));
    assert.match(missing.stderr, /Cannot read .*nope\.log: no such file/);
    assert.equal(existsSync(join(dir, 'd2')), false, 'no data directory for a missing input');
  });
});

describe('the command line itself', () => {
  it('prints the package version with --version and -V, exit 0', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout.trim(), version);
    }
  });
});

describe('the config file is not overridden by flags that were not given', () => {
  it('replay uses logFormat and dataDir of the config file when --format and --data are absent', async (t) => {
    const dir = tempDir(t, 'config-defaults');
    const log = join(dir, 'access.log');
    writeLines(log, goodLines(40));
    const dataDir = join(dir, 'from-config');
    const config = join(dir, 'tilewatch.json');
    // A pasted directive that only fits these lines, so the run proves the file's format was used.
    writeFileSync(config, JSON.stringify({ dataDir, logFormat: `log_format main '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';` }));
    const r = await runCli(['replay', log, '--config', config, '--no-hunts', '--quiet'], { cwd: dir });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /format custom/, 'the file\'s log format, not auto-detection');
    assert.equal(parseSummary(r.stdout).stored, 40);
    assert.equal(existsSync(dataDir), true, 'the store is where the file says');
    assert.equal(existsSync(join(dir, 'data')), false, 'not ./data');
  });
});

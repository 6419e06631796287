/**
 * `tilewatch query`: table and JSON output, read-only guards (the engine-parsed statement check and
 * ClickHouse's own readonly = 1), parameters. One data directory for the file: every test here only
 * reads it. The sandbox's attack cases are in querySandbox.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../services/cli/exitCodes.ts';
import { describeRun, runCli, runCliOk } from '../support/cli.ts';
import { combined, goodRequests, T0 } from '../support/logs.ts';

describe('tilewatch query', () => {
  let dir = '';
  let data = '';
  const reqs = [
    ...goodRequests(6, { imageId: 'q-img', ipBase: 1 }),
    { ip: '198.51.100.77', ts: T0 + 60_000, path: '/iiif/2/other/full/full/0/default.jpg', status: 404, bytes: 0 },
  ];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tilewatch-query-'));
    data = join(dir, 'data');
    const log = join(dir, 'access.log');
    writeFileSync(log, reqs.map((q) => `${combined(q)}\n`).join(''));
    await runCliOk(['replay', log, '--data', data, '--quiet']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const q = (sql: string, ...extra: string[]) => runCli(['query', sql, '--data', data, ...extra]);

  test('prints an aligned table with a header, a rule and a row count', async () => {
    const r = await q("SELECT toString(client) AS client, count() AS n, 'x' AS k FROM tile_requests WHERE status = 200 GROUP BY client ORDER BY client LIMIT 3");
    assert.equal(r.code, 0, describeRun(r));
    // Each column as wide as its widest cell; two spaces between columns.
    assert.equal(
      r.stdout,
      'client               n  k\n' +
        '-------------------  -  -\n' +
        '::ffff:198.51.100.1  1  x\n' +
        '::ffff:198.51.100.2  1  x\n' +
        '::ffff:198.51.100.3  1  x\n' +
        '3 row(s)\n',
    );
    const empty = await q('SELECT 1 AS one WHERE 0');
    assert.equal(empty.code, 0, describeRun(empty));
    assert.equal(empty.stdout, '0 row(s)\n');
  });

  test('--output json prints one JSON object per row', async () => {
    const r = await q(
      'SELECT toUInt32(line) AS line, toString(client) AS client, status, path FROM tile_requests ORDER BY line',
      '--output',
      'json',
    );
    assert.equal(r.code, 0, describeRun(r));
    const lines = r.stdout.split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l) as unknown),
      reqs.map((x, i) => ({ line: i + 1, client: `::ffff:${x.ip}`, status: x.status ?? 200, path: x.path })),
    );
  });

  test('--param name=value binds {name:Type} placeholders', async () => {
    const r = await q(
      'SELECT toUInt32(line) AS line FROM tile_requests WHERE status = {status:UInt16} AND image_id = {img:String} AND client = toIPv6({ip:String}) ORDER BY line',
      '--output',
      'json',
      '--param',
      'status=200',
      '--param',
      'img=q-img',
      '--param',
      `ip=::ffff:${reqs[2]!.ip}`,
    );
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout, '{"line":3}\n');
    // A value with '=' in it keeps everything after the first '='.
    const eq = await q('SELECT {v:String} AS v', '--output', 'json', '--param', 'v=a=b');
    assert.equal(eq.stdout, '{"v":"a=b"}\n', describeRun(eq));
    // A malformed --param is a usage error.
    const bad = await q('SELECT 1', '--param', 'novalue');
    assert.equal(bad.code, EXIT.USAGE, describeRun(bad));
    assert.match(bad.stderr, /--param expects name=value, got novalue/);
  });

  test('refuses INSERT, DROP, ALTER and several statements with the usage exit code, leaving the data as it was', async () => {
    const cases: Array<[string, RegExp]> = [
      ["INSERT INTO images (image_id) VALUES ('x')", /read-only statements only/],
      ['DROP TABLE tile_requests', /read-only statements only/],
      ['  alter table tile_requests delete where 1', /read-only statements only/],
      ['SELECT 1; DROP TABLE tile_requests', /exactly one statement/],
      ['SELECT 1;DROP TABLE tile_requests;', /exactly one statement/],
    ];
    // One at a time: the statement is parsed by the engine, so each run opens the data directory.
    for (const [sql, message] of cases) {
      const r = await q(sql);
      assert.equal(r.code, EXIT.USAGE, `${sql}: ${describeRun(r)}`);
      assert.match(r.stderr, message, sql);
      assert.equal(r.stdout, '', sql);
    }
    const count = await q('SELECT count() AS n FROM tile_requests', '--output', 'json');
    assert.equal(count.stdout, `{"n":${reqs.length}}\n`, describeRun(count));
  });

  test('the session is readonly; settings cannot be changed, files cannot be read or written', async () => {
    const ro = await q("SELECT getSetting('readonly') AS ro", '--output', 'json');
    assert.equal(ro.stdout, '{"ro":1}\n', describeRun(ro));

    const lift = await q('SELECT count() FROM tile_requests SETTINGS readonly = 0');
    assert.equal(lift.code, EXIT.USAGE, describeRun(lift));
    assert.match(lift.stderr, /cannot change settings/);

    const file = await q("SELECT * FROM file('/etc/hostname', 'LineAsString')");
    assert.equal(file.code, EXIT.USAGE, describeRun(file));
    assert.match(file.stderr, /refuses file\(\)/);

    const target = join(dir, 'smuggled.txt');
    const out = await q(`SELECT path FROM tile_requests INTO OUTFILE '${target}'`);
    assert.equal(out.code, EXIT.USAGE, describeRun(out));
    assert.match(out.stderr, /does not write files \(INTO OUTFILE\)/);
    assert.equal(existsSync(target), false, 'no file was written');
  });

  test('a bad query exits with the runtime-failure code and the engine message', async () => {
    const r = await q('SELECT no_such_column FROM tile_requests');
    assert.equal(r.code, EXIT.FAILURE, describeRun(r));
    assert.match(r.stderr, /^tilewatch: .*no_such_column/m);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createParser } from '../../../services/core/logformat/createParser.ts';

const COMBINED = '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a.jpg HTTP/1.1" 200 2326 "-" "Mozilla/5.0"';
const COMBINED_XFF = `${COMBINED} "198.51.100.4, 10.0.0.2"`;
const COMMON = '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a.jpg HTTP/1.1" 200 2326';
const JSONL = '{"time":"2000-10-10T13:55:36Z","remote_addr":"1.2.3.4","request":"GET / HTTP/1.1","status":200}';

test('createParser: presets, json, custom, auto', () => {
  assert.equal(createParser({}).name, 'combined');
  assert.equal(createParser({ format: 'auto' }).name, 'combined');
  assert.equal(createParser({ format: 'auto' }, [JSONL]).name, 'json');
  assert.equal(createParser({}, [COMMON]).name, 'common');
  assert.equal(createParser({ format: 'Apache' }).name, 'apache');
  const custom = createParser({ format: '$remote_addr [$time_local] "$request"' });
  assert.equal(custom.name, 'custom');
  const r = custom.parse('1.2.3.4 [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.1"');
  assert.ok(r.ok && r.record.target === '/x');
  const auto = createParser({ format: 'auto', trustedProxies: ['10.0.0.0/8'] }, [COMBINED_XFF.replace('203.0.113.7', '10.0.0.1')]);
  assert.equal(auto.name, 'combined_xff');
  const a = auto.parse(COMBINED_XFF.replace('203.0.113.7', '10.0.0.1'));
  assert.ok(a.ok && a.record.ip === '198.51.100.4');
  const json = createParser({ format: 'json' }).parse(JSONL);
  assert.ok(json.ok && json.record.ip === '1.2.3.4');
});

test('createParser: a given format wins without detection or warnings; auto carries what detection found', () => {
  const commonSample = Array.from({ length: 50 }, () => COMMON);
  const given = createParser({ format: 'combined' }, commonSample);
  assert.deepEqual([given.name, given.warnings, given.detected], ['combined', [], undefined]);
  assert.deepEqual(createParser({ format: 'common' }, commonSample).warnings, []);
  assert.deepEqual(createParser({ format: '$remote_addr [$time_local] "$request"' }, commonSample).warnings, []);

  const auto = createParser({}, commonSample);
  assert.equal(auto.name, 'common');
  assert.equal(auto.detected?.sampleLines, 50);
  assert.equal(auto.warnings.length, 1);
  assert.match(auto.warnings[0]!, /common has no user agent and no Referer/);
  assert.deepEqual(createParser({}, [COMBINED, COMBINED]).warnings, []);
  // Nothing to detect from: combined, silently (nothing is lost).
  assert.deepEqual([createParser({}).name, createParser({}).warnings], ['combined', []]);
});

test('createParser: the line-length limit applies to detection too', () => {
  const long = `${COMBINED.slice(0, -1)}${'x'.repeat(200)}"`;
  assert.equal(createParser({}, [long, long]).name, 'combined');
  const limited = createParser({ maxLineLength: 100 }, [long, long]);
  assert.equal(limited.detected?.confidence, 0);
  assert.match(limited.warnings[0]!, /none of the 2 sample lines parses/);
});

test('createParser: configuration errors', () => {
  assert.throws(
    () => createParser({ format: 'combinde' }),
    (e: unknown) => e instanceof Error && /unknown log format "combinde"/.test(e.message) && /auto, combined, combined_xff, common, apache, json/.test(e.message),
  );
  assert.throws(() => createParser({ format: 'combined', trustedProxies: ['300.0.0.0/8'] }), /invalid CIDR/);
  assert.throws(() => createParser({ format: 'json', trustedProxies: ['x'] }), /invalid CIDR/);
  assert.throws(() => createParser({ format: '$remote_addr' }), /missing/);
  assert.throws(() => createParser({ format: 'combined', maxLineLength: 0 }), /maxLineLength/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createParser } from '../../../services/core/logformat/createParser.ts';
import { detectFormat } from '../../../services/core/logformat/detectFormat.ts';

const COMBINED = '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a.jpg HTTP/1.1" 200 2326 "-" "Mozilla/5.0"';
const COMBINED_XFF = `${COMBINED} "198.51.100.4, 10.0.0.2"`;
const COMBINED_EXTRA = `${COMBINED} "rt=0.003" cache=HIT`;
const COMMON = '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a.jpg HTTP/1.1" 200 2326';
const JSONL = '{"time":"2000-10-10T13:55:36Z","remote_addr":"1.2.3.4","request":"GET / HTTP/1.1","status":200}';

test('detectFormat: each layout', () => {
  assert.deepEqual(detectFormat([COMBINED, COMBINED, '', COMBINED]), { name: 'combined', confidence: 1 });
  assert.deepEqual(detectFormat([COMBINED_XFF, COMBINED_XFF.replace('"198.51.100.4, 10.0.0.2"', '"-"')]), { name: 'combined_xff', confidence: 1 });
  assert.deepEqual(detectFormat([COMBINED_EXTRA, COMBINED_EXTRA]), { name: 'combined', confidence: 1 });
  assert.deepEqual(detectFormat([COMMON, COMMON]), { name: 'common', confidence: 1 });
  assert.deepEqual(detectFormat(['', JSONL, '   ', JSONL]), { name: 'json', confidence: 1 });
});

test('detectFormat: mixed samples pick the majority, confidence is the fraction parsed', () => {
  assert.deepEqual(detectFormat([COMBINED, COMBINED, COMBINED, 'garbage']), { name: 'combined', confidence: 0.75 });
  assert.deepEqual(detectFormat([COMMON, COMMON, COMMON, COMBINED]), { name: 'common', confidence: 1 }); // common ignores trailing fields
  assert.deepEqual(detectFormat([COMBINED_XFF, COMBINED, COMBINED, COMBINED]), { name: 'combined', confidence: 1 });
  assert.deepEqual(detectFormat([JSONL, JSONL, COMBINED]), { name: 'json', confidence: 2 / 3 });
  assert.deepEqual(detectFormat([JSONL, COMBINED, COMBINED]), { name: 'combined', confidence: 2 / 3 });
  assert.deepEqual(detectFormat(['x', 'y']), { name: 'combined', confidence: 0 });
  assert.deepEqual(detectFormat([]), { name: 'combined', confidence: 0 });
  assert.deepEqual(detectFormat(['', '  ']), { name: 'combined', confidence: 0 });
});

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

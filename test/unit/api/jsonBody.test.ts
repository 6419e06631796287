/** The JSON pre-scan: depth and key count are bounded before anything recursive sees a body. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jsonShapeProblem } from '../../../services/api/jsonBody.ts';

const limits = { maxDepth: 16, maxKeys: 1000 };

test('deep nesting and many keys are refused; depth counts objects and arrays alike', () => {
  const nested = (n: number) => '{"report":' + '['.repeat(n) + ']'.repeat(n) + '}';
  assert.equal(jsonShapeProblem(nested(15), limits), null);
  assert.match(jsonShapeProblem(nested(16), limits) ?? '', /deeper than 16 levels/);
  assert.match(jsonShapeProblem(nested(4500), limits) ?? '', /deeper than 16 levels/);
  assert.match(jsonShapeProblem('{"a":'.repeat(17) + '1' + '}'.repeat(17), limits) ?? '', /deeper/);
  const keys = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
  assert.equal(jsonShapeProblem(keys(1000), limits), null);
  assert.match(jsonShapeProblem(keys(1001), limits) ?? '', /more than 1000 keys/);
});

test('brackets, colons and escaped quotes inside strings do not count', () => {
  assert.equal(jsonShapeProblem(JSON.stringify({ note: '['.repeat(100) + ':'.repeat(2000) + '\\"{{{' }), limits), null);
  assert.equal(jsonShapeProblem(JSON.stringify({ note: 'a"b\\' }), limits), null);
});

test('property: the scan agrees with a recursive walk of any parsed document', () => {
  const walk = (v: unknown, d: number): { depth: number; keys: number } => {
    if (Array.isArray(v)) return v.map((x) => walk(x, d + 1)).reduce((a, b) => ({ depth: Math.max(a.depth, b.depth), keys: a.keys + b.keys }), { depth: d + 1, keys: 0 });
    if (v !== null && typeof v === 'object') {
      const entries = Object.values(v);
      return entries.map((x) => walk(x, d + 1)).reduce((a, b) => ({ depth: Math.max(a.depth, b.depth), keys: a.keys + b.keys }), { depth: d + 1, keys: entries.length });
    }
    return { depth: d, keys: 0 };
  };
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 20 }), (v, maxDepth, maxKeys) => {
      const text = JSON.stringify(v);
      const shape = walk(JSON.parse(text), 0);
      const ok = shape.depth <= maxDepth && shape.keys <= maxKeys;
      assert.equal(jsonShapeProblem(text, { maxDepth, maxKeys }) === null, ok, text);
    }),
    { numRuns: 3000 },
  );
});

/** The process's metrics carry tilewatch_build_info (Prometheus convention: labels, value 1). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createMetrics } from '../../../services/observability/metrics.ts';

test('tilewatch_build_info names the package version and the Node.js runtime, value 1', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const text = await createMetrics().registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith('tilewatch_build_info{'));
  assert.ok(line, 'exposed');
  assert.equal(line, `tilewatch_build_info{version="${version}",node="${process.versions.node}"} 1`);
});

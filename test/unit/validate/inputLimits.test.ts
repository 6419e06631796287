import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkStatusAndSize, checkTileAddress, createEventTimeGuard, storableGeometry, DEFAULT_INPUT_LIMITS, SKEW_SAMPLE } from '../../../services/core/validate/inputLimits.ts';
import type { TileRequest } from '../../../services/core/types.ts';

const NOW = Date.UTC(2026, 11, 2, 12);
const DAY = 86_400_000;

test('event time: the absolute window [earliest, now + maxAhead], and never outside what the engine stores', () => {
  const g = createEventTimeGuard(DEFAULT_INPUT_LIMITS, () => NOW);
  assert.equal(g.check(NOW), null);
  assert.equal(g.check(Date.UTC(2000, 0, 1)), null);
  assert.match(g.check(Date.UTC(1999, 11, 31)) ?? '', /before 2000-01-01/);
  assert.match(g.check(NOW + DAY + 1) ?? '', /ahead of the clock/);
  assert.equal(g.check(NOW + DAY - 1), null);
  assert.match(g.check(Number.NaN) ?? '', /not a number/);
  // Limits switched wide open still stop at the engine's DateTime64 range (1900–2299).
  const open = createEventTimeGuard({ ...DEFAULT_INPUT_LIMITS, earliestEventMs: 0, maxAheadMs: 1e15, maxSkewMs: 0 }, () => NOW);
  assert.notEqual(open.check(Date.UTC(1899, 0, 1)), null);
  assert.notEqual(open.check(Date.UTC(2300, 0, 1)), null);
  assert.equal(open.check(Date.UTC(1970, 0, 1)), null);
});

test('event time: a line far from the median of the stream is refused; the median follows a real move of the stream', () => {
  const g = createEventTimeGuard(DEFAULT_INPUT_LIMITS, () => NOW);
  const t0 = Date.UTC(2026, 5, 1);
  for (let i = 0; i < 200; i++) assert.equal(g.check(t0 + i * 1000), null);
  assert.match(g.check(Date.UTC(2024, 0, 1)) ?? '', /from the median/);
  assert.equal(g.check(t0 + 20 * DAY), null, 'within 30 days of the median');
  // The log jumps 60 days ahead (a gap): after about half the sample the new period is accepted again.
  const t1 = t0 + 60 * DAY;
  let refused = 0;
  for (let i = 0; i < SKEW_SAMPLE; i++) if (g.check(t1 + i * 1000) !== null) refused++;
  assert.ok(refused > 0 && refused <= SKEW_SAMPLE / 2 + 128, `refused ${refused}`);
  assert.equal(g.check(t1 + SKEW_SAMPLE * 1000), null);
  // A new input starts afresh.
  g.reset();
  assert.equal(g.check(Date.UTC(2010, 0, 1)), null);
});

test('status and size: HTTP statuses 0–999, sizes 0–maxBytes', () => {
  assert.equal(checkStatusAndSize(200, 0, DEFAULT_INPUT_LIMITS), null);
  assert.equal(checkStatusAndSize(0, 1, DEFAULT_INPUT_LIMITS), null);
  assert.match(checkStatusAndSize(70000, 1, DEFAULT_INPUT_LIMITS) ?? '', /not an HTTP status/);
  assert.match(checkStatusAndSize(200, -5, DEFAULT_INPUT_LIMITS) ?? '', /negative/);
  assert.match(checkStatusAndSize(200, 2 ** 41, DEFAULT_INPUT_LIMITS) ?? '', /exceeds/);
});

test('tile requests: an address Int16 / Int32 columns cannot hold is refused; geometry they cannot hold reveals nothing', () => {
  const ok: TileRequest = { protocol: 'dzi', imageId: 'a', kind: 'tile', level: 14, col: 3, row: 4, rect: { x0: 0, y0: 0, x1: 256, y1: 256 }, scale: 1 };
  assert.equal(checkTileAddress(ok), null);
  assert.match(checkTileAddress({ ...ok, level: 40_000 }) ?? '', /tile address out of range/);
  assert.match(checkTileAddress({ ...ok, col: 2 ** 31 }) ?? '', /tile address out of range/);
  assert.equal(storableGeometry(ok), ok);
  const none = { ...ok, rect: null, scale: 0 };
  assert.deepEqual(storableGeometry({ ...ok, scale: Number.POSITIVE_INFINITY }), none);
  assert.deepEqual(storableGeometry({ ...ok, rect: { x0: 0, y0: 0, x1: 2 ** 33, y1: 1 } }), none);
  assert.deepEqual(storableGeometry({ ...ok, rect: { x0: 0, y0: 0, x1: Number.NaN, y1: 1 } }), none);
});

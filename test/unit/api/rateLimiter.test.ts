/** Fixed-window rate limiting per key on an injected clock; address keys group an IPv6 /64. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey, createRateLimiter } from '../../../services/api/rateLimiter.ts';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('each key has its own budget per window; the window restarts after it ends', () => {
  const c = clock();
  const rl = createRateLimiter({ clock: c, max: 3, windowMs: 60_000 });
  assert.deepEqual([1, 2, 3, 4].map(() => rl.hit('addr:a').allowed), [true, true, true, false]);
  assert.equal(rl.hit('token:t1').allowed, true, 'another key is unaffected');
  const refused = rl.hit('addr:a');
  assert.deepEqual(refused, { allowed: false, limit: 3, remaining: 0, resetInMs: 60_000 });
  c.advance(59_999);
  assert.equal(rl.hit('addr:a').allowed, false);
  c.advance(1);
  assert.deepEqual(rl.hit('addr:a'), { allowed: true, limit: 3, remaining: 2, resetInMs: 60_000 });
});

test('a full table drops expired windows first, then the oldest keys', () => {
  const c = clock();
  const rl = createRateLimiter({ clock: c, max: 1, windowMs: 1000, maxKeys: 2 });
  rl.hit('a');
  c.advance(500);
  rl.hit('b');
  c.advance(600); // a expired, b live
  assert.equal(rl.hit('c').allowed, true);
  assert.equal(rl.hit('b').allowed, false, 'b kept its count (a was dropped, not b)');
  assert.equal(rl.hit('d').allowed, true);
  assert.equal(rl.hit('b').allowed, true, 'the oldest live key went when nothing had expired');
});

test('address keys: IPv4, IPv4-mapped as IPv4, IPv6 by /64', () => {
  assert.equal(addressKey('203.0.113.7'), 'addr:203.0.113.7');
  assert.equal(addressKey('::ffff:203.0.113.7'), 'addr:203.0.113.7');
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), 'addr:2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2:bbbb::9'), addressKey('2001:db8:1:2:aaaa::1'));
  assert.notEqual(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'));
});

/**
 * A phone whose public address changes every few minutes during one browsing session (carrier NAT
 * re-mapping, cell handovers on a train, IPv6 privacy addresses): within the carrier's /16 for IPv4,
 * or within the phone's /64 for IPv6. Per address the session looks short; only together is it one
 * person.
 */
import type { CatalogImage } from './catalog.ts';
import type { SimEvent } from './events.ts';
import { Rng } from './rng.ts';
import { casualThink, viewerSession } from './viewer.ts';
import { pickPopular } from './benign.ts';

const MIN = 60_000;

export interface MobileRotatingParams {
  /** Addresses in the order the phone gets them (more than it can use; unused ones never appear). */
  readonly addresses: readonly string[];
  /** The network they come from ("a.b.0.0/16" or "prefix::/64"), for the label. */
  readonly network: string;
  readonly ua: string;
  /** No new image is opened after this long (ms). */
  readonly durationMs: number;
  /** Time on one address, uniform in [min, max] ms. */
  readonly rotateMinMs: number;
  readonly rotateMaxMs: number;
}

/**
 * Session length 20–60 min and rotation every [lo, hi] min with lo in 2–4 and hi ≤ length / 3, so
 * a session that runs its course uses at least three addresses. `address()` hands out the next one.
 */
export function drawMobileRotatingParams(
  r: Rng,
  ua: string,
  network: string,
  address: () => string,
): MobileRotatingParams {
  const durationMs = r.range(20, 60) * MIN;
  const rotateMinMs = r.range(2, 4) * MIN;
  const rotateMaxMs = Math.max(rotateMinMs, Math.min(rotateMinMs + r.range(1, 4) * MIN, durationMs / 3));
  // Enough addresses for the session plus an overrun of the last image.
  const n = Math.ceil((durationMs + 30 * MIN) / rotateMinMs) + 1;
  return { addresses: Array.from({ length: n }, address), network, ua, durationMs, rotateMinMs, rotateMaxMs };
}

export function* mobileRotatingActor(rng: Rng, p: MobileRotatingParams, start: number, images: readonly CatalogImage[]): Generator<SimEvent, void, undefined> {
  const rot = new Rng(rng.next());
  const session = viewerSession(rng, { ip: p.addresses[0] ?? '', ua: p.ua, proto: 'HTTP/2.0' }, start, pickPopular(rng, images, 60), {
    returning: rng.chance(0.3),
    steps: (r) => Math.min(12, r.count(0, 2.5)),
    think: casualThink,
    pause: (r) => Math.min(8 * MIN, Math.max(10_000, r.logNormal(90_000, 0.8))),
    stopAfter: start + p.durationMs,
  });
  let idx = 0;
  let next = start + rot.range(p.rotateMinMs, p.rotateMaxMs);
  for (let r = session.next(); !r.done; r = session.next()) {
    const ev = r.value;
    while (ev.t >= next && idx < p.addresses.length - 1) {
      idx++;
      next += rot.range(p.rotateMinMs, p.rotateMaxMs);
    }
    ev.ip = p.addresses[idx] ?? ev.ip;
    yield ev;
  }
}

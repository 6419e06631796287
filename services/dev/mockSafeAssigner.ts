/**
 * A kafkajs partition assigner that lets consumer groups with more than one member work on
 * librdkafka's mock cluster.
 *
 * Why: the mock's group coordinator completes a rebalance the moment the leader's SyncGroup arrives
 * (the leader sends every member's assignment) and then answers any follower SyncGroup that comes
 * later with INVALID_REQUEST (42) instead of the assignment, as a real broker would give. kafkajs
 * treats INVALID_REQUEST as fatal: the follower crashes and does not restart (its CRASH event has
 * `restart: false`), and its partitions sit unassigned until its session times out. On loopback the
 * leader often wins that race, above all against a freshly started follower (measured with
 * librdkafka 2.0.2 + kafkajs 2.2.4: the new member crashed on every try without a delay).
 *
 * The fix is on the client side: the leader waits `delayMs` before returning its assignment, so the
 * followers' SyncGroup requests are already parked at the coordinator. Against a real broker this
 * only adds `delayMs` to each rebalance. Keep `delayMs` well below the session timeout.
 */
import kafkajs from 'kafkajs';
import type { PartitionAssigner } from 'kafkajs';

/** kafkajs' round-robin assigner (same protocol name), with the leader's assignment delayed by `delayMs`. */
export function mockSafeRoundRobin(delayMs = 300): PartitionAssigner {
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`delayMs must be ≥ 0, got ${delayMs}`);
  return (config) => {
    const inner = kafkajs.PartitionAssigners.roundRobin(config);
    return {
      name: inner.name,
      version: inner.version,
      protocol: (subscription) => inner.protocol(subscription),
      assign: async (group) => {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return inner.assign(group);
      },
    };
  };
}

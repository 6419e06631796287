/**
 * Former home of the sinks' clock. The one Clock is services/core/clock.ts and its implementation
 * services/runtime/systemClock.ts; these re-exports remain for importers not yet moved
 * (services/cli/commands/alertOutputs.ts). New code imports the originals.
 */
export type { Clock as SinkClock } from '../core/clock.ts';
export { systemClock } from '../runtime/systemClock.ts';

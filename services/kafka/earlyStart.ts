import type { BatchControl, ConsumedBatch, ConsumerHandlers, KafkaConsumer, TopicPartition } from './consumer.ts';

/** While a delivery waits for the handlers to be attached, the group heartbeat is sent this often (ms). */
const HEARTBEAT_WHILE_WAITING_MS = 1000;

/**
 * Starts `consumer` now, before its handlers exist, so that connecting, subscribing and the group
 * join — a new group's first join waits for the broker's `group.initial.rebalance.delay.ms`, 3 s by
 * default and on librdkafka's mock cluster — overlap whatever the caller does meanwhile (opening the
 * store, migrations). The returned consumer's {@link KafkaConsumer.start} attaches the handlers and
 * resolves once the inner one is running. Until then, an assignment, a rebalance or a crash waits for
 * the handlers, and a delivered batch waits too (heartbeating, so the member keeps its partitions):
 * nothing is processed, resolved or committed before the handlers decide. {@link KafkaConsumer.stop}
 * before start leaves the group without delivering anything.
 */
export function startEarly(consumer: KafkaConsumer): KafkaConsumer {
  let attach: (h: ConsumerHandlers) => void = () => undefined;
  const attached = new Promise<ConsumerHandlers>((resolve) => (attach = resolve));
  let stopped = false;
  let wake: () => void = () => undefined;
  const stopping = new Promise<void>((resolve) => (wake = resolve));
  let handlers: ConsumerHandlers | null = null;

  /** The handlers, waiting for them with a heartbeat every second while a delivery is held. */
  const handlersFor = async (control?: BatchControl): Promise<ConsumerHandlers | null> => {
    while (handlers === null && !stopped) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([attached, stopping, new Promise<void>((r) => (timer = setTimeout(r, HEARTBEAT_WHILE_WAITING_MS)))]);
      clearTimeout(timer);
      if (handlers === null && control) await control.heartbeat().catch(() => undefined);
    }
    return stopped ? null : handlers;
  };

  const started = consumer.start({
    onBatch: async (batch: ConsumedBatch, control: BatchControl) => {
      const h = handlers ?? (await handlersFor(control));
      if (h) await h.onBatch(batch, control);
    },
    onAssigned: async (tps: readonly TopicPartition[]) => {
      const h = handlers ?? (await handlersFor());
      if (h) await h.onAssigned(tps);
    },
    onRebalancing: () => {
      if (handlers) handlers.onRebalancing();
      else void attached.then((h) => h.onRebalancing());
    },
    onCrash: (err: Error) => {
      if (handlers) handlers.onCrash(err);
      else void attached.then((h) => h.onCrash(err));
    },
    onHeartbeat: () => handlers?.onHeartbeat?.(),
  });
  // A failure to start is reported by start() (or ignored by stop()); never an unhandled rejection.
  started.catch(() => undefined);

  return {
    async start(h: ConsumerHandlers) {
      if (handlers) throw new Error('consumer already started');
      handlers = h;
      attach(h);
      await started;
    },
    commit: (offsets) => consumer.commit(offsets),
    async stop() {
      stopped = true;
      wake();
      await started.catch(() => undefined);
      await consumer.stop();
    },
  };
}

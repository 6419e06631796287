import type { Alert } from '../core/alert.ts';
import type { OutboxEntry, OutboxStore } from './outbox.ts';

/** An outbox a caller appends to directly (no table behind it). */
export interface AppendableOutbox extends OutboxStore {
  /** Appends a version and returns its position. */
  append(alert: Alert, notice: boolean): number;
}

/**
 * The outbox in memory, for a dispatcher without a store (`createSinkDispatcher` without `outbox`:
 * tests, tools that deliver what they are handed). Nothing survives the process; entries every sink
 * has passed are let go when cursors are saved.
 */
export function memoryOutbox(origin = 'memory'): AppendableOutbox {
  let entries: OutboxEntry[] = [];
  const saved = new Map<string, number>();
  let last = 0;
  return {
    origin,
    append(alert, notice) {
      last++;
      entries.push({ seq: last, notice, alert });
      return last;
    },
    read(afterSeq, upToSeq, limit) {
      const out: OutboxEntry[] = [];
      for (const e of entries) {
        if (out.length >= limit) break;
        if (e.seq > afterSeq && e.seq <= upToSeq) out.push(e);
      }
      return Promise.resolve(out);
    },
    count(afterSeq, upToSeq, everyVersion) {
      return Promise.resolve(entries.filter((e) => e.seq > afterSeq && e.seq <= upToSeq && (everyVersion || e.notice)).length);
    },
    cursors() {
      return Promise.resolve(new Map(saved));
    },
    saveCursors(positions) {
      for (const p of positions) saved.set(p.sink, Math.max(saved.get(p.sink) ?? 0, p.seq));
      if (saved.size > 0) {
        const passed = Math.min(...saved.values());
        entries = entries.filter((e) => e.seq > passed);
      }
      return Promise.resolve();
    },
    lastSeq() {
      return Promise.resolve(last);
    },
  };
}

export const isAppendable = (o: OutboxStore): o is AppendableOutbox => typeof (o as Partial<AppendableOutbox>).append === 'function';



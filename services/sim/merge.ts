/**
 * Lazily merge time-ordered event sources: a source's stream is created only when the merged output
 * reaches its start time, so memory holds one pending event per active source.
 */
import type { EventStream, SimEvent } from './events.ts';
import { MinHeap } from './heap.ts';

export interface Source {
  readonly start: number;
  readonly make: () => EventStream;
}

interface Entry {
  t: number;
  seq: number;
  src: Source;
  it: EventStream | null;
  ev: SimEvent | null;
  lastT: number;
}

/** Merge sources into one stream in non-decreasing time (ties: source order). */
export function* mergeSources(sources: readonly Source[]): Generator<SimEvent, void, undefined> {
  const heap = new MinHeap<Entry>();
  sources.forEach((src, seq) => heap.push({ t: src.start, seq, src, it: null, ev: null, lastT: src.start }));
  for (;;) {
    const e = heap.pop();
    if (!e) return;
    if (e.ev) yield e.ev;
    if (!e.it) e.it = e.src.make();
    const r = e.it.next();
    if (r.done) continue;
    const ev = r.value;
    if (ev.t < e.lastT) ev.t = e.lastT; // each source must be monotone; enforce it
    e.lastT = ev.t;
    e.ev = ev;
    e.t = ev.t;
    heap.push(e);
  }
}

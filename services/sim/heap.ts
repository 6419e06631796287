/**
 * Binary min-heap ordered by (t, seq): merges many time-ordered streams deterministically.
 */
export interface HeapEntry {
  t: number;
  readonly seq: number;
}

export class MinHeap<E extends HeapEntry> {
  private readonly a: E[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): E | undefined {
    return this.a[0];
  }

  private static less(x: HeapEntry, y: HeapEntry): boolean {
    return x.t < y.t || (x.t === y.t && x.seq < y.seq);
  }

  push(e: E): void {
    const a = this.a;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = a[p] as E;
      if (!MinHeap.less(e, pe)) break;
      a[i] = pe;
      i = p;
    }
    a[i] = e;
  }

  pop(): E | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      if (r < n && MinHeap.less(a[r] as E, a[l] as E)) m = r;
      if (!MinHeap.less(a[m] as E, last)) break;
      a[i] = a[m] as E;
      i = m;
    }
    a[i] = last;
    return top;
  }
}

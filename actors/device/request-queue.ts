/**
 * Per-model wait queue of inference requests, bounded and ordered by priority (higher first), FIFO within one
 * priority. Sized in the hundreds, so a sorted insert is simpler and fast enough.
 */
export interface Waiting<T> {
  priority: number;
  seq: number;
  item: T;
}

export class RequestQueue<T> {
  private items: Waiting<T>[] = [];
  private seq = 0;
  constructor(readonly capacity: number) {}
  get length(): number {
    return this.items.length;
  }

  push(item: T, priority: number): boolean {
    if (this.items.length >= this.capacity) return false;
    const w = { priority, seq: this.seq++, item };
    // Find the first entry with a lower priority and insert before it.
    let i = this.items.length;
    while (i > 0 && this.items[i - 1]!.priority < priority) i--;
    this.items.splice(i, 0, w);
    return true;
  }

  shift(): T | undefined {
    return this.items.shift()?.item;
  }
  remove(item: T): boolean {
    const i = this.items.findIndex((w) => w.item === item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }
  drain(): T[] {
    const out = this.items.map((w) => w.item);
    this.items = [];
    return out;
  }
}

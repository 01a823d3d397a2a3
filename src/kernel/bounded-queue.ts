/**
 * A FIFO with a hard capacity. push() refuses instead of growing, so memory under overload stays flat.
 * Array-backed ring: O(1) push/shift, O(n) remove (only used for cancellation of a queued message).
 */
export class BoundedQueue<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private len = 0;
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.buf = new Array(Math.min(capacity, 1024));
  }
  get length(): number {
    return this.len;
  }
  get full(): boolean {
    return this.len >= this.capacity;
  }

  push(item: T): boolean {
    if (this.len >= this.capacity) return false;
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) % this.buf.length] = item;
    this.len++;
    return true;
  }

  shift(): T | undefined {
    if (this.len === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.buf.length;
    this.len--;
    return item;
  }

  /** Remove the first item matching pred; true if one was removed. */
  remove(pred: (item: T) => boolean): boolean {
    for (let i = 0; i < this.len; i++) {
      const idx = (this.head + i) % this.buf.length;
      if (pred(this.buf[idx] as T)) {
        for (let j = i; j < this.len - 1; j++) {
          this.buf[(this.head + j) % this.buf.length] = this.buf[(this.head + j + 1) % this.buf.length];
        }
        this.buf[(this.head + this.len - 1) % this.buf.length] = undefined;
        this.len--;
        return true;
      }
    }
    return false;
  }

  /** Empty the queue, returning what was in it (for failing queued work on shutdown/restart). */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  // Grow geometrically up to capacity: a mailbox of 1M costs nothing until it fills.
  private grow(): void {
    const next = new Array<T | undefined>(Math.min(this.capacity, this.buf.length * 2));
    for (let i = 0; i < this.len; i++) next[i] = this.buf[(this.head + i) % this.buf.length];
    this.buf = next;
    this.head = 0;
  }
}

/**
 * Answers to write actions, remembered by (caller, request_id) for a window, so a legacy REQ client that re-sends
 * on timeout (the Lazy Pirate pattern: close the socket, open a new one, send again — a new routing id, the same
 * request_id) gets the first answer and the action runs once. A retry that arrives while the first is still running
 * waits for the same answer. Bounded: past maxEntries the oldest answers are forgotten first.
 */
export class IdempotencyCache<T> {
  private readonly entries = new Map<string, { at: number; answer: Promise<T> }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The first answer for this key within the window, or run() now and remember what it answers. */
  run(key: string, run: () => Promise<T>): { answer: Promise<T>; replayed: boolean } {
    const now = Date.now();
    this.expire(now);
    const hit = this.entries.get(key);
    if (hit) return { answer: hit.answer, replayed: true };
    const answer = run();
    this.entries.set(key, { at: now, answer });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return { answer, replayed: false };
  }

  /** A retryable failure (busy, restarting, deadline) is not an answer worth replaying: the retry runs again. */
  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Insertion order is time order: drop from the front while expired. */
  private expire(now: number): void {
    for (const [k, e] of this.entries) {
      if (now - e.at < this.windowMs) break;
      this.entries.delete(k);
    }
  }
}

/**
 * Answers to write actions, remembered by (caller, request_id) for a window, so a legacy REQ client that re-sends
 * on timeout (the Lazy Pirate pattern: close the socket, open a new one, send again — a new routing id, the same
 * request_id) gets the first answer and the action runs once. A retry that arrives while the first is still running
 * waits for the same answer. The same key with other fields is refused (REQUEST_ID_REUSED), never answered with the
 * first request's answer. Bounded: past maxEntries the oldest answers are forgotten first.
 */
import { differingKeys } from '../../canonical-json.js';

export class IdempotencyCache<T> {
  private readonly entries = new Map<string, { at: number; answer: Promise<T>; request: Record<string, unknown> }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  /**
   * The first answer for this key within the window, or run() now and remember what it answers. A request under a
   * remembered key that says something else is not a retry: `differs` names its fields, and nothing runs.
   */
  run(
    key: string,
    request: Record<string, unknown>,
    run: () => Promise<T>,
  ): { answer: Promise<T>; replayed: boolean } | { differs: string[] } {
    const now = Date.now();
    this.expire(now);
    const hit = this.entries.get(key);
    if (hit) {
      const differs = differingKeys(hit.request, request);
      return differs.length ? { differs } : { answer: hit.answer, replayed: true };
    }
    const answer = run();
    this.entries.set(key, { at: now, answer, request });
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

/**
 * Keyed serial queue: one turn at a time per key, handed over in arrival order; different keys never wait for each
 * other. The lifecycle keys it by device so that placement decisions for one device are serialized (two loads must
 * not both count the same free bytes) while loads on different devices run side by side.
 *
 * Deadlock freedom rests on one rule: a caller that needs several keys takes them all at once with `turns()`, which
 * takes them one by one in a fixed (sorted) order; nobody holding a turn asks for another with `turn()`.
 *
 * Each key has a bounded number of waiters: one more is refused with MOC_ERR_BUSY, at once.
 */
import { errors } from '../../src/errors.js';

/** Gives a turn back; the key's next waiter gets it. Calling it again does nothing. */
export type Release = () => void;

export class KeyedSerial {
  /** Keys whose turn is taken, with who waits for it, first in line first. A key nobody holds is absent. */
  private readonly lines = new Map<string, Array<() => void>>();

  /** what(key) names the queue in the busy error, e.g. "placement queue of device cpu0". */
  constructor(
    private readonly maxWaiters: number,
    private readonly what: (key: string) => string,
  ) {}

  /** Resolves with the release of `key`'s turn once every earlier caller for that key has released it. */
  turn(key: string): Promise<Release> {
    const waiters = this.lines.get(key);
    if (!waiters) {
      this.lines.set(key, []);
      return Promise.resolve(this.releaser(key));
    }
    if (waiters.length >= this.maxWaiters) return Promise.reject(errors.busy(this.what(key), this.maxWaiters));
    return new Promise((resolve) => waiters.push(() => resolve(this.releaser(key))));
  }

  /**
   * The turns of several keys, taken in sorted order (see the rule above). On a refusal the turns already taken
   * are given back before it is thrown.
   */
  async turns(keys: Iterable<string>): Promise<Map<string, Release>> {
    const held = new Map<string, Release>();
    try {
      for (const key of [...new Set(keys)].sort()) held.set(key, await this.turn(key));
    } catch (err) {
      releaseAll(held);
      throw err;
    }
    return held;
  }

  /** Callers waiting for `key` (the holder not counted). */
  waiting(key: string): number {
    return this.lines.get(key)?.length ?? 0;
  }

  private releaser(key: string): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const waiters = this.lines.get(key)!;
      const next = waiters.shift();
      if (next) next();
      else this.lines.delete(key);
    };
  }
}

export function releaseAll(turns: Map<string, Release>): void {
  for (const release of turns.values()) release();
}

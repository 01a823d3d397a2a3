/**
 * Time as a component can be given it: the wall clock and timers. Production code uses `realClock`; a test hands a
 * `ManualClock` in instead and moves time on with `advance(ms)`, so a keep-alive of a minute, a quota refill or a
 * cache expiry is tested in no time and never by sleeping (a sleep is slow on an idle machine and flaky on a busy one).
 */

/** A timer, as the clock that set it returns it: handed back to that clock's clearTimeout, never looked into. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /** Runs `fn` once, `ms` from now. The timer never keeps the process alive (it is unref'd). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node's setTimeout ceiling (a signed 32-bit ms count): a longer delay fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Timers one advance() may run before it gives up (see advance). */
const MAX_TIMERS_PER_ADVANCE = 100_000;

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that stands still until `advance(ms)`, which runs the timers that come due on the way, earliest first (in
 * the order they were set when due together), each seeing `now()` at its own due time. A timer set by a timer runs in
 * the same advance if it is due by its end. A delay past MAX_TIMER_MS fires after 1 ms, as Node's does, so code that
 * forgets the ceiling fails its test here too.
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(start = Date.now()) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = !(ms >= 1) || ms > MAX_TIMER_MS ? 1 : Math.floor(ms);
    const seq = ++this.seq;
    this.pending.set(seq, { at: this.time + delay, seq, fn });
    return { seq };
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete((handle as { seq: number }).seq);
  }

  /** Timers set and not yet run or cleared. */
  get timers(): number {
    return this.pending.size;
  }

  /** Moves time on by `ms`, running every timer due by then in due order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`ManualClock.advance: ${ms} ms; time only moves forward`);
    const end = this.time + ms;
    for (let ran = 0; ; ran++) {
      // A timer that keeps setting itself again soon would make this loop run for (simulated) days: a bug to report.
      if (ran > MAX_TIMERS_PER_ADVANCE)
        throw new Error(
          `ManualClock.advance(${ms}): over ${MAX_TIMERS_PER_ADVANCE} timers ran; one re-arms itself too soon`,
        );
      let next: Pending | undefined;
      for (const p of this.pending.values()) {
        if (p.at <= end && (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      }
      if (!next) break;
      this.pending.delete(next.seq);
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }
}

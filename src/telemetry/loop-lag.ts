/**
 * Event-loop lag of the thread that creates it (the main thread, a device thread): how late a timer fires, the sign
 * of a thread blocked by synchronous work. Reported as p99 and max over the last whole window (10 s), so a scrape
 * every 15 s sees the latest window and one slow turn is not averaged away; before the first window ends, the
 * window so far.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export const LOOP_LAG_WINDOW_MS = 10_000;
/** Sampling resolution: a lag below this is not seen (the timer's own period). */
const RESOLUTION_MS = 10;

export interface LoopLagReading {
  p99Ms: number;
  maxMs: number;
}

export class LoopLag {
  private readonly h: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private last: LoopLagReading | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(windowMs = LOOP_LAG_WINDOW_MS) {
    this.h.enable();
    this.timer = setInterval(() => {
      this.last = this.current();
      this.h.reset();
    }, windowMs).unref();
  }

  read(): LoopLagReading {
    return this.last ?? this.current();
  }

  private current(): LoopLagReading {
    // The histogram is in nanoseconds; with no sample yet it reports its initial extremes (NaN, 9e18): say 0 then.
    if (this.h.count === 0) return { p99Ms: 0, maxMs: 0 };
    return { p99Ms: this.h.percentile(99) / 1e6, maxMs: this.h.max / 1e6 };
  }

  close(): void {
    clearInterval(this.timer);
    this.h.disable();
  }
}

/**
 * Restart intensity (Erlang/OTP): more than maxRestarts crashes within periodMs is more than restarting can mend, and
 * the owner escalates. The device supervisor (supervisor.ts) and the main-thread actors (main-thread-crashes.ts)
 * count their crashes with it.
 */
export class RestartIntensity {
  private times: number[] = [];

  constructor(
    readonly maxRestarts: number,
    readonly periodMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one crash now; returns how many fell within the period, this one included. */
  record(): number {
    const now = this.now();
    this.times = this.times.filter((t) => now - t < this.periodMs);
    this.times.push(now);
    return this.times.length;
  }

  /** Whether that many crashes in the period exceed the intensity. */
  exceeded(count: number): boolean {
    return count > this.maxRestarts;
  }

  /** `<what> exceeded N restarts in M ms; last: <reason>`: the escalation's reason, in one wording for every owner. */
  reason(what: string, last: string): string {
    return `${what} exceeded ${this.maxRestarts} restarts in ${this.periodMs} ms; last: ${last}`;
  }
}

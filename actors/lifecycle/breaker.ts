/**
 * Per-model circuit breaker on load failures. After `failures` consecutive failed loads it opens: loads fail fast
 * with the last error until `cooldownMs` passed; then one trial load is let through (half-open). Success closes it.
 * Hand-written: libraries such as opossum wrap a function call with timeouts and fallbacks, which is not the shape
 * here (a breaker per model name, fed by coded load outcomes that the lifecycle already has).
 */
import { errors, type MocError } from '../../src/errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export class Breaker {
  private failures = 0;
  private openedAt = 0;
  private trialRunning = false;
  private lastError: MocError | null = null;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.failures < this.threshold) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /** Throws while open (or while a half-open trial is already running); otherwise admits the load. */
  admit(model: string): void {
    const s = this.state;
    if (s === 'closed') return;
    if (s === 'half-open' && !this.trialRunning) {
      this.trialRunning = true;
      return;
    }
    const retryAfterMs = Math.max(0, this.openedAt + this.cooldownMs - this.now());
    throw errors.loadsFailingFast(model, this.failures, this.lastError?.message, s, retryAfterMs);
  }

  success(): void {
    this.failures = 0;
    this.trialRunning = false;
    this.lastError = null;
  }

  failure(err: MocError): void {
    this.trialRunning = false;
    this.failures++;
    this.lastError = err;
    if (this.failures >= this.threshold) this.openedAt = this.now();
  }
}

/**
 * Keep-alive expiry timers, one per idle model, armed from what the devices report (ModelInfo.expiresAt in their
 * models-changed notices). The lifecycle owns them, as it owns soft-limit eviction: one owner decides which model
 * leaves and why. When a model's expiry passes, `due(model, expiresAt)` is called; the lifecycle then asks the device
 * to unload it only if it is still idle with that expiry (UnloadMsg.ifExpiresAt), so a request that came meanwhile
 * keeps it loaded.
 */
import type { ModelInfo } from '../../schemas/messages.js';
import { type Clock, MAX_TIMER_MS, realClock, type TimerHandle } from '../../src/kernel/clock.js';

export class KeepAliveTimers {
  private readonly timers = new Map<string, { at: number; timer: TimerHandle }>();
  private closed = false;

  /** `clock`: a test's ManualClock; the real one's timers are unref'd (an idle model's expiry never keeps the process alive). */
  constructor(
    private readonly due: (model: string, expiresAt: number) => void,
    private readonly clock: Clock = realClock,
  ) {}

  /** One device's report: arm for each idle loaded model with an expiry, disarm its others (and `gone`). */
  follow(models: ModelInfo[], gone: Iterable<string>): void {
    for (const name of gone) this.disarm(name);
    for (const m of models) {
      if (m.state === 'loaded' && m.expiresAt > 0 && !m.pinned) this.arm(m.name, m.expiresAt);
      else this.disarm(m.name);
    }
  }

  /** Models with an expiry armed, for status and tests. */
  get armed(): number {
    return this.timers.size;
  }

  close(): void {
    this.closed = true;
    for (const name of [...this.timers.keys()]) this.disarm(name);
  }

  private arm(model: string, at: number): void {
    if (this.closed || this.timers.get(model)?.at === at) return;
    this.disarm(model);
    // A keep-alive of days (config, catalog or a request) is a chain of capped timers, re-armed until `at`.
    const left = Math.max(0, at - this.clock.now());
    const timer = this.clock.setTimeout(
      () => {
        this.timers.delete(model);
        if (left > MAX_TIMER_MS) this.arm(model, at);
        else this.due(model, at);
      },
      Math.min(left, MAX_TIMER_MS),
    );
    this.timers.set(model, { at, timer });
  }

  private disarm(model: string): void {
    const t = this.timers.get(model);
    if (!t) return;
    this.clock.clearTimeout(t.timer);
    this.timers.delete(model);
  }
}

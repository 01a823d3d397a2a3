/**
 * One-for-one supervisor (Erlang/OTP style): children are data (ChildSpec), started in order, stopped in reverse.
 * A child that exits abnormally is restarted alone. More than maxRestarts restarts within periodMs escalates:
 * every child is stopped and onEscalate runs (at the root, a clean exit with a non-zero code, so systemd or
 * Kubernetes restarts the whole process). A child that fails while the supervisor itself starts is not retried
 * (a broken config would otherwise respawn forever): start() rejects.
 */
import { RestartIntensity } from './restart-intensity.js';
import type { Closeable } from './types.js';

export type RestartPolicy = 'permanent' | 'transient' | 'temporary';

export interface ExitInfo {
  /** True when the child stopped because it was asked to (close/destroy), false for a crash. */
  normal: boolean;
  reason: string;
  /** What the child crashed with, when known: its stack is for the log (reason is what callers are told). */
  error?: Error;
}

export interface ChildHandle extends Closeable {
  /** Settles once, when the child stops for whatever reason. */
  readonly exited: Promise<ExitInfo>;
}

export interface ChildSpec {
  id: string;
  /** permanent: always restarted; transient: only after a crash; temporary: never. */
  restart: RestartPolicy;
  /** Time close() gets before the child is destroyed. */
  shutdownMs: number;
  start(incarnation: number): Promise<ChildHandle>;
}

export interface SupervisorOptions {
  maxRestarts: number;
  periodMs: number;
  /** Delay before restart number n (1-based) within the period; default 50 ms doubling, capped at 2 s. */
  backoffMs?: (n: number) => number;
  onEscalate: (reason: string) => void;
  /** A child is running again (its new incarnation started); `error` is what it crashed with, when known. */
  onRestart?: (id: string, reason: string, incarnation: number, error?: Error) => void;
}

interface Running {
  spec: ChildSpec;
  handle: ChildHandle | null;
  incarnation: number;
}

export class Supervisor implements Closeable {
  private readonly children: Running[] = [];
  private readonly intensity: RestartIntensity;
  private stopping = false;
  private force = false;
  private escalated = false;
  /** Restarts whose start() is running: stopAll waits for them, and they stop what they started (no leaked worker). */
  private readonly starting = new Set<Promise<unknown>>();

  constructor(
    readonly name: string,
    private readonly specs: ChildSpec[],
    private readonly opts: SupervisorOptions,
  ) {
    this.intensity = new RestartIntensity(opts.maxRestarts, opts.periodMs);
  }

  async start(): Promise<void> {
    for (const spec of this.specs) {
      const running: Running = { spec, handle: null, incarnation: 0 };
      try {
        running.handle = await spec.start(0);
      } catch (err) {
        await this.stopAll(true);
        throw new Error(`${this.name}: child '${spec.id}' failed to start: ${(err as Error).message}`, { cause: err });
      }
      this.children.push(running);
      this.watch(running);
    }
  }

  private watch(r: Running): void {
    const handle = r.handle!;
    void handle.exited.then((info) => {
      if (this.stopping || r.handle !== handle) return;
      r.handle = null;
      if (r.spec.restart === 'temporary' || (r.spec.restart === 'transient' && info.normal)) return;
      void this.restart(r, info.reason, info.error);
    });
  }

  private async restart(r: Running, reason: string, error?: Error): Promise<void> {
    const n = this.intensity.record();
    if (this.intensity.exceeded(n)) return this.escalate(this.intensity.reason(r.spec.id, reason));
    const delay = this.opts.backoffMs ? this.opts.backoffMs(n) : Math.min(2000, 50 * 2 ** (n - 1));
    await new Promise((res) => setTimeout(res, delay));
    if (this.stopping) return;
    r.incarnation++;
    // Keep or stop the new incarnation in one place: if shutdown began while it was starting, it is stopped at once.
    const started = r.spec.start(r.incarnation).then(async (handle) => {
      if (this.stopping) return void (await this.stopChild(r.spec, handle, this.force));
      r.handle = handle;
      this.watch(r);
      this.opts.onRestart?.(r.spec.id, reason, r.incarnation, error);
    });
    // Only for stopAll to wait on: the rejection itself is handled below (one more crash of the child).
    const tracked = started.catch(() => {});
    this.starting.add(tracked);
    void tracked.finally(() => this.starting.delete(tracked));
    try {
      await started;
    } catch (err) {
      // A restart that fails to start counts as one more crash of the same child.
      if (!this.stopping) await this.restart(r, `restart failed: ${(err as Error).message}`, err as Error);
    }
  }

  private async escalate(reason: string): Promise<void> {
    if (this.escalated) return;
    this.escalated = true;
    await this.stopAll(true);
    this.opts.onEscalate(reason);
  }

  private async stopAll(force: boolean): Promise<void> {
    this.stopping = true;
    this.force ||= force;
    // A restart caught mid-start stops its new incarnation itself (see restart); wait for that too.
    await Promise.all([...this.starting]);
    for (const r of [...this.children].reverse()) {
      const h = r.handle;
      r.handle = null;
      if (h) await this.stopChild(r.spec, h, force);
    }
  }

  private async stopChild(spec: ChildSpec, h: ChildHandle, force: boolean): Promise<void> {
    if (force) return h.destroy();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((res) => {
      timer = setTimeout(() => res('timeout'), spec.shutdownMs);
    });
    const outcome = await Promise.race([h.close().then(() => 'closed' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') await h.destroy(new Error(`${spec.id} did not stop within ${spec.shutdownMs} ms`));
  }

  close(): Promise<void> {
    return this.stopAll(false);
  }
  destroy(): Promise<void> {
    return this.stopAll(true);
  }
}

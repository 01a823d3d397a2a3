/**
 * What a crash of a main-thread actor (router, lifecycle, jobs, goals, feedback: LocalActor) leads to.
 *
 *   receive() throws a non-coded error ──> LocalActor: the letter fails MOC_ERR_INTERNAL ──> onCrash(err)
 *     ──> told (log line, metric) and counted ──> past the restart intensity: escalate (the process exits non-zero)
 *
 * These actors are not restarted one by one the way a device worker is: their state is the process's (the catalog
 * and route table, the runs of jobs, the goals' subscriptions), and the other actors and the listeners hold them by
 * reference. A crash is a bug that may have broken that state; one crash fails its own request and the actor serves
 * on, but crashes past the same intensity as a device worker's (config supervisor.maxRestarts in periodMs) escalate,
 * so that systemd or Kubernetes restarts the whole process rather than it serving on in an unknown state.
 */
import { RestartIntensity } from './restart-intensity.js';

export interface MainThreadCrashesOptions {
  maxRestarts: number;
  periodMs: number;
  /** Every crash, before the intensity is checked: log it, count it. `count` is the crashes within the period. */
  onCrash: (actor: string, err: Error, count: number) => void;
  /** Once, when the crashes exceed the intensity. */
  onEscalate: (reason: string) => void;
  now?: () => number;
}

export class MainThreadCrashes {
  private readonly intensity: RestartIntensity;
  private escalated = false;

  constructor(private readonly opts: MainThreadCrashesOptions) {
    this.intensity = new RestartIntensity(opts.maxRestarts, opts.periodMs, opts.now);
  }

  /** The LocalActor's onCrash for the actor of that name. */
  watch(actor: string): (err: Error) => void {
    return (err) => this.crashed(actor, err);
  }

  private crashed(actor: string, err: Error): void {
    const count = this.intensity.record();
    this.opts.onCrash(actor, err, count);
    if (this.escalated || !this.intensity.exceeded(count)) return;
    this.escalated = true;
    const { maxRestarts, periodMs } = this.intensity;
    this.opts.onEscalate(
      `main-thread actors crashed more than ${maxRestarts} times in ${periodMs} ms; last: ${actor}: ${err.message}`,
    );
  }
}

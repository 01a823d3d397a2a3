/**
 * The main-thread actors (lifecycle, feedback, jobs, goals, router): each a LocalActor in the assembly, its mailbox
 * in the metrics, its crashes counted against the restart intensity (src/kernel/main-thread-crashes.ts).
 */
import type { Config } from '../../schemas/config.js';
import type { Assembly } from '../kernel/assembly.js';
import { LocalActor, type LocalActorOptions } from '../kernel/local-actor.js';
import { MainThreadCrashes } from '../kernel/main-thread-crashes.js';
import type { Behavior, Closeable, Protocol } from '../kernel/types.js';
import type { Logger } from '../log.js';
import type { ReportDropped } from '../telemetry/dropped.js';
import type { Metrics } from '../telemetry/metrics.js';

/** A mailbox as the metrics read it (moc_actor_mailbox_depth, moc_actor_busy_rejections_total). */
export type Mailboxes = Map<string, { depth: number; refused: number }>;

export class MainActors {
  private readonly crashes: MainThreadCrashes;

  constructor(
    private readonly config: Config,
    private readonly assembly: Assembly,
    private readonly mailboxes: Mailboxes,
    metrics: Metrics,
    log: Logger,
    escalate: (reason: string) => void,
    private readonly dropped: ReportDropped,
  ) {
    this.crashes = new MainThreadCrashes({
      maxRestarts: config.supervisor.maxRestarts,
      periodMs: config.supervisor.periodMs,
      onCrash: (actor, err, count) => {
        metrics.actorCrashes.inc({ actor });
        log.log('error', 'actor.crashed', { actor, crashes_in_period: count, error: err.stack ?? err.message });
      },
      onEscalate: escalate,
    });
  }

  /** Starts one actor as the next part of the assembly; closing it closes its mailbox once what is queued ran. */
  add<P extends Protocol>(name: string, behavior: Behavior<P>, mailbox: Mailbox): Promise<LocalActor<P>> {
    return this.start(name, behavior, mailbox);
  }

  /**
   * For actors whose close must first stop their own work (jobs put runs back in the queue, goals finish their
   * writes): a graceful close asks `shutdown` (within the grace) before the mailbox closes; destroy is immediate.
   */
  addShutdownFirst<P extends Protocol & ShutdownProtocol>(
    name: string,
    behavior: Behavior<P>,
    mailbox: Mailbox,
  ): Promise<LocalActor<P>> {
    const timeoutMs = this.config.shutdown.graceMs + 5000;
    return this.start(name, behavior, mailbox, (actor) => ({
      close: async () => {
        const shutdown = actor as unknown as LocalActor<ShutdownProtocol>;
        await shutdown
          .ask({ kind: 'shutdown' }, { timeoutMs })
          .catch((err) => this.dropped('shutdown.ask', err, { actor: name }));
        await actor.close();
      },
      destroy: () => actor.destroy(),
    }));
  }

  private async start<P extends Protocol>(
    name: string,
    behavior: Behavior<P>,
    mailbox: Mailbox,
    handle?: (actor: LocalActor<P>) => Closeable,
  ): Promise<LocalActor<P>> {
    const actor = await this.assembly.add(
      name,
      () => new LocalActor<P>(name, behavior, { ...mailbox, onCrash: this.crashes.watch(name) }),
      handle ? { handle } : {},
    );
    this.mailboxes.set(name, actor);
    return actor;
  }
}

type Mailbox = Pick<LocalActorOptions, 'capacity' | 'internalCapacity'>;
/** What an actor added with addShutdownFirst understands. */
type ShutdownProtocol = { shutdown: { req: { kind: 'shutdown' }; reply: void } };

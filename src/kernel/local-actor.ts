/**
 * An actor on the current thread: a bounded mailbox drained one message at a time into a Behavior.
 * A full mailbox throws MOC_ERR_BUSY at once; nothing blocks and nothing is dropped silently.
 */
import { errors, MocError, toMocError } from '../errors.js';
import { BoundedQueue } from './bounded-queue.js';
import { Letter } from './letter.js';
import { PendingAsk } from './pending.js';
import type { ActorRef, AskOptions, Behavior, Closeable, Event, Kind, Protocol, Reply, Req } from './types.js';

export interface LocalActorOptions {
  capacity: number;
  /**
   * Room for the actor's own messages (its tasks' results, see Behavior.bind) and its children's notices, kept apart
   * from `capacity` so a mailbox full of requests never refuses the message that finishes one. Default: capacity.
   */
  internalCapacity?: number;
  /** Called when receive() throws: the actor's state may be broken; the owner (supervisor) decides what to do. */
  onCrash?: (err: Error) => void;
}

export class LocalActor<P extends Protocol> implements ActorRef<P>, Closeable {
  private readonly mailbox: BoundedQueue<Letter<P>>;
  /** Messages from the actor itself and its children: handled before the next request (see LocalActorOptions). */
  private readonly internal: BoundedQueue<Letter<P>>;
  private nextId = 1;
  private draining = false;
  private closed = false;
  private destroyed = false;

  constructor(
    readonly name: string,
    private readonly behavior: Behavior<P>,
    private readonly opts: LocalActorOptions,
  ) {
    this.mailbox = new BoundedQueue(opts.capacity);
    this.internal = new BoundedQueue(opts.internalCapacity ?? opts.capacity);
    const internal = this.internal;
    this.inbox = {
      name: `${name} (internal)`,
      tell: (msg) => this.tellInto(msg, true),
      ask: (msg, o) => this.askInto(msg, o, true),
      get depth() {
        return internal.length;
      },
      capacity: opts.internalCapacity ?? opts.capacity,
    };
    behavior.bind?.(this.inbox);
  }

  /**
   * The ref an actor's own tasks (and its children) send through: same messages, same asks with timeouts, but into
   * the internal queue. A behavior gets it in bind(); the owner wires children's notices to it.
   */
  readonly inbox: ActorRef<P>;

  get depth(): number {
    return this.mailbox.length + this.internal.length;
  }
  /** Messages refused because a queue was full (MOC_ERR_BUSY), since start: the metrics read it. */
  refused = 0;
  get capacity(): number {
    return this.mailbox.capacity;
  }

  tell(msg: Req<P>): void {
    this.tellInto(msg, false);
  }

  ask<K extends Kind<P>>(msg: Req<P, K> & { kind: K }, opts: AskOptions<Event<P, K>>): Promise<Reply<P, K>> {
    return this.askInto(msg, opts, false);
  }

  private tellInto(msg: Req<P>, internal: boolean): void {
    // Nobody waits for a tell's answer. A receive() that throws is reported once, by drain(), not here as well.
    this.enqueue(
      new Letter(this.nextId++, msg, Number.MAX_SAFE_INTEGER, true, {
        reply: () => {},
        emit: () => {},
        fail: () => {},
      }),
      internal,
    );
  }

  private askInto<K extends Kind<P>>(
    msg: Req<P, K> & { kind: K },
    opts: AskOptions<Event<P, K>>,
    internal: boolean,
  ): Promise<Reply<P, K>> {
    const pending = new PendingAsk<Reply<P, K>, Event<P, K>>(
      this.nextId++,
      `${this.name}.${msg.kind}`,
      opts,
      (_p, reason) => {
        // Queued: take it out so the actor never sees it. Running: tell the actor through the letter's signal.
        if (!this.mailbox.remove((l) => l === letter) && !this.internal.remove((l) => l === letter))
          letter.abort(reason);
      },
    );
    const letter = new Letter<P>(pending.id, msg, pending.deadline, false, {
      reply: (v) => pending.resolve(v as Reply<P, K>),
      fail: (e) => pending.reject(e),
      emit: (ev) => pending.event(ev as Event<P, K>),
    });
    try {
      this.enqueue(letter, internal);
    } catch (err) {
      pending.reject(err as MocError);
    }
    return pending.promise;
  }

  private enqueue(letter: Letter<P>, internal: boolean): void {
    // A closing actor still takes its own tasks' results (they finish what it had accepted); a destroyed one nothing.
    if (internal ? this.destroyed : this.closed) throw errors.unavailable(`actor ${this.name} is closed`);
    const queue = internal ? this.internal : this.mailbox;
    if (!queue.push(letter)) {
      this.refused++;
      throw errors.busy(`${internal ? 'internal queue' : 'mailbox'} of ${this.name}`, queue.capacity);
    }
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    try {
      for (let letter = this.next(); letter; letter = this.next()) {
        if (letter.settled) continue;
        try {
          await this.behavior.receive(letter);
        } catch (err) {
          const e = toMocError(err);
          letter.fail(e);
          // Coded errors are answers; anything else is a bug that may have broken the actor's state.
          if (!(err instanceof MocError)) this.opts.onCrash?.(err as Error);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private stopped = false;
  private stopBehavior(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.behavior.stop?.();
  }

  private next(): Letter<P> | undefined {
    return this.internal.shift() ?? this.mailbox.shift();
  }

  async close(): Promise<void> {
    this.closed = true;
    // Let what is queued run: close is graceful.
    while (this.draining || this.mailbox.length || this.internal.length) await new Promise((r) => setImmediate(r));
    this.stopBehavior();
  }

  async destroy(err: Error = errors.unavailable(`actor ${this.name} was destroyed`)): Promise<void> {
    this.closed = true;
    this.destroyed = true;
    for (const letter of [...this.internal.drain(), ...this.mailbox.drain()]) letter.fail(err);
    this.stopBehavior();
  }
}

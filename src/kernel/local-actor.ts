/**
 * An actor on the current thread: a bounded mailbox drained one message at a time into a Behavior.
 * A full mailbox throws MOC_ERR_BUSY at once; nothing blocks and nothing is dropped silently.
 */
import { errors, MocError, toMocError } from '../errors.js';
import { BoundedQueue } from './bounded-queue.js';
import { Letter } from './letter.js';
import { PendingAsk } from './pending.js';
import type { ActorRef, AskOptions, Behavior, Closeable, Kind, Protocol, Reply, Req } from './types.js';

export interface LocalActorOptions {
  capacity: number;
  /** Called when receive() throws: the actor's state may be broken; the owner (supervisor) decides what to do. */
  onCrash?: (err: Error) => void;
}

export class LocalActor<P extends Protocol> implements ActorRef<P>, Closeable {
  private readonly mailbox: BoundedQueue<Letter<P>>;
  private nextId = 1;
  private draining = false;
  private closed = false;

  constructor(readonly name: string, private readonly behavior: Behavior<P>, private readonly opts: LocalActorOptions) {
    this.mailbox = new BoundedQueue(opts.capacity);
  }

  get depth(): number { return this.mailbox.length; }
  get capacity(): number { return this.mailbox.capacity; }

  tell(msg: Req<P>): void {
    // Nobody waits for a tell's answer. A receive() that throws is reported once, by drain(), not here as well.
    this.enqueue(new Letter(this.nextId++, msg, Number.MAX_SAFE_INTEGER, true, { reply: () => {}, emit: () => {}, fail: () => {} }));
  }

  ask<K extends Kind<P>>(msg: Req<P, K> & { kind: K }, opts: AskOptions<any>): Promise<Reply<P, K>> {
    const pending = new PendingAsk<Reply<P, K>>(this.nextId++, `${this.name}.${msg.kind}`, opts, (_p, reason) => {
      // Queued: take it out so the actor never sees it. Running: tell the actor through the letter's signal.
      if (!this.mailbox.remove((l) => l === letter)) letter.abort(reason);
    });
    const letter = new Letter<P>(pending.id, msg, pending.deadline, false, {
      reply: (v) => pending.resolve(v as Reply<P, K>),
      fail: (e) => pending.reject(e),
      emit: (ev) => pending.event(ev),
    });
    try {
      this.enqueue(letter);
    } catch (err) {
      pending.reject(err as MocError);
    }
    return pending.promise;
  }

  private enqueue(letter: Letter<P>): void {
    if (this.closed) throw errors.unavailable(`actor ${this.name} is closed`);
    if (!this.mailbox.push(letter)) throw errors.busy(`mailbox of ${this.name}`, this.mailbox.capacity);
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    try {
      for (let letter = this.mailbox.shift(); letter; letter = this.mailbox.shift()) {
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

  async close(): Promise<void> {
    this.closed = true;
    // Let what is queued run: close is graceful.
    while (this.draining || this.mailbox.length) await new Promise((r) => setImmediate(r));
  }

  async destroy(err: Error = errors.unavailable(`actor ${this.name} was destroyed`)): Promise<void> {
    this.closed = true;
    for (const letter of this.mailbox.drain()) letter.fail(err);
  }
}

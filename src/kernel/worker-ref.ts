/**
 * Parent-thread reference to an actor hosted in a worker thread. It outlives the worker: a supervisor attaches each
 * new incarnation and detaches a dead one, failing what the dead one held with MOC_ERR_UNAVAILABLE (retryable).
 *
 * Mailbox = a bounded local queue + at most `window` frames in transit (credit flow control, see wire.ts).
 */
import type { Worker } from 'node:worker_threads';
import { errors, MocError } from '../errors.js';
import { BoundedQueue } from './bounded-queue.js';
import { PendingAsk } from './pending.js';
import type { FromWorker, ToWorker } from './wire.js';
import type { ActorRef, AskOptions, Event, Kind, Protocol, Reply, Req } from './types.js';

type Outgoing = { id: number; msg: unknown; deadline: number; oneWay: boolean };
/** What a frame does to an ask of any kind: a PendingAsk, its reply and event types forgotten (see `pending`). */
interface Waiting {
  readonly id: number;
  resolve(value: unknown): void;
  reject(err: MocError): void;
  event(ev: unknown): void;
}

export class WorkerRef<P extends Protocol> implements ActorRef<P> {
  private worker: Worker | null = null;
  private credits = 0;
  private inTransit = 0;
  private readonly queue: BoundedQueue<Outgoing>;
  /** Asks of every kind, by id: the worker answers each id with its kind's reply and events (hostActor). */
  private readonly pending = new Map<number, Waiting>();
  private nextId = 1;
  private downReason = 'is starting';
  private readonly listener = (f: FromWorker) => this.onFrame(f);
  /** Unsolicited messages from the worker (state changes). */
  onNotify: (msg: unknown) => void = () => {};

  constructor(
    readonly name: string,
    readonly capacity: number,
  ) {
    this.queue = new BoundedQueue(capacity);
  }

  get depth(): number {
    return this.queue.length + this.inTransit;
  }
  /** Messages refused because the mailbox was full (MOC_ERR_BUSY), since start (survives restarts: the ref does). */
  refused = 0;
  get attached(): boolean {
    return this.worker !== null;
  }

  /**
   * The attached worker has started (posted 'ready'). A worker is attached from the moment it is created, before its
   * start (a device's engine, ~1 s) is done: readiness must wait for this, not for attached.
   */
  get started(): boolean {
    return this.worker !== null && this.isStarted;
  }

  private isStarted = false;
  /** Asks waiting for an answer (queued, in transit or running in the worker). */
  get outstanding(): number {
    return this.pending.size;
  }

  attach(worker: Worker): void {
    this.worker = worker;
    this.isStarted = false;
    this.credits = 0;
    this.inTransit = 0;
    worker.on('message', this.listener);
  }

  /**
   * The worker died or is being replaced: everything it held fails retryably, new asks fail fast until attach().
   * `from` names the worker that went away: a late exit of an old incarnation (one whose start timed out) must not
   * detach the incarnation attached after it.
   */
  detach(reason: string, from?: Worker): void {
    if (from && this.worker !== from) return;
    this.worker?.off('message', this.listener);
    this.worker = null;
    this.downReason = reason;
    const err = errors.unavailable(`${this.name} ${reason}`);
    this.queue.drain();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  tell(msg: Req<P>): void {
    this.send({ id: this.nextId++, msg, deadline: Number.MAX_SAFE_INTEGER, oneWay: true });
  }

  ask<K extends Kind<P>>(msg: Req<P, K> & { kind: K }, opts: AskOptions<Event<P, K>>): Promise<Reply<P, K>> {
    const p = new PendingAsk<Reply<P, K>, Event<P, K>>(
      this.nextId++,
      `${this.name}.${msg.kind}`,
      opts,
      (ask, reason) => {
        this.pending.delete(ask.id);
        // Still queued here: drop it. Already posted: the worker aborts it (frees its sequence, stops generating).
        if (!this.queue.remove((o) => o.id === ask.id)) this.post({ t: 'cancel', id: ask.id, reason: reason.toData() });
      },
    );
    try {
      this.send({ id: p.id, msg, deadline: p.deadline, oneWay: false });
      this.pending.set(p.id, p);
    } catch (err) {
      p.reject(err as MocError);
    }
    return p.promise;
  }

  /** Graceful: ask the worker's behavior to close, wait up to ms for it, then the caller terminates the worker. */
  requestClose(): void {
    this.post({ t: 'close' });
  }

  private send(o: Outgoing): void {
    if (!this.worker) throw errors.unavailable(`${this.name} ${this.downReason}`);
    // Capacity covers both the local queue and the frames in transit, so the whole mailbox is bounded.
    if (this.depth >= this.capacity) {
      this.refused++;
      throw errors.busy(`mailbox of ${this.name}`, this.capacity);
    }
    if (this.credits > 0 && this.queue.length === 0) return this.postMsg(o);
    if (!this.queue.push(o)) {
      this.refused++;
      throw errors.busy(`mailbox of ${this.name}`, this.queue.capacity);
    }
  }

  private postMsg(o: Outgoing): void {
    this.credits--;
    this.inTransit++;
    this.post({ t: 'msg', ...o });
  }

  private post(frame: ToWorker): void {
    this.worker?.postMessage(frame);
  }

  private onFrame(f: FromWorker): void {
    switch (f.t) {
      case 'ready':
        this.isStarted = true;
        this.credits = f.window;
        this.flush();
        return;
      case 'credit':
        this.credits += f.n;
        this.inTransit = Math.max(0, this.inTransit - f.n);
        this.flush();
        return;
      case 'reply': {
        const p = this.pending.get(f.id);
        this.pending.delete(f.id);
        p?.resolve(f.value);
        return;
      }
      case 'fail': {
        const p = this.pending.get(f.id);
        this.pending.delete(f.id);
        p?.reject(MocError.fromData(f.error));
        return;
      }
      case 'event':
        this.pending.get(f.id)?.event(f.event);
        return;
      case 'notify':
        this.onNotify(f.msg);
        return;
      case 'closed':
        return;
      default:
        throw new Error(`WorkerRef ${this.name}: unknown frame ${JSON.stringify(f)}`);
    }
  }

  private flush(): void {
    while (this.credits > 0 && this.queue.length > 0) this.postMsg(this.queue.shift()!);
  }
}

/**
 * The actor API, the same whether an actor lives on this thread (LocalActor) or in a worker (WorkerRef ↔ hostActor).
 *
 * A Protocol names each message kind with its request, its reply and (for streams) its events:
 *   interface DeviceProtocol { infer: { req: InferMsg; reply: InferResult; event: TokenEvent } }
 * so `ask` is typed on the sender and `Envelope` on the receiver from one declaration.
 */
import type { MocError } from '../errors.js';

export interface MessageSpec {
  req: { kind: string };
  reply: unknown;
  event?: unknown;
}
export type Protocol = { [K in string]: MessageSpec };
export type Kind<P extends Protocol> = keyof P & string;
export type Req<P extends Protocol, K extends Kind<P> = Kind<P>> = P[K]['req'];
export type Reply<P extends Protocol, K extends Kind<P>> = P[K]['reply'];
export type Event<P extends Protocol, K extends Kind<P>> = P[K] extends { event: infer E } ? E : never;

export interface AskOptions<E = unknown> {
  /** Required: nothing waits unbounded. The ask rejects MOC_ERR_DEADLINE_EXCEEDED when it passes. */
  timeoutMs: number;
  /** Aborting removes a queued message, or asks the actor to stop a running one; the ask rejects MOC_ERR_CANCELLED. */
  signal?: AbortSignal;
  /** Intermediate events (e.g. tokens) the actor emits before its reply. */
  onEvent?: (event: E) => void;
}

export interface ActorRef<P extends Protocol> {
  readonly name: string;
  /** Fire and forget. Throws MOC_ERR_BUSY at once when the mailbox is full, MOC_ERR_UNAVAILABLE while restarting. */
  tell(msg: Req<P>): void;
  ask<K extends Kind<P>>(msg: Req<P, K> & { kind: K }, opts: AskOptions<Event<P, K>>): Promise<Reply<P, K>>;
  /** Messages waiting (not yet handled) and the capacity, for status and tests. */
  readonly depth: number;
  readonly capacity: number;
}

/** What an actor's receive() gets: the message and the one-shot means to answer it. */
export interface Envelope<P extends Protocol, K extends Kind<P> = Kind<P>> {
  readonly msg: Req<P, K>;
  /** Aborted when the asker cancels or its deadline passes; a long-running handler must stop and free what it holds. */
  readonly signal: AbortSignal;
  /** Epoch ms after which nobody waits for the answer. */
  readonly deadline: number;
  /** True for tell (nobody waits for a reply). */
  readonly oneWay: boolean;
  reply(value: Reply<P, K>): void;
  fail(err: MocError | unknown): void;
  emit(event: Event<P, K>): void;
  readonly settled: boolean;
}

export interface Behavior<P extends Protocol> {
  /**
   * Handle one message. Messages are handled one at a time, in order: keep this short. Work that takes long (a
   * generation) is started here and answered later through the envelope, so the mailbox keeps moving.
   */
  receive(env: Envelope<P>): void | Promise<void>;
  /**
   * Called once, before the first message, with the ref the behavior sends itself messages through: long work runs
   * as a task outside receive() and reports its result as a message to self, so every state change happens in
   * receive(), in mailbox order (OTP's handle_info). Only LocalActor calls it.
   */
  bind?(self: ActorRef<P>): void;
  /** Called once when the actor closes or is destroyed: let go of timers and the like (OTP's terminate). */
  stop?(): void;
}

export interface Closeable {
  /** Graceful: stop taking work, finish what is in flight. Idempotent. */
  close(): Promise<void>;
  /** Now: fail what is in flight with err. Idempotent. */
  destroy(err?: Error): Promise<void>;
}

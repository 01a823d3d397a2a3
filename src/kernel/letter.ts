/**
 * Letter: one message in flight with its one-shot answer. Implements Envelope for the receiving actor and guards
 * against double replies (the first of reply/fail/cancel wins; later ones are ignored, never thrown at the actor).
 */
import { toMocError, type MocError } from '../errors.js';
import type { Envelope, Protocol, Req } from './types.js';

export interface LetterSinks {
  reply(value: unknown): void;
  fail(err: MocError): void;
  emit(event: unknown): void;
}

export class Letter<P extends Protocol = Protocol> implements Envelope<P> {
  /**
   * Made on first use: most messages are answered without anyone reading their signal (a list, a status), and an
   * AbortController per message was a measurable part of a cheap request's cost (perf/zmq-load.ts list_models).
   */
  private ac: AbortController | null = null;
  private done = false;
  constructor(
    readonly id: number,
    readonly msg: Req<P>,
    readonly deadline: number,
    readonly oneWay: boolean,
    private readonly sinks: LetterSinks,
  ) {}
  get signal(): AbortSignal {
    return (this.ac ??= new AbortController()).signal;
  }
  get settled(): boolean {
    return this.done;
  }

  reply(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.sinks.reply(value);
  }
  fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.sinks.fail(toMocError(err));
  }
  emit(event: unknown): void {
    if (!this.done) this.sinks.emit(event);
  }
  /** The asker gave up (cancel or deadline): mark settled and tell the actor through signal. */
  abort(reason: MocError): void {
    this.done = true;
    const ac = (this.ac ??= new AbortController());
    if (!ac.signal.aborted) ac.abort(reason);
  }
}

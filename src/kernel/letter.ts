/**
 * Letter: one message in flight with its one-shot answer. Implements Envelope for the receiving actor and guards
 * against double replies (the first of reply/fail/cancel wins; later ones are ignored, never thrown at the actor).
 */
import { toMocError, type MocError } from '../errors.js';
import type { Envelope, Protocol } from './types.js';

export interface LetterSinks {
  reply(value: unknown): void;
  fail(err: MocError): void;
  emit(event: unknown): void;
}

export class Letter<P extends Protocol = Protocol> implements Envelope<P> {
  private readonly ac = new AbortController();
  private done = false;
  constructor(
    readonly id: number,
    readonly msg: any,
    readonly deadline: number,
    readonly oneWay: boolean,
    private readonly sinks: LetterSinks,
  ) {}
  get signal(): AbortSignal { return this.ac.signal; }
  get settled(): boolean { return this.done; }

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
    if (!this.ac.signal.aborted) this.ac.abort(reason);
  }
}

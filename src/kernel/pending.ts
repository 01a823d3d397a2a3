/**
 * Sender side of an ask: the promise, its timeout and its cancellation, shared by LocalActor and WorkerRef.
 * Whatever settles first (reply, failure, timeout, caller's abort) wins; `onGiveUp` lets the ref remove or cancel
 * the message on the receiving side.
 */
import { errors, type MocError } from '../errors.js';
import type { AskOptions } from './types.js';

export class PendingAsk<R = unknown, E = unknown> {
  readonly promise: Promise<R>;
  private resolveFn!: (v: R) => void;
  private rejectFn!: (e: MocError) => void;
  private timer: NodeJS.Timeout | undefined;
  private settled = false;
  private readonly onAbort: () => void;
  readonly deadline: number;

  constructor(
    readonly id: number,
    what: string,
    private readonly opts: AskOptions<E>,
    private readonly onGiveUp: (p: PendingAsk<R, E>, reason: MocError) => void,
  ) {
    if (!(opts.timeoutMs > 0) || !Number.isFinite(opts.timeoutMs)) {
      throw new RangeError(`ask(${what}) needs a finite positive timeoutMs, got ${opts.timeoutMs}`);
    }
    this.deadline = Date.now() + opts.timeoutMs;
    this.promise = new Promise<R>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    this.onAbort = () => this.giveUp(errors.cancelled(what));
    if (opts.signal?.aborted) {
      queueMicrotask(this.onAbort);
    } else {
      opts.signal?.addEventListener('abort', this.onAbort, { once: true });
      this.timer = setTimeout(() => this.giveUp(errors.deadline(what, opts.timeoutMs)), opts.timeoutMs);
    }
  }

  resolve(value: R): void {
    if (this.finish()) this.resolveFn(value);
  }
  reject(err: MocError): void {
    if (this.finish()) this.rejectFn(err);
  }
  event(ev: E): void {
    if (!this.settled) this.opts.onEvent?.(ev);
  }

  private giveUp(reason: MocError): void {
    if (this.settled) return;
    this.reject(reason);
    this.onGiveUp(this, reason);
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    return true;
  }
}

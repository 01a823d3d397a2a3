/**
 * Every call the gRPC server has open, from its request headers to its status, seen by a server interceptor that
 * sits first in the chain (nearest the network). It therefore also sees calls that never reach a handler: those the
 * key check refuses, those grpc-js ends itself (a message over max_receive_message_length), those whose request is
 * still arriving. The transport's close() waits for idle(); destroy() ends what is still open with a status.
 *
 *   network ─▶ BaseServerInterceptingCall ─▶ [tracker] ─▶ [key check] ─▶ handler
 *                  (status sent or stream closed: onCancel)  ◀── sendStatus
 */
import * as grpc from '@grpc/grpc-js';

type Status = Parameters<grpc.ServerInterceptingCall['sendStatus']>[0];

interface Tracked {
  call: grpc.ServerInterceptingCall;
  /** A status went out through this call (from a handler or the key check): only its delivery is pending. */
  statusSent: boolean;
  /**
   * The request is complete, so grpc-js has started the handler (every method here takes one request message):
   * from then on the handler owns the status, and ending the call under it would race its own writes.
   */
  handled: boolean;
}

export class CallTracker {
  private readonly open = new Set<Tracked>();
  private idleWaiters: Array<() => void> = [];

  readonly interceptor: grpc.ServerInterceptor = (_method, next) => {
    const entry: Tracked = {
      call: new grpc.ServerInterceptingCall(next, {
        // onCancel: grpc-js calls it once the status has been handed to http2, or when the stream closed first.
        start: (go) =>
          go({
            onReceiveHalfClose: (next) => {
              entry.handled = true;
              next();
            },
            onCancel: () => this.done(entry),
          }),
        sendStatus: (status, go) => {
          entry.statusSent = true;
          go(status);
        },
      }),
      statusSent: false,
      handled: false,
    };
    this.open.add(entry);
    return entry.call;
  };

  get size(): number {
    return this.open.size;
  }

  /** Resolves when no call is open (at once if none is). */
  idle(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends with this status every open call that no handler holds and that has not sent a status of its own. */
  endUnhandled(status: () => Status): number {
    let n = 0;
    for (const entry of [...this.open]) {
      if (entry.statusSent || entry.handled) continue;
      entry.call.sendStatus(status());
      n++;
    }
    return n;
  }

  private done(entry: Tracked): void {
    if (!this.open.delete(entry) || this.open.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * One WatchModels stream with bounded buffering. A watcher that reads slowly (or never) must not make the server
 * keep every state change for it: while the stream's write buffer is full (write() returned false), only the latest
 * state per model is held, and sent on 'drain'. A client only needs the current state of each model, so nothing
 * it needs is lost; the number of held messages is at most the number of models.
 *
 * A watcher that stays blocked for stallMs while updates wait for it (or whose held set grows past maxHeld) is
 * ended with MOC_ERR_BUSY (RESOURCE_EXHAUSTED, retry-after-ms): it should reconnect and re-read the list.
 */
import type * as grpc from '@grpc/grpc-js';
import { errors } from '../../errors.js';
import { toGrpcError } from './mapping.js';
import type { ModelInfo } from './generated/moc/v1/ModelInfo.js';
import type { WatchModelsRequest__Output } from './generated/moc/v1/WatchModelsRequest.js';

/** A model state as sent on the wire, with its serialized size (computed once for all watchers). */
export interface WatchUpdate {
  name: string;
  message: ModelInfo;
  bytes: number;
}

export interface WatchLimits {
  /** Time a blocked watcher with updates waiting may go without a 'drain' before it is ended. */
  stallMs: number;
  /** Distinct models held for a blocked watcher before it is ended at once. */
  maxHeld: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = { stallMs: 30_000, maxHeld: 10_000 };

export class WatchStream {
  private blocked = false;
  /** Latest update per model, held while blocked. */
  private readonly held = new Map<string, WatchUpdate>();
  /** Bytes given to grpc-js whose write has not completed yet (its buffer plus what http2 has not taken). */
  private unflushedBytes = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly call: grpc.ServerWritableStream<WatchModelsRequest__Output, ModelInfo>,
    private readonly limits: WatchLimits,
    /** Called once when this stream stops (ended by us, cancelled or closed by the client). */
    private readonly onStop: () => void,
  ) {
    call.on('drain', () => this.flush());
    call.on('cancelled', () => this.stop());
  }

  /** Buffered on the server for this watcher: unflushed writes plus held updates. */
  get bufferedBytes(): number {
    let held = 0;
    for (const u of this.held.values()) held += u.bytes;
    return this.unflushedBytes + held;
  }

  get heldCount(): number {
    return this.held.size;
  }

  send(u: WatchUpdate): void {
    if (this.ended || this.call.cancelled) return;
    if (this.blocked) {
      this.held.delete(u.name); // re-insert: the map's order stays the order of the latest changes
      this.held.set(u.name, u);
      if (this.held.size > this.limits.maxHeld) this.fail();
      return;
    }
    this.write(u);
  }

  /** Ends the stream with OK (graceful shutdown). */
  end(): void {
    if (this.ended) return;
    this.stop();
    if (!this.call.cancelled) this.call.end();
  }

  /** Ends the stream with this error (grpc-js sends it after what is already buffered). */
  endWith(err: unknown): void {
    if (this.ended) return;
    this.stop();
    if (!this.call.cancelled) this.call.emit('error', toGrpcError(err));
  }

  private write(u: WatchUpdate): void {
    this.unflushedBytes += u.bytes;
    const ok = this.call.write(u.message, () => {
      this.unflushedBytes -= u.bytes;
    });
    if (!ok && !this.blocked) {
      this.blocked = true;
      this.stallTimer = setTimeout(() => {
        if (this.blocked && this.held.size > 0) this.fail();
      }, this.limits.stallMs);
      this.stallTimer.unref();
    }
  }

  private flush(): void {
    if (this.ended) return;
    this.blocked = false;
    clearTimeout(this.stallTimer);
    for (const [name, u] of this.held) {
      this.held.delete(name);
      this.write(u);
      if (this.blocked) return; // full again: the rest waits for the next 'drain'
    }
  }

  private fail(): void {
    this.endWith(
      errors.busy("this WatchModels stream's send buffer (the client is not reading)", this.limits.maxHeld, 1000),
    );
  }

  private stop(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.stallTimer);
    this.held.clear();
    this.onStop();
  }
}

/**
 * gRPC listener (moc.v1.ModelOps) on the router. Each call becomes one router ask carrying the call's deadline
 * and a cancellation signal: a client that cancels or whose deadline passes stops its generation and frees the
 * sequence. close() stops accepting and lets in-flight calls finish; destroy() ends the calls still running with
 * UNAVAILABLE + retry-after-ms (never a bare cut, which clients see as CANCELLED), then drops the connections.
 */
import * as grpc from '@grpc/grpc-js';
import { errors } from '../../errors.js';
import type { Config } from '../../../schemas/config.js';
import type { ModelView, RouterProtocol } from '../../../schemas/messages.js';
import type { ActorRef, Closeable } from '../../kernel/types.js';
import {
  deviceToProto, inferRequestFromProto, inferResponseToProto, modelInfoToProto, modelRequestFromProto, toGrpcError,
} from './mapping.js';
import { modelOpsService } from './proto.js';
import type { KeyRing } from '../../auth/keys.js';
import { authInterceptors } from './auth-interceptor.js';
import { CallTracker } from './call-tracker.js';
import { DEFAULT_WATCH_LIMITS, WatchStream, type WatchLimits, type WatchUpdate } from './watch-stream.js';

type Call = grpc.ServerUnaryCall<any, any> | grpc.ServerWritableStream<any, any>;

/** Time for the last statuses to leave before connections are dropped (the http2 writes are asynchronous). */
const FLUSH_LINGER_MS = 100;
/** destroy(): how long ended calls may take to deliver their status (a client that does not read never takes it). */
const DESTROY_FLUSH_MS = 1_000;

const delay = (ms: number) => new Promise<void>((r) => { setTimeout(r, ms).unref(); });

export interface GrpcTransportOptions {
  watch?: Partial<WatchLimits>;
}

export class GrpcTransport implements Closeable {
  private readonly server: grpc.Server;
  private closed = false;
  private shutdown: Promise<void> | null = null;
  private destroying: Promise<void> | null = null;
  /** Every open call, from its headers to its status, including those no handler holds (yet). */
  private readonly tracker = new CallTracker();
  /** Unary and InferStream calls in a handler: each ends its call with the given error (destroy). */
  private readonly running = new Set<(err: unknown) => void>();
  /** Open WatchModels streams: ended on close so they do not hold the graceful shutdown. */
  private readonly watchers = new Set<WatchStream>();
  private unsubscribeModels: (() => void) | null = null;
  private readonly watchLimits: WatchLimits;
  private readonly serializeModel: (m: unknown) => Buffer;

  constructor(
    private readonly router: ActorRef<RouterProtocol>,
    private readonly config: Config,
    /** Model state changes for WatchModels (a subscription on the main thread, not an ask: it has no end). */
    private readonly models: { watch(listener: (m: ModelView) => void): () => void },
    /** API keys and roles (src/auth): checked on every call before the router sees it. */
    private readonly keys: KeyRing,
    options: GrpcTransportOptions = {},
  ) {
    this.watchLimits = { ...DEFAULT_WATCH_LIMITS, ...options.watch };
    const service = modelOpsService();
    this.serializeModel = service.WatchModels!.responseSerialize as (m: unknown) => Buffer;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': config.server.maxMessageBytes,
      'grpc.max_send_message_length': config.server.maxMessageBytes,
      // Keepalive pings (server.grpcKeepaliveMs). Besides dead peers, they catch a connection Node's http2 has given
      // up on without telling anyone: one request header field over 64 KiB (HPACK-encoded) makes nghttp2 end the
      // session and stop reading the socket, but Node neither closes it nor emits an event, so the socket would
      // stay ESTABLISHED for ever. Such a session never answers a ping; grpc-js destroys it when the ping times out.
      'grpc.keepalive_time_ms': config.server.grpcKeepaliveMs,
      'grpc.keepalive_timeout_ms': config.server.grpcKeepaliveTimeoutMs,
      // The tracker first (nearest the network): it must see the calls the key check ends too.
      interceptors: [this.tracker.interceptor, ...authInterceptors(keys)],
    });
    this.server.addService(service, {
      Infer: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => this.infer(call, cb),
      InferStream: (call: grpc.ServerWritableStream<any, any>) => this.inferStream(call),
      RegisterModel: this.unary((call, opts) => this.router.ask({ kind: 'register', request: modelRequestFromProto(call.request) }, opts)
        .then(modelInfoToProto), { floorMs: config.limits.loadTimeoutMs }),
      LoadModel: this.unary((call, opts) => this.router.ask({ kind: 'load', request: modelRequestFromProto(call.request) }, opts)
        .then(modelInfoToProto), { floorMs: config.limits.loadTimeoutMs }),
      SetAlias: this.unary((call, opts) => this.router.ask({ kind: 'set-alias', request: { alias: call.request.alias, target: call.request.target } }, opts),
        { floorMs: config.limits.loadTimeoutMs }),
      PinModel: this.unary((call, opts) => this.router.ask({ kind: 'pin', request: { name: call.request.name, pinned: call.request.pinned } }, opts)
        .then(modelInfoToProto)),
      WatchModels: (call: grpc.ServerWritableStream<any, any>) => this.watchModels(call),
      UnloadModel: this.unary((call, opts) => this.router.ask({ kind: 'unload', name: call.request.name }, opts)
        .then((r) => ({ name: r.model, freed_bytes: r.freedBytes })), { floorMs: config.limits.loadTimeoutMs }),
      ListModels: this.unary((_call, opts) => this.router.ask({ kind: 'list-models' }, opts)
        .then((models) => ({ models: models.map(modelInfoToProto) }))),
      GetDevices: this.unary((_call, opts) => this.router.ask({ kind: 'devices' }, opts)
        .then((devices) => ({ devices: devices.map(deviceToProto) }))),
    });
  }

  /** Binds and starts serving; returns the bound port (useful with port 0 in tests). */
  listen(host = this.config.server.host, port = this.config.server.grpcPort): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(new Error(`gRPC cannot listen on ${host}:${port}: ${err.message}`)); else resolve(bound);
      });
    });
  }

  /** For tests and metrics: open calls, and what the WatchModels streams hold on the server. */
  watchStats(): { watchers: number; maxBufferedBytes: number; totalBufferedBytes: number; held: number } {
    let max = 0, total = 0, held = 0;
    for (const w of this.watchers) {
      const b = w.bufferedBytes;
      max = Math.max(max, b);
      total += b;
      held += w.heldCount;
    }
    return { watchers: this.watchers.size, maxBufferedBytes: max, totalBufferedBytes: total, held };
  }

  get openCalls(): number {
    return this.tracker.size;
  }

  /** The call's remaining time (its deadline, capped by the server's limit) and a signal for its cancellation. */
  private control(call: Call, floorMs = 0): { timeoutMs: number; signal: AbortSignal } {
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort(errors.cancelled('request')));
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : Number.isFinite(deadline) ? Number(deadline) - Date.now() : Infinity;
    const cap = Math.max(this.config.limits.requestTimeoutMs, floorMs);
    return { timeoutMs: Math.max(1, Math.min(ms, cap)), signal: ac.signal };
  }

  /** Runs one unary call's work; its callback is called exactly once, by the work or by destroy(). */
  private runUnary<T>(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>, floorMs: number,
    work: (opts: { timeoutMs: number; signal: AbortSignal }) => Promise<T>): void {
    if (this.closed) return cb(toGrpcError(errors.unavailable('the server is shutting down')));
    let settled = false;
    const finish = (err: unknown, value?: T) => {
      if (settled) return;
      settled = true;
      this.running.delete(abort);
      if (err) cb(toGrpcError(err)); else cb(null, value);
    };
    const abort = (err: unknown) => finish(err);
    this.running.add(abort);
    try {
      work(this.control(call, floorMs)).then((r) => finish(null, r), (err) => finish(err ?? errors.internal('empty rejection')));
    } catch (err) {
      finish(err);
    }
  }

  private unary<T>(fn: (call: grpc.ServerUnaryCall<any, any>, opts: { timeoutMs: number; signal: AbortSignal }) => Promise<T>, o: { floorMs?: number } = {}) {
    return (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => this.runUnary(call, cb, o.floorMs ?? 0, (opts) => fn(call, opts));
  }

  private infer(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
    this.runUnary(call, cb, 0, (opts) => this.router.ask({ kind: 'infer', request: inferRequestFromProto(call.request), stream: false }, opts)
      .then(inferResponseToProto));
  }

  private inferStream(call: grpc.ServerWritableStream<any, any>): void {
    if (this.closed) return void call.emit('error', toGrpcError(errors.unavailable('the server is shutting down')));
    // Once ended (by the result or by destroy) nothing more is written: a write after end would be an error of its own.
    let ended = false;
    const finish = (err: unknown, done?: unknown) => {
      if (ended) return;
      ended = true;
      this.running.delete(finish);
      if (call.cancelled) return;
      if (err) return void call.emit('error', toGrpcError(err));
      call.write({ done });
      call.end();
    };
    this.running.add(finish);
    const opts = this.control(call);
    this.router.ask({ kind: 'infer', request: inferRequestFromProto(call.request), stream: true }, {
      ...opts,
      onEvent: (e) => { if (!ended && !call.cancelled) call.write({ text: e.text }); },
    }).then((r) => finish(null, inferResponseToProto(r)), (err) => finish(err ?? errors.internal('empty rejection')));
  }

  private watchModels(call: grpc.ServerWritableStream<any, any>): void {
    if (this.closed) return void call.emit('error', toGrpcError(errors.unavailable('the server is shutting down')));
    const w = new WatchStream(call, this.watchLimits, () => {
      this.watchers.delete(w);
      if (this.watchers.size === 0) { this.unsubscribeModels?.(); this.unsubscribeModels = null; }
    });
    this.watchers.add(w);
    // One subscription for all watchers: each change is converted and measured once, then offered to each stream.
    this.unsubscribeModels ??= this.models.watch((m) => {
      const u = this.update(m);
      for (const each of [...this.watchers]) each.send(u);
    });
    this.router.ask({ kind: 'list-models' }, { timeoutMs: 5000 })
      .then((models) => { for (const m of models) w.send(this.update(m)); }, () => {});
  }

  private update(m: Parameters<typeof modelInfoToProto>[0]): WatchUpdate {
    const message = modelInfoToProto(m);
    return { name: m.name, message, bytes: this.serializeModel(message).length };
  }

  /** tryShutdown once: refuse new calls (GOAWAY); resolves when every connection has closed by itself. */
  private stopAccepting(): Promise<void> {
    this.shutdown ??= new Promise((resolve) => this.server.tryShutdown(() => resolve()));
    return this.shutdown;
  }

  /**
   * Stop accepting; in-flight calls finish (the caller bounds this with the grace period and then destroys).
   * Once no call is open, connections still up are dropped: they hold nothing a client waits for (an upload whose
   * call was already refused, a connection Node's http2 gave up on), and would otherwise hold the whole grace.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.watchers]) w.end();
    const shutdown = this.stopAccepting();
    await Promise.race([shutdown, this.tracker.idle().then(() => delay(FLUSH_LINGER_MS))]);
    this.server.forceShutdown();
  }

  /** Ends every call still open with UNAVAILABLE + retry-after-ms, lets the statuses leave, then drops every connection. */
  destroy(): Promise<void> {
    this.closed = true;
    this.destroying ??= (async () => {
      const shutdown = this.stopAccepting();
      const err = () => errors.unavailable('the server is shutting down and this call did not finish within the grace period');
      for (const end of [...this.running]) end(err());
      for (const w of [...this.watchers]) w.endWith(err());
      // Calls no handler holds (request still arriving, key check running): their status straight from the tracker.
      this.tracker.endUnhandled(() => {
        const s = toGrpcError(err());
        return { code: s.code ?? grpc.status.UNAVAILABLE, details: s.details ?? '', metadata: s.metadata ?? new grpc.Metadata() };
      });
      await Promise.race([shutdown, this.tracker.idle().then(() => delay(FLUSH_LINGER_MS)), delay(DESTROY_FLUSH_MS)]);
      this.server.forceShutdown();
    })();
    return this.destroying;
  }
}

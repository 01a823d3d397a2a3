/**
 * gRPC listener (moc.v1.ModelOps) on the router. Each call becomes one router ask carrying the call's deadline
 * and a cancellation signal: a client that cancels or whose deadline passes stops its generation and frees the
 * sequence. close() stops accepting and lets in-flight calls finish; destroy() cuts them.
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

type Call = grpc.ServerUnaryCall<any, any> | grpc.ServerWritableStream<any, any>;

export class GrpcTransport implements Closeable {
  private readonly server: grpc.Server;
  private closed = false;
  /** Open WatchModels streams: ended on close so they do not hold the graceful shutdown. */
  private readonly watchers = new Set<() => void>();

  constructor(
    private readonly router: ActorRef<RouterProtocol>,
    private readonly config: Config,
    /** Model state changes for WatchModels (a subscription on the main thread, not an ask: it has no end). */
    private readonly models: { watch(listener: (m: ModelView) => void): () => void },
    /** API keys and roles (src/auth): checked on every call before the router sees it. */
    private readonly keys: KeyRing,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': config.server.maxMessageBytes,
      'grpc.max_send_message_length': config.server.maxMessageBytes,
      interceptors: authInterceptors(keys),
    });
    this.server.addService(modelOpsService(), {
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

  /** The call's remaining time (its deadline, capped by the server's limit) and a signal for its cancellation. */
  private control(call: Call, floorMs = 0): { timeoutMs: number; signal: AbortSignal } {
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort(errors.cancelled('request')));
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : Number.isFinite(deadline) ? Number(deadline) - Date.now() : Infinity;
    const cap = Math.max(this.config.limits.requestTimeoutMs, floorMs);
    return { timeoutMs: Math.max(1, Math.min(ms, cap)), signal: ac.signal };
  }

  private unary<T>(fn: (call: grpc.ServerUnaryCall<any, any>, opts: { timeoutMs: number; signal: AbortSignal }) => Promise<T>, o: { floorMs?: number } = {}) {
    return (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
      if (this.closed) return cb(toGrpcError(errors.unavailable('the server is shutting down')));
      let opts: { timeoutMs: number; signal: AbortSignal };
      try { opts = this.control(call, o.floorMs); } catch (err) { return cb(toGrpcError(err)); }
      fn(call, opts).then((r) => cb(null, r), (err) => cb(toGrpcError(err)));
    };
  }

  private infer(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
    if (this.closed) return cb(toGrpcError(errors.unavailable('the server is shutting down')));
    const opts = this.control(call);
    this.router.ask({ kind: 'infer', request: inferRequestFromProto(call.request), stream: false }, opts)
      .then((r) => cb(null, inferResponseToProto(r)), (err) => cb(toGrpcError(err)));
  }

  private inferStream(call: grpc.ServerWritableStream<any, any>): void {
    if (this.closed) return void call.emit('error', toGrpcError(errors.unavailable('the server is shutting down')));
    const opts = this.control(call);
    this.router.ask({ kind: 'infer', request: inferRequestFromProto(call.request), stream: true }, {
      ...opts,
      onEvent: (e) => { if (!call.cancelled) call.write({ text: e.text }); },
    }).then((r) => {
      if (call.cancelled) return;
      call.write({ done: inferResponseToProto(r) });
      call.end();
    }, (err) => {
      if (!call.cancelled) call.emit('error', toGrpcError(err));
    });
  }

  private watchModels(call: grpc.ServerWritableStream<any, any>): void {
    if (this.closed) return void call.emit('error', toGrpcError(errors.unavailable('the server is shutting down')));
    const unsubscribe = this.models.watch((m) => { if (!call.cancelled) call.write(modelInfoToProto(m)); });
    const stop = () => { unsubscribe(); this.watchers.delete(end); };
    const end = () => { stop(); if (!call.cancelled) call.end(); };
    this.watchers.add(end);
    call.on('cancelled', stop);
    this.router.ask({ kind: 'list-models' }, { timeoutMs: 5000 })
      .then((models) => { for (const m of models) if (!call.cancelled) call.write(modelInfoToProto(m)); }, () => {});
  }

  /** Stop accepting; in-flight calls finish (the caller bounds this with the grace period and then destroys). */
  close(): Promise<void> {
    this.closed = true;
    for (const end of [...this.watchers]) end();
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  async destroy(): Promise<void> {
    this.closed = true;
    this.server.forceShutdown();
  }
}

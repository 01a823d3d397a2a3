/**
 * gRPC listener (moc.v1.ModelOps) on the router. Each call becomes one router ask carrying the call's deadline
 * and a cancellation signal: a client that cancels or whose deadline passes stops its generation and frees the
 * sequence. close() stops accepting and lets in-flight calls finish; destroy() ends the calls still running with
 * UNAVAILABLE + retry-after-ms (never a bare cut, which clients see as CANCELLED), then drops the connections.
 * Beside it: the standard grpc.health.v1.Health (readiness, as REST /health/ready) and server reflection (./health.ts).
 */
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { errors } from '../../errors.js';
import type { Config } from '../../../schemas/config.js';
import type { RouterProtocol } from '../../../schemas/messages.js';
import type { Job } from '../../../schemas/jobs.js';
import type { ActorRef, Closeable } from '../../kernel/types.js';
import {
  deviceToProto,
  inferRequestFromProto,
  inferToProto,
  jobToProto,
  listJobsFromProto,
  modelInfoToProto,
  modelRequestFromProto,
  modelToProto,
  createGoalFromProto,
  feedbackFromProto,
  goalToProto,
  listGoalsFromProto,
  submitJobFromProto,
  toGrpcError,
  updateGoalFromProto,
} from './mapping.js';
import { followJob } from '../job-follow.js';
import type { Lifecycle } from '../../../actors/lifecycle/lifecycle.js';
import {
  runOperation,
  traceIdOf,
  type Meter,
  type OperationCall,
  type OperationName,
  type OperationResult,
} from '../operations.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { modelOpsService } from './proto.js';
import { credentialFrom, type KeyRing } from '../../auth/keys.js';
import type { Quotas } from '../../auth/quotas.js';
import { authInterceptors, verifiedSubject } from './auth-interceptor.js';
import { CallTracker } from './call-tracker.js';
import { DEFAULT_WATCH_LIMITS, WatchStream, type WatchLimits, type WatchUpdate } from './watch-stream.js';
import { GrpcHealth } from './health.js';
import type { GetJobRequest__Output } from './generated/moc/v1/GetJobRequest.js';
import type { InferChunk } from './generated/moc/v1/InferChunk.js';
import type { InferRequest__Output } from './generated/moc/v1/InferRequest.js';
import type { InferResponse } from './generated/moc/v1/InferResponse.js';
import type { Job as ProtoJob } from './generated/moc/v1/Job.js';
import type { ModelInfo } from './generated/moc/v1/ModelInfo.js';
import type { ModelOpsHandlers } from './generated/moc/v1/ModelOps.js';
import type { WatchModelsRequest__Output } from './generated/moc/v1/WatchModelsRequest.js';

/** A call as control() reads it: its deadline, metadata, cancellation and peer identity, never its messages. */
type Call = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** Time for the last statuses to leave before connections are dropped (the http2 writes are asynchronous). */
const FLUSH_LINGER_MS = 100;
/** destroy(): how long ended calls may take to deliver their status (a client that does not read never takes it). */
const DESTROY_FLUSH_MS = 1_000;

const delay = (ms: number) =>
  new Promise<void>((r) => {
    setTimeout(r, ms).unref();
  });

export interface GrpcTransportOptions {
  watch?: Partial<WatchLimits>;
  /** Job changes, for WatchJob: this process's as they happen, other processes' every jobs.pollMs. */
  jobs?: { watch(listener: (j: Job) => void): () => void } | null;
  /** Where its requests are counted. */
  metrics?: Metrics;
  /** Per-key budgets (auth.quotas), shared with the other transports. */
  quotas?: Quotas;
  /** Where its request lines go (when config log.requests is on). */
  log?: Logger;
  /** Readiness as REST /health/ready computes it; gRPC health reports SERVING when ready. Absent: SERVING while open. */
  ready?: () => { status: 'ready' | 'not-ready' };
}

/** WatchJob sends a job's latest state at most this often (a trainer may report every step). */
const JOB_WATCH_MIN_INTERVAL_MS = 100;

export class GrpcTransport implements Closeable {
  private readonly server: grpc.Server;
  private readonly jobs: GrpcTransportOptions['jobs'];
  private readonly quotas: Quotas | null;
  /** The TLS files being watched (tls.certFile set) and our listener, removed at close() so the watch stops. */
  private certificates: {
    provider: grpc.experimental.FileWatcherCertificateProvider;
    listener: (u: unknown) => void;
  } | null = null;
  private readonly meter: Meter | null;
  /** Open WatchJob streams (their end functions), ended at close. */
  private readonly jobWatchers = new Set<() => void>();
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
  /** grpc.health.v1.Health and reflection (./health.ts). */
  private readonly health: GrpcHealth;

  constructor(
    private readonly router: ActorRef<RouterProtocol>,
    private readonly config: Config,
    /** Model state changes for WatchModels (a subscription on the main thread, not an ask: it has no end). */
    private readonly models: Pick<Lifecycle, 'watch' | 'page'>,
    /** API keys and roles (src/auth): checked on every call before the router sees it. */
    private readonly keys: KeyRing,
    options: GrpcTransportOptions = {},
  ) {
    this.watchLimits = { ...DEFAULT_WATCH_LIMITS, ...options.watch };
    this.jobs = options.jobs ?? null;
    this.quotas = options.quotas ?? null;
    this.meter = options.metrics
      ? {
          metrics: options.metrics,
          transport: 'grpc',
          ...(config.log.requests && options.log ? { log: options.log } : {}),
        }
      : null;
    const service = modelOpsService();
    this.serializeModel = service.WatchModels!.responseSerialize as (m: unknown) => Buffer;
    this.server = new grpc.Server({
      // Channelz (per-call and per-session counters for a channelz service) is on by default in grpc-js and costs
      // every call; no channelz service is served here, so nobody could read them.
      'grpc.enable_channelz': 0,
      'grpc.max_receive_message_length': config.server.maxMessageBytes,
      'grpc.max_send_message_length': config.server.maxMessageBytes,
      // Keepalive pings (server.grpcKeepaliveMs). Besides dead peers, they catch a connection Node's http2 has given
      // up on without telling anyone: one request header field over 64 KiB (HPACK-encoded) makes nghttp2 end the
      // session and stop reading the socket, but Node neither closes it nor emits an event, so the socket would
      // stay ESTABLISHED for ever. Such a session never answers a ping; grpc-js destroys it when the ping times out.
      'grpc.keepalive_time_ms': config.server.grpcKeepaliveMs,
      'grpc.keepalive_timeout_ms': config.server.grpcKeepaliveTimeoutMs,
      // The tracker first (nearest the network): it must see the calls the key check ends too.
      interceptors: [
        this.tracker.interceptor,
        ...authInterceptors(
          keys,
          options.metrics ? (operation, code) => options.metrics!.request('grpc', operation, code, 0) : undefined,
        ),
      ],
    });
    // One line per method: the operation it runs (src/transports/operations.ts), how the proto request maps onto
    // the operation's input, and how its resource maps onto the proto reply. Typed from proto/moc.proto (generated/).
    const handlers: ModelOpsHandlers = {
      Infer: this.unary('infer', inferRequestFromProto, inferToProto),
      InferStream: (call) => this.inferStream(call),
      RegisterModel: this.unary('register', modelRequestFromProto, modelToProto),
      LoadModel: this.unary('load', modelRequestFromProto, modelToProto),
      UnloadModel: this.unary(
        'unload',
        (r) => ({ name: r.name }),
        (r) => r,
      ),
      SetAlias: this.unary(
        'set-alias',
        (r) => ({ alias: r.alias, target: r.target }),
        (r) => r,
      ),
      PinModel: this.unary('pin', (r) => ({ name: r.name, pinned: r.pinned }), modelToProto),
      ListModels: this.unary(
        'list-models',
        (r) => ({ ...(r.limit ? { limit: r.limit } : {}), ...(r.cursor ? { cursor: r.cursor } : {}) }),
        (page) => ({ models: page.models.map(modelToProto), next_cursor: page.next_cursor }),
      ),
      GetModel: this.unary('get-model', (r) => ({ name: r.name }), modelToProto),
      GetDevices: this.unary(
        'devices',
        () => ({}),
        (devices) => ({ devices: devices.map(deviceToProto) }),
      ),
      GetFleet: this.unary(
        'fleet',
        () => ({}),
        (hosts) => ({
          hosts: hosts.map(({ host_id, alive, silent_ms, ...record }) => ({
            host_id,
            alive,
            silent_ms,
            record_json: JSON.stringify(record),
          })),
        }),
      ),
      WatchModels: (call) => this.watchModels(call),
      SubmitJob: this.unary('submit-job', submitJobFromProto, jobToProto),
      GetJob: this.unary('get-job', (r) => ({ id: r.id }), jobToProto),
      ListJobs: this.unary('list-jobs', listJobsFromProto, (jobs) => ({ jobs: jobs.map(jobToProto) })),
      CancelJob: this.unary('cancel-job', (r) => ({ id: r.id }), jobToProto),
      RecordFeedback: this.unary('record-feedback', feedbackFromProto, (f) => f),
      WatchJob: (call) => this.watchJob(call),
      CreateGoal: this.unary('create-goal', createGoalFromProto, goalToProto),
      GetGoal: this.unary('get-goal', (r) => ({ id: r.id }), goalToProto),
      ListGoals: this.unary('list-goals', listGoalsFromProto, (goals) => ({ goals: goals.map(goalToProto) })),
      UpdateGoal: this.unary('update-goal', updateGoalFromProto, goalToProto),
      CancelGoal: this.unary('cancel-goal', (r) => ({ id: r.id }), goalToProto),
      GoalHistory: this.unary(
        'goal-history',
        (r) => ({ id: r.id }),
        (goals) => ({ goals: goals.map(goalToProto) }),
      ),
    };
    this.server.addService(service, handlers);
    this.health = new GrpcHealth(this.server, options.ready ?? (() => ({ status: 'ready' })));
  }

  /** Binds and starts serving; returns the bound port (useful with port 0 in tests). */
  async listen(host = this.config.server.host, port = this.config.server.grpcPort): Promise<number> {
    const credentials = await this.credentials();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, credentials, (err, bound) => {
        if (err) reject(new Error(`gRPC cannot listen on ${host}:${port}: ${err.message}`));
        else {
          noDelayOnAccept(this.server);
          resolve(bound);
        }
      });
    });
  }

  /**
   * Plaintext, or TLS from tls.certFile/keyFile (and mutual TLS with tls.clientCaFile) through grpc-js's file-watcher
   * certificate provider: the files are re-read every tls.refreshMs, so a rotated certificate reaches new connections
   * without a restart.
   */
  private async credentials(): Promise<grpc.ServerCredentials> {
    const tls = this.config.tls;
    if (!tls.certFile) return grpc.ServerCredentials.createInsecure();
    const provider = new grpc.experimental.FileWatcherCertificateProvider({
      certificateFile: tls.certFile,
      privateKeyFile: tls.keyFile,
      ...(tls.clientCaFile ? { caCertificateFile: tls.clientCaFile } : {}),
      refreshIntervalMs: tls.refreshMs,
    });
    // Our own listener keeps the files watched from now until close(), and the first read done before the server
    // binds: credentials attached before any read serve no TLS at all (grpc-js then drops every handshake until the
    // files next change). A file that cannot be read fails the start, as a bad config does.
    const first = await new Promise<unknown>((resolve) => {
      let settled = false;
      this.certificates = {
        provider,
        listener: (update) => {
          if (!settled) {
            settled = true;
            resolve(update);
          }
        },
      };
      provider.addIdentityCertificateListener(this.certificates.listener);
    });
    if (!first) {
      this.unwatchCertificates();
      throw new Error(`tls: cannot read ${tls.certFile} and ${tls.keyFile} (a PEM certificate and its private key)`);
    }
    // grpc-js 1.14 hands this function's first argument to the credentials as the *identity* provider and the second
    // as the CA provider (its parameter names say the opposite); the TLS tests would fail were it otherwise.
    return grpc.experimental.createCertificateProviderServerCredentials(
      provider,
      tls.clientCaFile ? provider : null,
      tls.requireClientCert,
    );
  }

  /** For tests and metrics: open calls, and what the WatchModels streams hold on the server. */
  watchStats(): { watchers: number; maxBufferedBytes: number; totalBufferedBytes: number; held: number } {
    let max = 0,
      total = 0,
      held = 0;
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

  /**
   * The call as an operation sees it: the time its client still waits (its deadline) and its cancellation.
   * `over`: the operation has settled. grpc-js emits 'cancelled' after every call too, once its status is out
   * (onCancel), so only an operation still running is aborted (a call ended by destroy() still stops its work): the
   * CANCELLED error (its stack) and the abort built for every answered call were ~3 % of a unary call's CPU.
   */
  private control(call: Call, over: () => boolean, onToken?: OperationCall['onToken']): OperationCall {
    const ac = new AbortController();
    call.on('cancelled', () => {
      if (!over()) ac.abort(errors.cancelled('request'));
    });
    const deadline = call.getDeadline();
    const ms =
      deadline instanceof Date
        ? deadline.getTime() - Date.now()
        : Number.isFinite(deadline)
          ? Number(deadline) - Date.now()
          : Infinity;
    const md = call.metadata;
    const first = (k: string) => {
      const v = md.get(k)[0];
      return typeof v === 'string' ? v : undefined;
    };
    const traceId = traceIdOf(first('traceparent'));
    const who = () =>
      this.keys.authenticate(
        credentialFrom(first('authorization'), first('x-api-key')),
        verifiedSubject(call.getAuthContext()),
      );
    return {
      router: this.router,
      config: this.config,
      signal: ac.signal,
      // The interceptor checked the key already; the name is looked up again only by operations that record an owner.
      principal: () => who().name,
      ...(this.quotas ? { caller: who, quotas: this.quotas } : {}),
      ...(Number.isFinite(ms) ? { clientTimeoutMs: ms } : {}),
      ...(onToken ? { onToken } : {}),
      ...(this.meter ? { meter: this.meter } : {}),
      ...(traceId ? { traceId } : {}),
    };
  }

  /** Runs one unary call's work; its callback is called exactly once, by the work or by destroy(). */
  private runUnary<T>(
    call: grpc.ServerUnaryCall<unknown, unknown>,
    cb: grpc.sendUnaryData<T>,
    work: (c: OperationCall) => Promise<T>,
  ): void {
    if (this.closed) return cb(toGrpcError(errors.unavailable('the server is shutting down')));
    let settled = false;
    let workDone = false;
    const finish = (err: unknown, value?: T) => {
      if (settled) return;
      settled = true;
      this.running.delete(abort);
      if (err) cb(toGrpcError(err));
      else cb(null, value);
    };
    const abort = (err: unknown) => finish(err);
    this.running.add(abort);
    try {
      work(this.control(call, () => workDone)).then(
        (r) => {
          workDone = true;
          finish(null, r);
        },
        (err) => {
          workDone = true;
          finish(err ?? errors.internal('empty rejection'));
        },
      );
    } catch (err) {
      finish(err);
    }
  }

  /** A unary method: decode the proto request, run the operation, encode its resource. */
  private unary<N extends OperationName, Req, Res>(
    name: N,
    decode: (req: Req) => Record<string, unknown>,
    encode: (result: OperationResult<N>) => Res,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, cb) => this.runUnary(call, cb, (c) => runOperation(name, decode(call.request), c).then(encode));
  }

  private inferStream(call: grpc.ServerWritableStream<InferRequest__Output, InferChunk>): void {
    if (this.closed) return void call.emit('error', toGrpcError(errors.unavailable('the server is shutting down')));
    // Once ended (by the result or by destroy) nothing more is written: a write after end would be an error of its own.
    let ended = false;
    const finish = (err: unknown, done?: InferResponse) => {
      if (ended) return;
      ended = true;
      this.running.delete(finish);
      if (call.cancelled) return;
      if (err) return void call.emit('error', toGrpcError(err));
      call.write({ done });
      call.end();
    };
    this.running.add(finish);
    let workDone = false;
    const c = this.control(
      call,
      () => workDone,
      (e) => {
        if (!ended && !call.cancelled) call.write(e.call ? { tool_call: e.call } : { text: e.text });
      },
    );
    runOperation('infer', inferRequestFromProto(call.request), c).then(
      (r) => {
        workDone = true;
        finish(null, inferToProto(r));
      },
      (err) => {
        workDone = true;
        finish(err ?? errors.internal('empty rejection'));
      },
    );
  }

  private watchModels(call: grpc.ServerWritableStream<WatchModelsRequest__Output, ModelInfo>): void {
    if (this.closed) return void call.emit('error', toGrpcError(errors.unavailable('the server is shutting down')));
    const w = new WatchStream(call, this.watchLimits, () => {
      this.watchers.delete(w);
      if (this.watchers.size === 0) {
        this.unsubscribeModels?.();
        this.unsubscribeModels = null;
      }
    });
    this.watchers.add(w);
    // One subscription for all watchers: each change is converted and measured once, then offered to each stream.
    this.unsubscribeModels ??= this.models.watch((m) => {
      const u = this.update(m);
      for (const each of [...this.watchers]) each.send(u);
    });
    // Every model now (the live view, same thread), then its changes.
    for (const m of this.models.page('', Infinity).models) w.send(this.update(m));
  }

  /**
   * WatchJob: the job now, then its changes (at most one per JOB_WATCH_MIN_INTERVAL_MS, the latest), until it ends:
   * the stream then closes with OK after its final state (src/transports/job-follow.ts; a job run by another process
   * on the same data directory is seen every jobs.pollMs).
   */
  private watchJob(call: grpc.ServerWritableStream<GetJobRequest__Output, ProtoJob>): void {
    if (this.closed) return void call.emit('error', toGrpcError(errors.unavailable('the server is shutting down')));
    const id = call.request.id;
    const control = this.control(call, () => false);
    const finish = () => {
      stop();
      this.jobWatchers.delete(finish);
      if (!call.cancelled) call.end();
    };
    const stop = followJob(
      id,
      {
        read: () => runOperation('get-job', { id }, { ...control, clientTimeoutMs: 5000 }),
        jobs: this.jobs,
        minIntervalMs: JOB_WATCH_MIN_INTERVAL_MS,
      },
      {
        send: (job, final) => {
          call.write(jobToProto(job));
          if (final) finish();
        },
        fail: (err) => {
          this.jobWatchers.delete(finish);
          call.emit('error', toGrpcError(err));
        },
      },
    );
    this.jobWatchers.add(finish);
    call.on('cancelled', finish);
  }

  private update(m: Parameters<typeof modelInfoToProto>[0]): WatchUpdate {
    const message = modelInfoToProto(m);
    return { name: m.name, message, bytes: this.serializeModel(message).length };
  }

  /** Re-reads readiness for gRPC health now (the coordinator calls it when draining starts, not to wait for the timer). */
  refreshHealth(): void {
    this.health.refresh();
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
    this.health.close();
    for (const w of [...this.watchers]) w.end();
    for (const end of [...this.jobWatchers]) end();
    const shutdown = this.stopAccepting();
    await Promise.race([shutdown, this.tracker.idle().then(() => delay(FLUSH_LINGER_MS))]);
    this.server.forceShutdown();
    this.unwatchCertificates();
  }

  private unwatchCertificates(): void {
    if (this.certificates) this.certificates.provider.removeIdentityCertificateListener(this.certificates.listener);
    this.certificates = null;
  }

  /** Ends every call still open with UNAVAILABLE + retry-after-ms, lets the statuses leave, then drops every connection. */
  destroy(): Promise<void> {
    this.closed = true;
    this.health.close();
    this.destroying ??= (async () => {
      const shutdown = this.stopAccepting();
      const err = () =>
        errors.unavailable('the server is shutting down and this call did not finish within the grace period');
      for (const end of [...this.running]) end(err());
      for (const w of [...this.watchers]) w.endWith(err());
      // Calls no handler holds (request still arriving, key check running): their status straight from the tracker.
      this.tracker.endUnhandled(() => {
        const s = toGrpcError(err());
        return {
          code: s.code ?? grpc.status.UNAVAILABLE,
          details: s.details ?? '',
          metadata: s.metadata ?? new grpc.Metadata(),
        };
      });
      await Promise.race([shutdown, this.tracker.idle().then(() => delay(FLUSH_LINGER_MS)), delay(DESTROY_FLUSH_MS)]);
      this.server.forceShutdown();
      this.unwatchCertificates();
    })();
    return this.destroying;
  }
}

/**
 * TCP_NODELAY on every connection the server accepts. grpc-js sets it on its client's sockets (since 1.13.3, as the
 * C core, Java and Go do on both ends) but not on the ones its server accepts, and Node's http2 server does not either:
 * with Nagle on, a reply's frames written apart wait for the client's delayed ACK (up to 40 ms on Linux) whenever the
 * connection is not busy enough to carry ACKs the other way — measured here as three hosts each answering a third of
 * the submits slower than one host answering all of them. grpc-js keeps its http2 servers in a private field; if a
 * version renames it, nothing is set and the server still works (as before).
 */
function noDelayOnAccept(server: grpc.Server): void {
  const servers = (server as unknown as { http2Servers?: Map<net.Server, unknown> }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const s of servers.keys()) {
    if (!(s instanceof net.Server) || s.listeners('connection').includes(setNoDelay)) continue;
    s.on('connection', setNoDelay);
  }
}

function setNoDelay(socket: net.Socket): void {
  socket.setNoDelay(true);
}

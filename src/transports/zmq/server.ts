/**
 * ZeroMQ listener for legacy agents: one ROUTER socket, so many REQ and DEALER clients are served concurrently and
 * each reply is routed back by identity. Every request gets exactly one reply — malformed, oversized, unknown
 * action, unauthenticated, at overload — because a REQ client that misses one is wedged forever (libzmq#3282).
 *
 * - The socket is `mandatory` with a send timeout of 0: a reply to a vanished peer (EHOSTUNREACH) or to one whose
 *   queue is full (EAGAIN) fails at once, is counted, and is not retried; it never blocks the socket for others.
 * - ZMTP heartbeats drop dead peers; ZMQ_MAXMSGSIZE caps what libzmq buffers (a peer sending more is disconnected:
 *   libzmq never hands over the message, so there is nothing to answer); below it, rest.maxMessageBytes answers TOO_LARGE.
 * - Requests in flight are bounded (server.mailboxCapacity): past it, BUSY with a retry hint.
 * - Write actions with a request_id are idempotent within a window (IdempotencyCache).
 * - Optional CURVE with a ZAP handler checking client keys against an allow-list.
 */
import type { Metrics } from '../../telemetry/metrics.js';
import { traceIdOf } from '../operations.js';
import * as zmq from 'zeromq';
import { setMaxListeners } from 'node:events';
import { errors, toMocError } from '../../errors.js';
import type { Config } from '../../../schemas/config.js';
import type { RouterProtocol } from '../../../schemas/messages.js';
import type { ActorRef, Closeable } from '../../kernel/types.js';
import type { Logger } from '../../log.js';
import type { KeyRing, Principal } from '../../auth/keys.js';
import type { Quotas } from '../../auth/quotas.js';
import { ACTIONS, ACTION_NAMES } from './actions.js';
import { decodePayload, encodeReply, formatOf, splitFrames, type Format } from './codec.js';
import { IdempotencyCache } from './idempotency.js';
import { ZapHandler, z85Decode } from './zap.js';

type Reply = Record<string, unknown>;

export interface ZmqStats {
  received: number;
  replied: number;
  /** Replies that could not be delivered (peer gone or its queue full): counted, dropped, never retried. */
  undeliverable: number;
  /** Answers replayed to a retried write (same request_id). */
  replayed: number;
  inFlight: number;
}

export interface ZmqDeps {
  /** For the `health` action: readiness, devices, models. */
  health(): Record<string, unknown>;
  /** Where its requests are counted. */
  metrics?: Metrics;
  /** Per-key budgets (auth.quotas), shared with the other transports. */
  quotas?: Quotas;
}

/** At most one "undeliverable" log line per this many ms: a storm of vanished clients is a counter, not a log flood. */
const UNDELIVERABLE_LOG_EVERY_MS = 10_000;

export class ZmqTransport implements Closeable {
  private readonly sock: zmq.Router;
  private zap: ZapHandler | null = null;
  private readonly cache: IdempotencyCache<Reply>;
  private readonly shutdown = new AbortController();
  private loop: Promise<void> | null = null;
  private closing = false;
  private drained: (() => void) | null = null;
  private lastUndeliverableLog = 0;
  readonly stats: ZmqStats = { received: 0, replied: 0, undeliverable: 0, replayed: 0, inFlight: 0 };
  endpoint = '';

  constructor(
    private readonly router: ActorRef<RouterProtocol>,
    private readonly config: Config,
    private readonly keys: KeyRing,
    private readonly deps: ZmqDeps,
    private readonly log: Logger,
  ) {
    // Every request in flight listens on the shutdown signal until it is answered (the router's ask removes its
    // listener then): as many listeners as requests in flight, bounded by server.mailboxCapacity, not a leak. Node's
    // default warning at 11 listeners only said so on stderr under load.
    setMaxListeners(0, this.shutdown.signal);
    const z = config.zmq;
    const curve = z.curve.enabled ? curveOptions(z.curve) : {};
    this.sock = new zmq.Router({
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: z.sendHighWaterMark,
      maxMessageSize: z.hardMaxMessageBytes || 4 * z.maxMessageBytes,
      heartbeatInterval: z.heartbeatIntervalMs,
      heartbeatTimeout: z.heartbeatTimeoutMs,
      heartbeatTimeToLive: z.heartbeatTimeoutMs,
      linger: 1000,
      ...curve,
    });
    this.cache = new IdempotencyCache(z.idempotencyWindowMs, z.idempotencyMaxEntries);
  }

  /** Binds and starts serving; returns the bound port (port 0 picks a free one). */
  async listen(host = this.config.server.host, port = this.config.zmq.port): Promise<number> {
    if (this.config.zmq.curve.enabled) {
      this.zap = new ZapHandler(this.config.zmq.curve.allowedClientKeys, (address, mechanism) =>
        this.log.log('warn', 'zmq.client_refused', { address, mechanism }),
      );
      await this.zap.start();
    }
    try {
      await this.sock.bind(`tcp://${host}:${port === 0 ? '*' : port}`);
    } catch (err) {
      await this.zap?.close();
      throw new Error(`ZMQ cannot listen on ${host}:${port} (${(err as Error).message}); set zmq.port`);
    }
    this.endpoint = this.sock.lastEndpoint ?? '';
    this.loop = this.receive();
    return Number(/:(\d+)$/.exec(this.endpoint)?.[1] ?? port);
  }

  get libzmqVersion(): string {
    return zmq.version;
  }

  /** CURVE client checks so far (null without CURVE): what the ZAP handler allowed and denied. */
  get zapCounts(): { allowed: number; denied: number } | null {
    return this.zap ? { allowed: this.zap.allowedCount, denied: this.zap.deniedCount } : null;
  }

  private async receive(): Promise<void> {
    try {
      for await (const frames of this.sock) this.handle(frames);
    } catch (err) {
      if (!this.sock.closed) this.log.log('error', 'zmq.receive_failed', { error: (err as Error).message });
    }
  }

  /** Never throws and never awaits: each request is answered on its own, the socket keeps reading. */
  private handle(frames: Buffer[]): void {
    this.stats.received++;
    const d = splitFrames(frames);
    if (!d.payload) return this.send(d.envelope, 'json', this.refused(undefined, undefined, d.problem!));
    const format = formatOf(d.payload);
    if (d.payload.length > this.config.zmq.maxMessageBytes) {
      return this.send(
        d.envelope,
        format,
        this.refused(
          undefined,
          undefined,
          errors.tooLarge('the message', d.payload.length, this.config.zmq.maxMessageBytes, 'zmq.maxMessageBytes'),
        ),
      );
    }
    let requestId: string | undefined;
    let operation: string | undefined;
    try {
      const msg = decodePayload(d.payload, format);
      const { action, request_id, api_key, timeout_ms, traceparent, ...fields } = msg;
      const traceId = typeof traceparent === 'string' ? traceIdOf(traceparent) : undefined;
      if (request_id !== undefined && (typeof request_id !== 'string' || request_id.length > 128)) {
        throw errors.invalidArgument('request_id', 'must be a string of at most 128 characters');
      }
      requestId = request_id;
      if (typeof action !== 'string' || !Object.hasOwn(ACTIONS, action)) {
        throw errors.unknownAction(action, ACTION_NAMES);
      }
      if (api_key !== undefined && typeof api_key !== 'string')
        throw errors.invalidArgument('api_key', 'must be a string');
      if (timeout_ms !== undefined && (typeof timeout_ms !== 'number' || !(timeout_ms > 0)))
        throw errors.invalidArgument('timeout_ms', 'must be a positive number of milliseconds');
      const spec = ACTIONS[action]!;
      operation = spec.operation ?? 'none';
      const checked = spec.auth ? this.keys.check(api_key, spec.auth) : null;
      // The rest runs once the caller is known: at once, or after a bearer JWT seen for the first time is verified.
      const admit = (principal: Principal | null): void => {
        if (this.closing) throw errors.unavailable('the server is shutting down');
        if (this.stats.inFlight >= this.config.server.mailboxCapacity) {
          throw errors.busy('the ZMQ listener', this.config.server.mailboxCapacity, 100);
        }
        // Inference takes the client's request_id as its own (echoed in the answer and in logs); a submit and a goal's
        // creation as their durable idempotency key. record_feedback's key is a field (idempotency_key): its request
        // fields already name answers by request ids.
        if ((action === 'infer' || action === 'submit_job' || action === 'create_goal') && requestId !== undefined)
          fields.request_id = requestId;
        const owner = principal?.name ?? 'open';
        const run = () =>
          this.execute(
            action,
            fields,
            requestId,
            typeof timeout_ms === 'number' ? timeout_ms : undefined,
            owner,
            traceId,
            principal,
          );
        if (spec.write && requestId !== undefined) {
          const key = `${principal?.name ?? 'open'}\0${action}\0${requestId}`;
          const cached = this.cache.run(key, fields, run);
          if ('differs' in cached)
            throw errors.requestIdReused(requestId, `an earlier ${action}`, cached.differs, { action });
          const { answer, replayed } = cached;
          if (replayed) this.stats.replayed++;
          answer.then((reply) => {
            if (reply.status === 'error' && reply.retryable === true) this.cache.forget(key);
            this.send(d.envelope, format, reply);
          });
        } else {
          run().then((reply) => this.send(d.envelope, format, reply));
        }
      };
      const rid = requestId,
        op = operation;
      if (checked instanceof Promise) {
        checked.then(admit).catch((err) => this.send(d.envelope, format, this.refused(rid, op, err)));
      } else {
        admit(checked);
      }
    } catch (err) {
      this.send(d.envelope, format, this.refused(requestId, operation, err));
    }
  }

  /** A request answered before the operation table saw it (malformed, oversized, key, overload): counted here. */
  private refused(requestId: string | undefined, operation: string | undefined, err: unknown): Reply {
    const reply = errorReply(requestId, err);
    this.deps.metrics?.request('zmq', operation ?? 'unknown', toMocError(err).code, 0);
    return reply;
  }

  /** Runs an action; always resolves with the reply (ok or error), so a cached answer is a plain value. */
  private async execute(
    action: string,
    fields: Record<string, unknown>,
    requestId: string | undefined,
    timeoutMs: number | undefined,
    owner: string,
    traceId: string | undefined,
    caller: Principal | null,
  ): Promise<Reply> {
    this.stats.inFlight++;
    try {
      // The client's timeout_ms may shorten the operation's ceiling, never raise it (the table decides, as for gRPC).
      const result = await ACTIONS[action]!.run(fields, {
        router: this.router,
        config: this.config,
        signal: this.shutdown.signal,
        principal: () => owner,
        ...(caller && this.deps.quotas ? { caller: () => caller, quotas: this.deps.quotas } : {}),
        ...(timeoutMs !== undefined ? { clientTimeoutMs: timeoutMs } : {}),
        ...(this.deps.metrics
          ? {
              meter: {
                metrics: this.deps.metrics,
                transport: 'zmq' as const,
                ...(this.config.log.requests ? { log: this.log } : {}),
              },
            }
          : {}),
        ...(traceId ? { traceId } : {}),
        health: () => ({ ...this.deps.health(), libzmq: zmq.version, transport: { ...this.stats } }),
      });
      return { status: 'ok', ...(requestId !== undefined ? { request_id: requestId } : {}), ...result };
    } catch (err) {
      return errorReply(requestId, err);
    } finally {
      this.stats.inFlight--;
      if (this.stats.inFlight === 0) this.drained?.();
    }
  }

  private send(envelope: Buffer[], format: Format, reply: Reply): void {
    if (this.sock.closed) return;
    let frame: Buffer;
    try {
      frame = encodeReply(reply, format);
    } catch (err) {
      frame = encodeReply(errorReply(undefined, err), 'json');
    }
    this.sock.send([...envelope, frame]).then(
      () => {
        this.stats.replied++;
      },
      (err: Error & { code?: string }) => {
        // EHOSTUNREACH: the peer is gone; EAGAIN: its queue is full. Either way: count, drop, never retry.
        this.stats.undeliverable++;
        const now = Date.now();
        if (now - this.lastUndeliverableLog > UNDELIVERABLE_LOG_EVERY_MS) {
          this.lastUndeliverableLog = now;
          this.log.log('warn', 'zmq.reply_undeliverable', {
            code: err.code ?? err.message,
            undeliverable: this.stats.undeliverable,
          });
        }
      },
    );
  }

  /** Stop taking requests (new ones are answered UNAVAILABLE), let in-flight ones answer, then close. */
  async close(): Promise<void> {
    if (this.sock.closed) return;
    this.closing = true;
    if (this.stats.inFlight > 0)
      await new Promise<void>((r) => {
        this.drained = r;
      });
    this.sock.close();
    await this.loop;
    await this.zap?.close();
  }

  /** Now: cancel in-flight requests (their answers are dropped) and close. */
  async destroy(): Promise<void> {
    this.closing = true;
    this.shutdown.abort(errors.unavailable('the server is shutting down'));
    this.drained?.();
    if (!this.sock.closed) {
      this.sock.linger = 0;
      this.sock.close();
    }
    await this.loop;
    await this.zap?.close();
  }
}

/** `{"status":"error","request_id","code","error_code","message","details","retry_after_ms"?}`. */
export function errorReply(requestId: string | undefined, err: unknown): Reply {
  const e = toMocError(err);
  const retry = e.details.retryAfterMs;
  return {
    status: 'error',
    ...(requestId !== undefined ? { request_id: requestId } : {}),
    code: e.zmqCode,
    error_code: e.code,
    message: e.message,
    details: e.details,
    retryable: e.spec.retryable,
    ...(typeof retry === 'number' ? { retry_after_ms: retry } : {}),
  };
}

function curveOptions(c: Config['zmq']['curve']): Partial<zmq.Router> {
  for (const [k, v] of [
    ['zmq.curve.publicKey', c.publicKey],
    ['zmq.curve.secretKey', c.secretKey],
  ] as const) {
    if (v.length !== 40)
      throw new Error(
        `${k}: a Z85 CURVE key of 40 characters is required when zmq.curve.enabled is true (npx tsx src/tools/curve-keypair.ts makes a pair)`,
      );
    z85Decode(v);
  }
  c.allowedClientKeys.forEach((k, i) => {
    try {
      z85Decode(k);
    } catch (err) {
      throw new Error(`zmq.curve.allowedClientKeys[${i}]: ${(err as Error).message}`);
    }
  });
  return {
    curveServer: true,
    curveSecretKey: c.secretKey,
    curvePublicKey: c.publicKey,
    zapDomain: 'moc',
  } as Partial<zmq.Router>;
}

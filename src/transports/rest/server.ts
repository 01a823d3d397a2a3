/**
 * REST listener (uWebSockets.js) on the router: the operators' API. Every request goes the same way:
 *
 *   onAborted (Exchange) → limits (URL 414, headers 431) → CORS → route (404 / 405 + Allow) → API key and role
 *   (401 / 403) → body (413 past rest.maxBodyBytes, 400 on bad JSON) → schema (400 naming the field) → router ask
 *   with a deadline and the client's abort as cancellation → JSON, or Server-Sent Events for `"stream": true`.
 *
 * Errors come from the one error table as `{ "error": { code, message, details } }`. Handlers never throw into uWS:
 * an exception there would take the process down, so each request runs inside one try/catch that answers 500.
 * close() stops accepting (the listen socket closes) and resolves once in-flight requests have answered (a client
 * that hangs up, even mid-body, is no longer in flight); destroy() answers them all at once with a retryable
 * MOC_ERR_UNAVAILABLE (in-band for a started SSE stream), cancels their work and closes every connection.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import uWS, { type HttpRequest, type HttpResponse, type us_listen_socket } from 'uWebSockets.js';
import { errors, type MocError, toMocError } from '../../errors.js';
import type { Config } from '../../../schemas/config.js';
import type { RouterProtocol } from '../../../schemas/messages.js';
import type { ModelReadiness, Readiness } from '../../../schemas/rest.js';
import type { ActorRef, Closeable } from '../../kernel/types.js';
import type { Logger } from '../../log.js';
import { credentialFrom, type KeyRing, type Principal } from '../../auth/keys.js';
import type { Quotas } from '../../auth/quotas.js';
import { readBody, parseJson } from './body.js';
import { Exchange } from './exchange.js';
import { openApiDocument } from './openapi.js';
import { matchRoute, type RouteSpec } from './routes.js';
import { SseStream, type SseLimits } from './sse.js';
import { HttpFront } from './front.js';
import {
  chatCompletions,
  completions,
  embeddings,
  listModels,
  retrieveModel,
  type OpenAiOut,
} from '../openai/handlers.js';
import { runOperation, traceIdOf, type Meter, type OperationCall } from '../operations.js';
import { followJob, type JobSource } from '../job-follow.js';
import type { Metrics } from '../../telemetry/metrics.js';

/**
 * When an SSE reader counts as stalled (sse.ts): its stream is cut and its generation cancelled when more than this
 * stays unsent and the socket takes none of it for rest.sseStallMs, or when it falls SSE_HARD_CAP_BYTES behind while
 * still reading a little.
 */
const SSE_MAX_BACKLOG_BYTES = 256 * 1024;
const SSE_HARD_CAP_BYTES = 64 * 1024 * 1024;

/**
 * A GET route's query parameters (route.query names them) as operation input: digits become numbers, as the
 * schema's integers expect; anything else, or a parameter the route does not take, is refused by name.
 */
function queryFields(r: Incoming): Record<string, unknown> {
  if (!r.query || !r.route.query) return {}; // routes without query parameters ignore a query, as before
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(r.query)) {
    if (!r.route.query.includes(k))
      throw errors.invalidArgument(
        k,
        `is not a query parameter of ${r.route.method.toUpperCase()} ${r.route.path} (it takes ${r.route.query.join(', ')})`,
      );
    out[k] = /^\d{1,15}$/.test(v) ? Number(v) : v;
  }
  return out;
}

interface Incoming {
  method: string;
  path: string;
  params: Record<string, string>;
  route: RouteSpec;
  credential: string | undefined;
  /** The caller's key name ('open' without keys), once authenticated. */
  principal: string;
  /** The caller with its role (what its budget is drawn from); undefined on public routes. */
  caller: Principal | undefined;
  /** A bearer JWT seen for the first time is verified while its body is read; serve() waits for it first. */
  verifying?: Promise<Principal>;
  query: string;
  /** The caller's W3C trace id, from its `traceparent` header (if valid). */
  traceId: string | undefined;
}

export interface RestDeps {
  ready(): Readiness;
  /** One model's readiness; throws MOC_ERR_MODEL_NOT_FOUND for a name the catalog does not know. */
  modelReady?(name: string): ModelReadiness;
  /** Job changes, for `GET /v1/jobs/{id}/events` (null when jobs are disabled). */
  jobs?: JobSource | null;
  /** Served on `GET /metrics`; where its requests are counted. */
  metrics?: Metrics;
  /** Per-key budgets (auth.quotas), shared with the other transports. */
  quotas?: Quotas;
}

/** A refused body up to this many times rest.maxBodyBytes is skipped by uWS (the connection stays); a larger one closes it. */
const BODY_SKIP_FACTOR = 16;

/** A job's event stream sends its latest state at most this often (as gRPC WatchJob does). */
const JOB_EVENTS_MIN_INTERVAL_MS = 100;

export class RestTransport implements Closeable {
  private readonly app: uWS.TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  /** Plaintext REST: the listener on the port (front.ts) and the private directory of uWS's Unix socket. */
  private front: HttpFront | null = null;
  private frontDir: string | null = null;
  private closing = false;
  private destroyed = false;
  private readonly inFlight = new Set<Exchange>();
  /** Open job event streams: ended (retryably) at close, since a follow could otherwise hold the grace to its end. */
  private readonly jobStreams = new Set<() => void>();
  private drained: (() => void) | null = null;
  private readonly corsAny: boolean;
  /** Spread into each operation call: counts it in the metrics (empty without metrics). */
  private readonly meter: { meter?: Meter };
  private readonly corsOrigins: Set<string>;
  private readonly sseLimits: SseLimits;

  constructor(
    private readonly router: ActorRef<RouterProtocol>,
    private readonly config: Config,
    private readonly keys: KeyRing,
    private readonly deps: RestDeps,
    private readonly log: Logger,
  ) {
    this.corsAny = config.rest.corsOrigins.includes('*');
    this.meter = deps.metrics
      ? { meter: { metrics: deps.metrics, transport: 'rest', ...(config.log.requests ? { log } : {}) } }
      : {};
    this.corsOrigins = new Set(config.rest.corsOrigins);
    this.sseLimits = {
      backlogBytes: SSE_MAX_BACKLOG_BYTES,
      stallMs: config.rest.sseStallMs,
      hardCapBytes: SSE_HARD_CAP_BYTES,
    };
    // TLS (tls.certFile/keyFile) with uWS's own SSLApp, server authentication only: uWS 20.30 verifies a client
    // certificate against a CA but cannot require one, nor show it to a handler, so REST with requireClientCert is
    // refused by the config (src/config.ts). The files are read once, at start (docs/operations.md: rotation).
    const tls = config.tls;
    this.app = (
      tls.certFile ? uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile }) : uWS.App()
    ).any('/*', (res, req) => this.handle(res, req));
  }

  async listen(host = this.config.server.host, port = this.config.rest.port): Promise<number> {
    if (this.config.tls.certFile || !this.config.rest.front) return this.listenDirect(host, port);
    // Plaintext: uWS on a Unix socket in a private directory, the front (front.ts) on the port.
    this.frontDir = await mkdtemp(path.join(tmpdir(), 'moc-rest-'));
    const upstream = path.join(this.frontDir, 'uws.sock');
    await new Promise<void>((resolve, reject) => {
      this.app.listen_unix((socket) => {
        if (!socket) return reject(new Error(`REST cannot listen on the Unix socket ${upstream}`));
        this.listenSocket = socket;
        resolve();
      }, upstream);
    });
    const c = this.config.rest;
    this.front = new HttpFront({
      upstream,
      maxHeadBytes: c.maxUrlBytes + 4 * c.maxHeaderBytes,
      refused: (code) => this.countRefusal(undefined, code),
    });
    return this.front.listen(host, port);
  }

  private listenDirect(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (!socket)
          return reject(new Error(`REST cannot listen on ${host}:${port} (in use, or no permission); set rest.port`));
        this.listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
  }

  /** Synchronous part: everything read from `req` must be read here (uWS invalidates it on return). */
  private handle(res: HttpResponse, req: HttpRequest): void {
    const origin = req.getHeader('origin');
    const cors = this.corsHeaders(origin);
    const url = req.getUrl();
    const ex = new Exchange(res, cors ?? [], this.closing);
    ex.openai = url.startsWith('/openai/');
    const retry = this.config.rest.retryAfterSeconds;
    const method = req.getMethod();
    const hasBody = method === 'post' || method === 'put' || method === 'patch';
    // A request refused before its body is read: uWS skips a body of declared length by itself (nothing buffered),
    // so the connection may stay open — and behind the front (front.ts) nothing is then written into a socket uWS
    // closed, which would lose the answer. A body of unknown or outsized length closes the connection instead.
    const length = req.getHeader('content-length');
    const skipsBody =
      !hasBody || (/^\d{1,15}$/.test(length) && Number(length) <= BODY_SKIP_FACTOR * this.config.rest.maxBodyBytes);
    let route: RouteSpec | undefined;
    try {
      const query = req.getQuery() ?? '';
      if (url.length + query.length > this.config.rest.maxUrlBytes) {
        throw errors.urlTooLong(url.length + query.length, this.config.rest.maxUrlBytes);
      }
      let bigHeader: string | undefined;
      const lengths: string[] = []; // every Content-Length: getHeader shows only the first, and uWS frames by it
      req.forEach((k, v) => {
        if (!bigHeader && v.length > this.config.rest.maxHeaderBytes) bigHeader = k;
        if (k === 'content-length') lengths.push(v);
      });
      if (bigHeader) {
        throw errors.headerTooLarge(bigHeader, this.config.rest.maxHeaderBytes);
      }
      // RFC 9112 §6.3: Content-Length values that differ are invalid framing: 400, then close (what follows in the
      // connection cannot be told apart from a next request). The same value repeated is one length (RFC 9110 §8.6).
      if (lengths.some((v) => v !== lengths[0])) {
        ex.closeConnection = true;
        throw errors.conflictingContentLength(lengths);
      }
      if (origin && !cors) {
        // A browser from an origin not on the allow-list: refused before any work, preflight or not.
        throw errors.originNotAllowed(origin);
      }
      if (method === 'options') return this.preflight(ex, url);
      const m = matchRoute(method, url);
      if ('allowed' in m) {
        if (!skipsBody) ex.closeConnection = true; // the body is not read: do not leave it in the connection
        const e = m.allowed.length
          ? errors.methodNotAllowed(method, url, m.allowed)
          : errors.noRoute(`${method.toUpperCase()} ${url}`);
        this.countRefusal(undefined, e.code);
        ex.error(e, retry, m.allowed.length ? [['allow', m.allowed.join(', ')]] : []);
        return;
      }
      const credential = credentialFrom(
        req.getHeader('authorization') || undefined,
        req.getHeader('x-api-key') || undefined,
      );
      // Authenticate before reading a byte of body: an unknown caller cannot make us buffer a megabyte.
      route = m.route;
      const checked = m.route.action ? this.keys.check(credential, m.route.action) : undefined;
      const caller = checked instanceof Promise ? undefined : checked;
      const incoming: Incoming = {
        method,
        path: url,
        params: m.params,
        route: m.route,
        credential,
        principal: caller?.name ?? 'open',
        caller,
        query,
        traceId: traceIdOf(req.getHeader('traceparent') || undefined),
      };
      if (checked instanceof Promise) incoming.verifying = checked;
      if (this.closing) throw errors.unavailable('the server is shutting down', 1000);
      const declared = Number(req.getHeader('content-length') || 0);
      if (hasBody && declared > this.config.rest.maxBodyBytes) {
        if (!skipsBody) ex.closeConnection = true;
        throw errors.tooLarge('the request body', declared, this.config.rest.maxBodyBytes, 'rest.maxBodyBytes');
      }
      const body = hasBody ? readBody(ex, this.config.rest.maxBodyBytes, declared) : null;
      this.track(ex);
      this.serve(ex, incoming, body)
        .catch((err) => this.fail(ex, err, m.route))
        .finally(() => this.untrack(ex));
    } catch (err) {
      // Refused before its body was read: uWS skips a body it knows the length of; otherwise close the connection.
      if (!skipsBody) ex.closeConnection = true;
      this.fail(ex, err, route);
    }
  }

  /**
   * A request answered with an error before the operation table saw it (no route, key, limits, body): counted here
   * under its route's operation ('none' for routes that are not operations, 'unknown' without a route).
   */
  private countRefusal(route: RouteSpec | undefined, code: string): void {
    this.deps.metrics?.request('rest', route ? (route.operation ?? 'none') : 'unknown', code, 0);
  }

  private fail(ex: Exchange, err: unknown, route?: RouteSpec): void {
    const e = toMocError(err);
    if (!ex.metered) this.countRefusal(route, e.code);
    if (e.code === 'MOC_ERR_INTERNAL')
      this.log.log('error', 'rest.internal_error', { error: (err as Error)?.stack ?? e.message });
    ex.error(e, this.config.rest.retryAfterSeconds);
  }

  private async serve(
    ex: Exchange,
    r: Incoming,
    bodyP: Promise<{ ok: true; body: Buffer } | { ok: false; error: MocError }> | null,
  ): Promise<void> {
    let body: Record<string, unknown> = {};
    if (r.verifying) {
      // A refused token: the body may still be arriving, so the connection is closed with the answer.
      const caller = await r.verifying.catch((err) => {
        if (bodyP) ex.closeConnection = true;
        throw err;
      });
      r.caller = caller;
      r.principal = caller.name;
    }
    if (bodyP) {
      const b = await bodyP;
      if (!b.ok) {
        ex.closeConnection = true;
        if (b.error.code === 'MOC_ERR_BODY_TIMEOUT')
          this.log.log('warn', 'rest.body_timeout', { path: r.path, principal: r.principal, ...b.error.details });
        throw b.error;
      }
      const parsed = parseJson(b.body);
      if (r.route.body && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
        throw errors.invalidArgument('body', 'must be a JSON object');
      }
      if (r.route.body) body = parsed as Record<string, unknown>;
      else refuseBody(r.route, parsed);
    }
    if (r.route.operation) {
      // Path parameters name what the route acts on; the body may not name it again.
      for (const k of Object.keys(r.params))
        if (Object.hasOwn(body, k))
          throw errors.invalidArgument(k, `comes from the path (${r.route.path}); leave it out of the body`);
      const { stream, ...fields } = body;
      const input = { ...fields, ...queryFields(r), ...r.params };
      if (r.route.sse && stream !== undefined && typeof stream !== 'boolean')
        throw errors.invalidArgument('stream', 'must be true or false');
      if (r.route.sse && stream === true) {
        ex.metered = true;
        return this.inferStream(ex, input, r.traceId);
      }
      if (!r.route.sse && stream !== undefined)
        throw errors.invalidArgument('stream', `is not a field of ${r.route.method.toUpperCase()} ${r.route.path}`);
      // The operation validates (the router, one rule set for every transport), times out and shapes the answer.
      ex.metered = true;
      const result = await runOperation(r.route.operation, input, {
        router: this.router,
        config: this.config,
        signal: ex.signal,
        principal: () => r.principal,
        ...this.budget(r),
        ...this.meter,
        ...(r.traceId ? { traceId: r.traceId } : {}),
      });
      return ex.json(r.route.status, r.route.wrap ? { [r.route.wrap]: result } : result);
    }
    switch (r.route.operationId) {
      case 'live':
        return ex.json(200, { status: 'ok' });
      case 'ready': {
        const rd = this.deps.ready();
        if (this.closing && rd.status === 'ready') {
          rd.status = 'not-ready';
          rd.reasons.push('the server is shutting down: send requests to another replica');
        }
        return ex.json(rd.status === 'ready' ? 200 : 503, rd);
      }
      case 'openapi':
        return ex.json(200, openApiDocument());
      case 'modelReady': {
        if (!this.deps.modelReady) throw errors.noRoute(`GET ${r.path}`);
        const m = this.deps.modelReady(r.params.name!);
        return ex.json(m.ready ? 200 : 503, m);
      }
      case 'metrics': {
        if (!this.deps.metrics) throw errors.noRoute('GET /metrics (metrics are off)');
        const m = await this.deps.metrics.text();
        return ex.text(200, m.contentType, m.body);
      }
      case 'openaiListModels':
        ex.metered = true; // the list-models operations count it
        return ex.json(200, await listModels(this.openAiCall(ex, r)));
      case 'openaiGetModel':
        ex.metered = true;
        return ex.json(200, await retrieveModel(r.params.name!, this.openAiCall(ex, r)));
      case 'openaiChatCompletions':
      case 'openaiCompletions':
      case 'openaiEmbeddings':
        return this.openAi(ex, r, body);
      case 'watchJob':
        ex.metered = true; // its reads run through the operation table (get-job), which counts them
        return this.jobEvents(ex, r);
      default:
        throw errors.internal(`route ${r.route.operationId} has no handler`);
    }
  }

  /** The operation call of an OpenAI route: metered and budgeted as every route is, its signal the handler's own. */
  private openAiCall(ex: Exchange, r: Incoming): Omit<OperationCall, 'onToken' | 'signal'> & { signal?: AbortSignal } {
    return {
      router: this.router,
      config: this.config,
      signal: ex.signal,
      principal: () => r.principal,
      ...this.budget(r),
      ...this.meter,
      ...(r.traceId ? { traceId: r.traceId } : {}),
    };
  }

  private async openAi(ex: Exchange, r: Incoming, body: Record<string, unknown>): Promise<void> {
    // A slow or vanished reader stops every choice: the abort reaches the devices' sequences.
    const { cancel, sse } = this.cancellableStream(ex);
    let started = false;
    const { signal: _ignored, ...call } = this.openAiCall(ex, r);
    const out: OpenAiOut = {
      json: (status, b) => ex.json(status, b),
      startStream: () => {
        started = true;
        sse.start();
      },
      data: (c) => sse.data(c),
      done: () => sse.done(),
      signal: cancel.signal,
      operating: () => {
        ex.metered = true;
      },
    };
    try {
      const handler = {
        openaiChatCompletions: chatCompletions,
        openaiCompletions: completions,
        openaiEmbeddings: embeddings,
      }[r.route.operationId as 'openaiCompletions'];
      await handler(body, call, out);
    } catch (err) {
      if (!started) throw err; // before the first byte: an HTTP error in OpenAI's shape
      sse.fail(err);
    }
  }

  /** An SSE stream whose `cancel` aborts when the client goes away or reads too slowly (its backlog passes the bound). */
  private cancellableStream(ex: Exchange): { cancel: AbortController; sse: SseStream } {
    const cancel = new AbortController();
    ex.onAbort(() => cancel.abort(errors.cancelled('the stream')));
    const sse = new SseStream(ex, this.sseLimits, (why) => {
      this.log.log('warn', 'rest.slow_reader', { ...why });
      cancel.abort(errors.cancelled('the stream (the reader fell too far behind)'));
    });
    return { cancel, sse };
  }

  private async inferStream(
    ex: Exchange,
    request: Record<string, unknown>,
    traceId: string | undefined,
  ): Promise<void> {
    // A slow or vanished reader cancels its generation: the abort signal reaches the device's sequence.
    const { cancel, sse } = this.cancellableStream(ex);
    let started = false;
    try {
      const result = await runOperation('infer', request, {
        router: this.router,
        config: this.config,
        signal: cancel.signal,
        ...this.meter,
        ...(traceId ? { traceId } : {}),
        onToken: (e) => {
          if (!started) {
            started = true;
            sse.start();
          }
          // A piece of a tool call is its own event (docs/rest.md): `tool_call` with {index, id?, name?, arguments}.
          if (e.call) sse.event('tool_call', e.call);
          else sse.event('token', { text: e.text });
        },
      });
      if (!started) sse.start();
      sse.finish('done', result);
    } catch (err) {
      // Before the first token the status line is not out yet: a plain JSON error with its HTTP status.
      if (!started) throw err;
      sse.fail(err);
    }
  }

  /**
   * `GET /v1/jobs/{id}/events`: the job now, then its changes, then `event: done` with its final state
   * (src/transports/job-follow.ts, as gRPC WatchJob). An unknown job is a JSON 404: the stream starts only once the
   * first read has answered. Resolves when the stream has ended, however it ended.
   */
  private jobEvents(ex: Exchange, r: Incoming): Promise<void> {
    const id = r.params.id!;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      const sse = new SseStream(ex, this.sseLimits, () => end());
      const detach = () => {
        stop();
        this.jobStreams.delete(shutdown);
        ex.signal.removeEventListener('abort', aborted);
      };
      const end = (err?: unknown) => {
        detach();
        if (err === undefined) return resolve();
        if (!started) return reject(err); // not streaming yet: a JSON error with its status
        sse.fail(err);
        resolve();
      };
      const shutdown = () =>
        end(
          errors.unavailable(
            'the server is shutting down: follow the job again, here after the restart or on another replica',
            this.config.rest.retryAfterSeconds * 1000,
          ),
        );
      const aborted = () => end();
      const stop = followJob(
        id,
        {
          read: () =>
            runOperation(
              'get-job',
              { id },
              {
                router: this.router,
                config: this.config,
                signal: ex.signal,
                principal: () => r.principal,
                ...this.budget(r),
                ...this.meter,
                ...(r.traceId ? { traceId: r.traceId } : {}),
              },
            ),
          jobs: this.deps.jobs,
          minIntervalMs: JOB_EVENTS_MIN_INTERVAL_MS,
        },
        {
          send: (job, final) => {
            if (!started) {
              started = true;
              sse.start();
            }
            if (!final) return sse.event('job', job);
            sse.finish('done', job);
            end();
          },
          fail: (err) => {
            detach();
            reject(err);
          }, // before the stream started: a JSON error with its status
        },
      );
      this.jobStreams.add(shutdown);
      ex.signal.addEventListener('abort', aborted);
    });
  }

  private preflight(ex: Exchange, url: string): void {
    const allowed = ['get', 'post', 'put'].filter((m) => !('allowed' in matchRoute(m, url)));
    if (allowed.length === 0) throw errors.noRoute(url);
    ex.empty(204, [
      ['access-control-allow-methods', allowed.map((m) => m.toUpperCase()).join(', ')],
      ['access-control-allow-headers', 'authorization, x-api-key, content-type'],
      ['access-control-max-age', '600'],
    ]);
  }

  /** CORS headers for an allowed origin; null when the origin is not allowed; [] when there is no origin. */
  private corsHeaders(origin: string): [string, string][] | null {
    if (!origin) return [];
    if (this.corsAny) return [['access-control-allow-origin', '*']];
    if (this.corsOrigins.has(origin))
      return [
        ['access-control-allow-origin', origin],
        ['vary', 'origin'],
      ];
    return null;
  }

  /** What an operation draws the caller's budget from (nothing on public routes or without quotas). */
  private budget(r: Incoming): Pick<OperationCall, 'caller' | 'quotas'> {
    const caller = r.caller;
    return caller && this.deps.quotas ? { caller: () => caller, quotas: this.deps.quotas } : {};
  }

  private track(ex: Exchange): void {
    this.inFlight.add(ex);
  }
  private untrack(ex: Exchange): void {
    this.inFlight.delete(ex);
    if (this.inFlight.size === 0) this.drained?.();
  }

  /**
   * Stop accepting; resolve when every in-flight request has answered. Then the idle keep-alive connections are
   * closed too: they hold nothing a client waits for, and left open they would still reach a stopped server.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const end of [...this.jobStreams]) end();
    this.front?.close();
    if (this.listenSocket) {
      uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    if (this.inFlight.size > 0)
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    if (this.destroyed) return;
    // uWS flushes corked writes on its next loop turn; closing before that would drop the last answers.
    await new Promise<void>((resolve) => setImmediate(resolve));
    (this.app as unknown as { close?: () => void }).close?.();
    await this.removeFront(false);
  }

  /** The front's connections end with uWS's (each is piped to one); `now`: cut them. Then its directory goes. */
  private async removeFront(now: boolean): Promise<void> {
    if (now) await this.front?.destroy();
    else this.front?.close();
    if (this.frontDir) {
      await rm(this.frontDir, { recursive: true, force: true });
      this.frontDir = null;
    }
  }

  /**
   * Now: answer every in-flight request with a retryable MOC_ERR_UNAVAILABLE (an `event: error` that ends a started
   * SSE stream, a 503 JSON error otherwise), close their connections, and cancel their work. A clean retryable end
   * tells the client to go to another replica; a cut socket would look like a crash.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closing = true;
    if (this.listenSocket) {
      uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    const retry = this.config.rest.retryAfterSeconds;
    const err = errors.unavailable(
      'the server is shutting down: retry on another replica, or here after the restart',
      retry * 1000,
    );
    for (const ex of this.inFlight) {
      ex.interrupt(err, retry);
      ex.cancel();
    }
    this.inFlight.clear();
    this.drained?.();
    // uWS flushes corked writes on its next loop turn; closing before that would drop the answers just written.
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Then every connection, idle keep-alive ones too (this build has App.close(), absent from its typings).
    (this.app as unknown as { close?: () => void }).close?.();
    await this.removeFront(true);
  }
}

/**
 * A route that takes no body (cancel, unload) refuses one that says something: its fields would be dropped unread,
 * and unknown fields are refused everywhere else (docs/rest.md). No body, or `{}`, is fine.
 */
function refuseBody(route: RouteSpec, parsed: unknown): void {
  const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  const keys = isObject ? Object.keys(parsed) : [];
  if (isObject && keys.length === 0) return;
  const where = `${route.method.toUpperCase()} ${route.path}`;
  throw errors.invalidArgument(
    keys[0] ?? 'body',
    keys.length
      ? `is not a field of ${where}, which takes no body (unknown fields: ${keys.join(', ')}); send none, or {}`
      : `${where} takes no body; send none, or {}`,
  );
}

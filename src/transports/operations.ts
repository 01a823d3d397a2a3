/**
 * The operations every transport offers, declared once: the router message each becomes, the role its caller
 * needs, its timeout class, whether it writes (ZMQ replays a retried write's first answer), and the resource it
 * answers with (snake_case, as in proto/moc.proto and schemas/rest.ts). Request schemas live with the router
 * messages (schemas/messages.ts): the router validates, so every transport refuses the same inputs the same way;
 * an inference is validated here instead, as the wire spells it, and handed on as the camelCase Inference.
 *
 *   gRPC / REST / ZMQ: decode the wire → runOperation(name, input, call) → encode the resource
 *
 * Adding an operation: one entry here (and its router message), then one line per transport naming it.
 */
import type { Config } from '../../schemas/config.js';
import {
  InferRequest,
  inferenceOf,
  type EmbedResult,
  type RouterProtocol,
  type TokenEvent,
} from '../../schemas/messages.js';
import type {
  DeviceResource,
  FeedbackResource,
  GoalResource,
  InferResponse,
  JobResource,
  ModelPageResource,
} from '../../schemas/rest.js';
import type { Action } from '../auth/permissions.js';
import type { FleetHost } from '../../schemas/fleet.js';
import type { Principal } from '../auth/keys.js';
import type { Quotas } from '../auth/quotas.js';
import type { ActorRef, Reply, Req } from '../kernel/types.js';
import { toMocError } from '../errors.js';
import { validate } from '../validate.js';
import { checkInferenceSchemas } from '../../actors/device/json-schema-rules.js';
import type { Metrics, Transport } from '../telemetry/metrics.js';
import type { Logger } from '../log.js';
import {
  aliasResponse,
  deviceResource,
  feedbackResource,
  goalResource,
  inferResponse,
  jobResource,
  modelResource,
  unloadResponse,
} from './views.js';

/** request: the server's request timeout; load: long enough for a model load (placement, eviction, engine load). */
export type TimeoutClass = 'request' | 'load';

/** What a transport knows of one call, besides its decoded input. */
export interface OperationCall {
  router: ActorRef<RouterProtocol>;
  config: Config;
  /** Time the client still waits (gRPC deadline, ZMQ timeout_ms); the operation's ceiling caps it, never raises it. */
  clientTimeoutMs?: number;
  signal?: AbortSignal;
  /** Streaming inference: each generated text chunk, before the result. */
  onToken?: (event: TokenEvent) => void;
  /** Who calls (the API key's name; 'open' without keys): the owner of what it submits. Asked only when needed. */
  principal?: () => string;
  /** Who calls, with its role: what its budget is drawn from (auth.quotas). Absent on public routes. */
  caller?: () => Principal;
  /** The per-key budgets, shared by every transport (src/auth/quotas.ts). */
  quotas?: Quotas;
  /** Where this call is counted (src/telemetry/metrics.ts): its transport's requests, durations and inferences. */
  meter?: Meter;
  /** The caller's W3C trace id (from a `traceparent` header or metadata), carried into the request's log line. */
  traceId?: string;
}

/** Where a transport's calls are counted, and logged (one `request` line each, when log.requests is on). */
export interface Meter {
  metrics: Metrics;
  transport: Transport;
  log?: Logger;
}

/** W3C trace context: `traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; its trace id, if valid. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const m = traceparent && /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent.trim());
  return m && !/^0+$/.test(m[1]!) ? m[1] : undefined;
}

type Input = Record<string, unknown>;

export interface OperationSpec<R> {
  action: Action;
  timeout: TimeoutClass;
  write: boolean;
  run(input: Input, call: OperationCall, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<R>;
}

const spec = <R>(s: OperationSpec<R>) => s;

/** Router messages that carry the caller's input as `request` (validated by the router). */
type Forwarded =
  | 'register'
  | 'load'
  | 'unload'
  | 'set-alias'
  | 'pin'
  | 'get-model'
  | 'get-job'
  | 'list-jobs'
  | 'cancel-job'
  | 'get-goal'
  | 'list-goals'
  | 'update-goal'
  | 'cancel-goal'
  | 'goal-history';

/** An operation that hands its input to the router as is; its name is also the role's action. */
function forward<K extends Forwarded, R>(
  kind: K,
  timeout: TimeoutClass,
  write: boolean,
  view: (reply: Reply<RouterProtocol, K>) => R,
): OperationSpec<R> {
  return {
    action: kind,
    timeout,
    write,
    run: async (input, c, opts) =>
      view(await c.router.ask<K>({ kind, request: input } as Req<RouterProtocol, K> & { kind: K }, opts)),
  };
}

export const OPERATIONS = {
  infer: spec<InferResponse>({
    action: 'infer',
    timeout: 'request',
    write: false,
    run: async (input, c, opts) => {
      // The edge of every snake_case wire (gRPC, REST, ZMQ, and the OpenAI routes' mapped bodies): validated as the
      // client spelled it, so a refusal names its field, then renamed once into the Inference the router passes on.
      const request = inferenceOf(validate(InferRequest, input));
      checkInferenceSchemas(request); // a schema nothing can be generated for, or too large, is refused before it queues
      const r = await c.router.ask(
        {
          kind: 'infer',
          request,
          stream: !!c.onToken,
          caller: c.principal?.() ?? 'open',
          ...(c.traceId ? { traceId: c.traceId } : {}),
        },
        { ...opts, ...(c.onToken ? { onEvent: c.onToken } : {}) },
      );
      c.meter?.metrics.inference(r);
      return inferResponse(r);
    },
  }),
  /** Embeddings, an inference by role: one vector per text (actors/device/engine-core.ts embed). */
  embed: spec<EmbedResult>({
    action: 'infer',
    timeout: 'request',
    write: false,
    run: async (input, c, opts) => {
      const r = await c.router.ask({ kind: 'embed', request: input }, opts);
      return { model: r.model, device: r.device, embeddings: r.embeddings, tokens: r.tokens };
    },
  }),
  register: forward('register', 'load', true, modelResource),
  load: forward('load', 'load', true, modelResource),
  unload: forward('unload', 'load', true, unloadResponse),
  'set-alias': forward('set-alias', 'load', true, aliasResponse),
  pin: forward('pin', 'request', true, modelResource),
  'get-model': forward('get-model', 'request', false, modelResource),
  'list-models': spec<ModelPageResource>({
    action: 'list-models',
    timeout: 'request',
    write: false,
    run: async (input, c, opts) => {
      const page = await c.router.ask({ kind: 'list-models', request: input }, opts);
      return { models: page.models.map(modelResource), next_cursor: page.nextCursor };
    },
  }),
  devices: spec<DeviceResource[]>({
    action: 'devices',
    timeout: 'request',
    write: false,
    run: async (_input, c, opts) => (await c.router.ask({ kind: 'devices' }, opts)).map(deviceResource),
  }),
  fleet: spec<FleetHost[]>({
    action: 'fleet',
    timeout: 'request',
    write: false,
    run: (_input, c, opts) => c.router.ask({ kind: 'fleet' }, opts),
  }),
  'submit-job': spec<JobResource>({
    action: 'submit-job',
    timeout: 'request',
    write: true,
    run: async (input, c, opts) =>
      jobResource(await c.router.ask({ kind: 'submit-job', request: input, owner: c.principal?.() ?? 'open' }, opts)),
  }),
  'get-job': forward('get-job', 'request', false, jobResource),
  'list-jobs': forward('list-jobs', 'request', false, (jobs) => jobs.map(jobResource)),
  'cancel-job': forward('cancel-job', 'request', true, jobResource),
  'create-goal': spec<GoalResource>({
    action: 'create-goal',
    timeout: 'request',
    write: true,
    run: async (input, c, opts) =>
      goalResource(await c.router.ask({ kind: 'create-goal', request: input, owner: c.principal?.() ?? 'open' }, opts)),
  }),
  'get-goal': forward('get-goal', 'request', false, goalResource),
  'list-goals': forward('list-goals', 'request', false, (goals) => goals.map(goalResource)),
  'update-goal': forward('update-goal', 'request', true, goalResource),
  'cancel-goal': forward('cancel-goal', 'request', true, goalResource),
  'goal-history': forward('goal-history', 'request', false, (goals) => goals.map(goalResource)),
  'record-feedback': spec<FeedbackResource>({
    action: 'record-feedback',
    timeout: 'request',
    write: true,
    run: async (input, c, opts) =>
      feedbackResource(
        await c.router.ask({ kind: 'record-feedback', request: input, owner: c.principal?.() ?? 'open' }, opts),
      ),
  }),
};

export type OperationName = keyof typeof OPERATIONS;
export type OperationResult<N extends OperationName> = Awaited<ReturnType<(typeof OPERATIONS)[N]['run']>>;

/** The most an operation of this class may take, whatever the client asks. */
export function ceilingMs(config: Config, timeout: TimeoutClass): number {
  const request = config.limits.requestTimeoutMs;
  return timeout === 'load' ? Math.max(request, config.limits.loadTimeoutMs) : request;
}

/**
 * The caller's budget (auth.quotas): one request taken before the work starts — a key over its budget is refused
 * here, counted and logged like any answer, before the router sees it — and an inference's generated tokens charged
 * when it ends.
 */
function budgeted<R>(name: OperationName, call: OperationCall, work: () => Promise<R>): Promise<R> {
  const q = call.quotas;
  if (!q?.enabled || !call.caller) return work();
  let caller: Principal;
  try {
    caller = call.caller();
    q.admit(caller, name === 'infer');
  } catch (err) {
    return Promise.reject(err);
  }
  if (name !== 'infer') return work();
  return work().then((r) => {
    q.charge(caller, (r as InferResponse).tokens_generated);
    return r;
  });
}

/** Runs one operation: its timeout (the client's, capped by the class ceiling), the router ask, the resource. */
export function runOperation<N extends OperationName>(
  name: N,
  input: Input,
  call: OperationCall,
): Promise<OperationResult<N>> {
  const op = OPERATIONS[name] as OperationSpec<OperationResult<N>>;
  const timeoutMs = Math.max(1, Math.min(call.clientTimeoutMs ?? Infinity, ceilingMs(call.config, op.timeout)));
  const run = budgeted(name, call, () =>
    op.run(input, call, { timeoutMs, ...(call.signal ? { signal: call.signal } : {}) }),
  );
  const m = call.meter;
  if (!m) return run;
  const started = performance.now();
  const done = (code: string, result?: unknown) => {
    const seconds = (performance.now() - started) / 1000;
    m.metrics.request(m.transport, name, code, seconds);
    if (!m.log) return;
    // Names and ids only: never the prompt, the text or a key (and the logger removes those anyway).
    const out = (result ?? {}) as { model?: unknown; request_id?: unknown; id?: unknown; cached_tokens?: unknown };
    const model =
      typeof out.model === 'string'
        ? out.model
        : typeof input.model === 'string'
          ? input.model
          : typeof input.name === 'string'
            ? input.name
            : undefined;
    const requestId =
      typeof out.request_id === 'string'
        ? out.request_id
        : typeof input.request_id === 'string'
          ? input.request_id
          : undefined;
    m.log.log(code === 'MOC_ERR_INTERNAL' ? 'error' : 'info', 'request', {
      transport: m.transport,
      operation: name,
      code,
      ms: Math.round(seconds * 1e4) / 10,
      ...(model !== undefined ? { model } : {}),
      ...(requestId !== undefined ? { request_id: requestId } : {}),
      ...(call.traceId ? { trace_id: call.traceId } : {}),
      // An inference's prompt tokens found in the prompt cache (docs/models.md).
      ...(typeof out.cached_tokens === 'number' ? { cached_tokens: out.cached_tokens } : {}),
    });
  };
  return run.then(
    (r) => {
      done('OK', r);
      return r;
    },
    (err: unknown) => {
      done(toMocError(err).code);
      throw err;
    },
  );
}

/**
 * The REST routes, declared once: the server dispatches, authorizes and validates from this table, and the
 * OpenAPI document (openapi.ts) is generated from it. A route without an `action` is public (health, the spec).
 */
import { FleetList } from '../../../schemas/fleet.js';
import { Type, type TSchema } from '@sinclair/typebox';
import type { Action } from '../../auth/permissions.js';
import { OPERATIONS, type OperationName } from '../operations.js';
import {
  AliasBody,
  AliasResponse,
  DeviceList,
  InferBody,
  InferResponse,
  Liveness,
  LoadBody,
  ModelList,
  ModelResource,
  CreateGoalBody,
  FeedbackBody,
  ModelReadiness,
  FeedbackResource,
  GoalList,
  GoalResource,
  JobList,
  UpdateGoalBody,
  JobResource,
  PinBody,
  Readiness,
  RegisterRequest,
  SubmitJobBody,
  UnloadResponse,
} from '../../../schemas/rest.js';

import { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from '../openai/wire.js';
import { EmbedRequest, EmbedResult } from '../../../schemas/messages.js';
import { errors } from '../../errors.js';

export type Method = 'get' | 'post' | 'put';

/** The OpenAI routes answer OpenAI's objects (docs/openai.md), not ours. */
const OpenAiObject = Type.Object(
  { object: Type.String() },
  { additionalProperties: true, description: "OpenAI's shape (docs/openai.md)" },
);

export interface RouteSpec {
  method: Method;
  /** OpenAPI-style template: `{name}` is one path segment. */
  path: string;
  /** What the key must allow (src/auth/permissions.ts); absent: public. Taken from the operation when there is one. */
  action?: Action;
  /** The operation this route runs (src/transports/operations.ts); absent: answered by the REST listener itself. */
  operation?: OperationName;
  /** A list answer is wrapped in an object under this key (`{ "models": [...] }`). */
  wrap?: string;
  operationId: string;
  summary: string;
  body?: TSchema;
  /** Success status and body. */
  status: number;
  response: TSchema;
  /** Answers with text/event-stream when the body says `"stream": true`. */
  sse?: boolean;
  /** Answers with this media type (not JSON) on success: the metrics exposition. */
  plainText?: string;
  /** Answers with text/event-stream only (a follow of something, e.g. a job), never a JSON body on success. */
  eventStream?: boolean;
  /** Query parameters a GET route takes (operation input fields). */
  query?: string[];
  /** Extra error statuses worth listing for this route (every route may also answer 400/401/403/413/429/500/503). */
  errors?: number[];
}

const ROUTE_LIST: readonly RouteSpec[] = [
  {
    method: 'get',
    path: '/v1/models',
    operation: 'list-models',
    query: ['limit', 'cursor'],
    operationId: 'listModels',
    summary:
      'Registered models with their state, device and memory, by name, a page at a time (?limit= up to 1000, ?cursor= the next_cursor of the page before)',
    status: 200,
    response: ModelList,
  },
  {
    method: 'post',
    path: '/v1/models',
    operation: 'register',
    operationId: 'registerModel',
    summary: 'Register a GGUF file under the models root (inspected, not loaded)',
    body: RegisterRequest,
    status: 201,
    response: ModelResource,
    errors: [404, 409, 422],
  },
  {
    method: 'get',
    path: '/v1/models/{name}',
    operation: 'get-model',
    operationId: 'getModel',
    summary: 'One model (or the model an alias points to)',
    status: 200,
    response: ModelResource,
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/models/{name}/load',
    operation: 'load',
    operationId: 'loadModel',
    summary: 'Load a model (placement, eviction and coalescing apply)',
    body: LoadBody,
    status: 200,
    response: ModelResource,
    errors: [404, 409, 422, 504, 507],
  },
  {
    method: 'post',
    path: '/v1/models/{name}/unload',
    operation: 'unload',
    operationId: 'unloadModel',
    summary: 'Unload a model after its in-flight requests finish',
    status: 200,
    response: UnloadResponse,
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/models/{name}/pin',
    operation: 'pin',
    operationId: 'pinModel',
    summary: 'Pin (never evicted, never expires) or unpin a model',
    body: PinBody,
    status: 200,
    response: ModelResource,
    errors: [404],
  },
  {
    method: 'put',
    path: '/v1/aliases/{alias}',
    operation: 'set-alias',
    operationId: 'setAlias',
    summary: 'Point an alias at a model; re-pointing a serving alias is a hot swap',
    body: AliasBody,
    status: 200,
    response: AliasResponse,
    errors: [404, 507],
  },
  {
    method: 'get',
    path: '/v1/fleet',
    operation: 'fleet',
    wrap: 'hosts',
    operationId: 'getFleet',
    summary: 'Every host of the fleet: alive or how long silent, its devices, ledgers and models (docs/fleet.md)',
    status: 200,
    response: FleetList,
  },
  {
    method: 'get',
    path: '/v1/devices',
    operation: 'devices',
    wrap: 'devices',
    operationId: 'getDevices',
    summary: 'Each device with its memory ledger, engine and models',
    status: 200,
    response: DeviceList,
  },
  {
    method: 'post',
    path: '/v1/infer',
    operation: 'infer',
    operationId: 'infer',
    summary: 'Generate text; "stream": true answers with Server-Sent Events',
    body: InferBody,
    status: 200,
    response: InferResponse,
    sse: true,
    errors: [404, 499, 504, 507],
  },
  {
    method: 'post',
    path: '/v1/embeddings',
    operation: 'embed',
    operationId: 'embed',
    summary:
      'Embeddings: one L2-normalised vector per text of input (the model makes its embedding context at the first call)',
    body: EmbedRequest,
    status: 200,
    response: EmbedResult,
    errors: [404, 504, 507],
  },
  {
    method: 'post',
    path: '/v1/jobs',
    operation: 'submit-job',
    operationId: 'submitJob',
    summary:
      'Submit a learning job (acknowledged once durable; request_id makes it idempotent: reused with other parameters, 409)',
    body: SubmitJobBody,
    status: 201,
    response: JobResource,
    errors: [404, 409],
  },
  {
    method: 'get',
    path: '/v1/jobs',
    operation: 'list-jobs',
    wrap: 'jobs',
    query: ['state', 'type', 'limit'],
    operationId: 'listJobs',
    summary: 'Jobs, newest first (?state=, ?type=, ?limit=)',
    status: 200,
    response: JobList,
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}',
    operation: 'get-job',
    operationId: 'getJob',
    summary: 'One job: state, progress, log tail, outputs',
    status: 200,
    response: JobResource,
    errors: [404],
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/events',
    action: 'watch-job',
    operationId: 'watchJob',
    summary: 'Follow a job: Server-Sent Events with its state now, then each change, until it ends',
    status: 200,
    response: JobResource,
    eventStream: true,
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/jobs/{id}/cancel',
    operation: 'cancel-job',
    operationId: 'cancelJob',
    summary: 'Cancel a job (a running one stops; cancel_requested until it has)',
    status: 200,
    response: JobResource,
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/goals',
    operation: 'create-goal',
    operationId: 'createGoal',
    summary:
      'Create a goal, optionally linked to jobs and with a success criterion (request_id makes it idempotent: reused with other fields, 409)',
    body: CreateGoalBody,
    status: 201,
    response: GoalResource,
    errors: [409],
  },
  {
    method: 'get',
    path: '/v1/goals',
    operation: 'list-goals',
    wrap: 'goals',
    query: ['state', 'limit'],
    operationId: 'listGoals',
    summary: 'Goals by priority (?state=, ?limit=)',
    status: 200,
    response: GoalList,
  },
  {
    method: 'get',
    path: '/v1/goals/{id}',
    operation: 'get-goal',
    operationId: 'getGoal',
    summary: 'One goal and why it is in its state',
    status: 200,
    response: GoalResource,
    errors: [404],
  },
  {
    method: 'put',
    path: '/v1/goals/{id}',
    operation: 'update-goal',
    operationId: 'updateGoal',
    summary: 'Change a goal (title, priority, criterion, deadline, linked jobs)',
    body: UpdateGoalBody,
    status: 200,
    response: GoalResource,
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/goals/{id}/cancel',
    operation: 'cancel-goal',
    operationId: 'cancelGoal',
    summary: 'Cancel a goal (its jobs are left alone)',
    status: 200,
    response: GoalResource,
    errors: [404],
  },
  {
    method: 'get',
    path: '/v1/goals/{id}/history',
    operation: 'goal-history',
    wrap: 'goals',
    operationId: 'goalHistory',
    summary: 'Every committed version of a goal, oldest first',
    status: 200,
    response: GoalList,
    errors: [404],
  },
  {
    method: 'post',
    path: '/v1/feedback',
    operation: 'record-feedback',
    operationId: 'recordFeedback',
    summary:
      'Rate an answer or record a preference between two (RLHF; idempotency_key makes it idempotent: reused with other fields, 409)',
    body: FeedbackBody,
    status: 201,
    response: FeedbackResource,
    errors: [409],
  },
  {
    method: 'get',
    path: '/health/live',
    operationId: 'live',
    summary: 'The process is up and its event loop answers',
    status: 200,
    response: Liveness,
  },
  {
    method: 'get',
    path: '/health/ready',
    operationId: 'ready',
    summary:
      'Every device is up, a model is loaded and the server is not shutting down (503 otherwise, with the reasons)',
    status: 200,
    response: Readiness,
    errors: [503],
  },
  {
    method: 'get',
    path: '/v1/models/{name}/ready',
    operationId: 'modelReady',
    summary: 'One model is loaded on a device that answers (503 otherwise, with the reason; 404 if unknown)',
    status: 200,
    response: ModelReadiness,
    errors: [404, 503],
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics (text exposition format 0.0.4; docs/metrics.md lists them)',
    status: 200,
    response: Type.String({ description: 'Prometheus text exposition' }),
    plainText: 'text/plain; version=0.0.4; charset=utf-8',
  },
  // The OpenAI-compatible API (docs/openai.md): OpenAI's shapes, answered by src/transports/openai/handlers.ts.
  {
    method: 'get',
    path: '/openai/v1/models',
    action: 'list-models',
    operationId: 'openaiListModels',
    summary: 'OpenAI-compatible: the models and aliases, as OpenAI lists models',
    status: 200,
    response: OpenAiObject,
  },
  {
    method: 'get',
    path: '/openai/v1/models/{name}',
    action: 'get-model',
    operationId: 'openaiGetModel',
    summary: 'OpenAI-compatible: one model',
    status: 200,
    response: OpenAiObject,
    errors: [404],
  },
  {
    method: 'post',
    path: '/openai/v1/chat/completions',
    action: 'infer',
    operationId: 'openaiChatCompletions',
    summary: 'OpenAI-compatible chat completion; "stream": true answers with OpenAI\'s Server-Sent Events',
    body: ChatCompletionRequest,
    status: 200,
    response: OpenAiObject,
    errors: [404, 504],
  },
  {
    method: 'post',
    path: '/openai/v1/completions',
    action: 'infer',
    operationId: 'openaiCompletions',
    summary: 'OpenAI-compatible text completion; "stream": true answers with OpenAI\'s Server-Sent Events',
    body: CompletionRequest,
    status: 200,
    response: OpenAiObject,
    errors: [404, 504],
  },
  {
    method: 'post',
    path: '/openai/v1/embeddings',
    action: 'infer',
    operationId: 'openaiEmbeddings',
    summary: 'OpenAI-compatible embeddings: one L2-normalised vector per input text',
    body: EmbeddingRequest,
    status: 200,
    response: OpenAiObject,
    errors: [404, 507],
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    summary: 'This API as an OpenAPI 3.1 document',
    status: 200,
    response: Type.Object({}, { additionalProperties: true, description: 'OpenAPI 3.1 document' }),
  },
];

/** Routes that run an operation are authorized as that operation. */
export const ROUTES: readonly RouteSpec[] = ROUTE_LIST.map((r) =>
  r.operation ? { ...r, action: OPERATIONS[r.operation].action } : r,
);

export interface Match {
  route: RouteSpec;
  params: Record<string, string>;
}

/** Compiled matchers: each template becomes a regex over decoded-free path segments. */
const COMPILED = ROUTES.map((route) => {
  const names: string[] = [];
  const re = new RegExp(
    '^' +
      route.path.replace(/\{(\w+)\}/g, (_m, n: string) => {
        names.push(n);
        return '([^/]+)';
      }) +
      '$',
  );
  return { route, re, names };
});

/** A path parameter decoded; a malformed percent-encoding (`%ff`, `%zz`) is the caller's mistake, named as such. */
function pathParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw errors.invalidArgument(
      name,
      `'${raw.slice(0, 64)}' is not valid percent-encoding: encode the ${name} as UTF-8 (encodeURIComponent)`,
    );
  }
}

/**
 * The route for this method and path; `allowed` lists the methods the path takes when the method is wrong
 * (405 + Allow), and is empty when no route has this path (404).
 */
export function matchRoute(method: string, path: string): Match | { allowed: string[] } {
  const allowed: string[] = [];
  for (const c of COMPILED) {
    const m = c.re.exec(path);
    if (!m) continue;
    if (c.route.method !== method) {
      allowed.push(c.route.method.toUpperCase());
      continue;
    }
    const params: Record<string, string> = {};
    c.names.forEach((n, i) => {
      params[n] = pathParam(n, m[i + 1]!);
    });
    return { route: c.route, params };
  }
  return { allowed };
}

/**
 * The REST API's bodies, declared once: compiled validators for requests, the TypeScript types, and the
 * OpenAPI 3.1 document (src/transports/rest/openapi.ts) all come from these. Field names are the proto's
 * (snake_case), so gRPC, REST and ZMQ clients read the same words; a test compares them with proto/moc.proto.
 * Request bodies reuse the transport-neutral schemas in messages.ts (validated again by the operation or the router:
 * one rule set; InferRequest is itself derived from the camelCase Inference declared there).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  FinishReason,
  InferRequest,
  LoadRequest,
  ModelState,
  RegisterRequest,
  TokenLogprob,
  ToolCall,
} from './messages.js';
import { JobState, JobType, SubmitJobRequest } from './jobs.js';
import { RecordFeedbackRequest } from './feedback.js';
import { CreateGoalRequest, GoalPlan, GoalState, UpdateGoalRequest } from './goals.js';

const Bytes = Type.Integer({ minimum: 0, description: 'bytes' });
const EpochMs = Type.Integer({ description: 'Unix epoch milliseconds; 0 when not applicable' });

// ---- requests ----

export { RegisterRequest };

/** POST /v1/models/{name}/load: the name comes from the path. */
export const LoadBody = Type.Omit(LoadRequest, ['name'], { additionalProperties: false });
export type LoadBody = Static<typeof LoadBody>;

/** POST /v1/infer: InferRequest plus `stream` (true: Server-Sent Events, as llama-server and Ollama). */
export const InferBody = Type.Composite(
  [
    InferRequest,
    Type.Object({
      stream: Type.Optional(
        Type.Boolean({ description: 'true: answer with Server-Sent Events (token events, then done)' }),
      ),
    }),
  ],
  { additionalProperties: false },
);
export type InferBody = Static<typeof InferBody>;

/** PUT /v1/aliases/{alias}. */
export const AliasBody = Type.Object({ target: InferRequest.properties.model }, { additionalProperties: false });
export type AliasBody = Static<typeof AliasBody>;

/** POST /v1/models/{name}/pin. */
export const PinBody = Type.Object({ pinned: Type.Boolean() }, { additionalProperties: false });
export type PinBody = Static<typeof PinBody>;

// ---- responses ----

export const ModelResource = Type.Object(
  {
    name: Type.String(),
    path: Type.String({ description: 'GGUF file relative to the models root' }),
    device: Type.String({ description: "device id; '' when not loaded" }),
    state: ModelState,
    context_size: Type.Integer(),
    sequences: Type.Integer(),
    estimate_bytes: Bytes,
    reserved_bytes: Bytes,
    actual_bytes: Bytes,
    in_flight: Type.Integer(),
    queued: Type.Integer(),
    loaded_at_ms: EpochMs,
    error: Type.String({ description: "the last load error; '' when none" }),
    last_used_at_ms: EpochMs,
    pinned: Type.Boolean(),
    keep_alive_ms: Type.Integer({ description: 'idle time before unloading; -1: never' }),
    expires_at_ms: EpochMs,
    load_progress: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'while loading: how far the engine has read the weights (0–1); absent otherwise',
      }),
    ),
    kv_cache_usage: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description:
          "tokens the model's sequences hold (the prompt cache) over what they can hold, after its last generation (0–1); absent before its first",
      }),
    ),
    sha256: Type.String(),
    architecture: Type.String(),
    parameter_count: Type.Integer(),
    quantization: Type.String(),
    aliases: Type.Array(Type.String()),
    breaker: Type.String({ description: 'closed | open (loads fail fast) | half-open' }),
    base: Type.String({ description: "a LoRA adapter's base model; '' for a model" }),
    scale: Type.Optional(Type.Number({ description: "a LoRA adapter's scale; absent for a model" })),
  },
  { additionalProperties: false },
);
export type ModelResource = Static<typeof ModelResource>;

export const ModelList = Type.Object(
  {
    models: Type.Array(ModelResource),
    /** Pass as `cursor` for the next page; '' on the last page (docs/models.md, Listing). */
    next_cursor: Type.String(),
  },
  { additionalProperties: false },
);
export type ModelPageResource = Static<typeof ModelList>;

/** A learning job as clients read it (docs/jobs.md). */
export const JobResource = Type.Object(
  {
    id: Type.String(),
    type: JobType,
    spec: Type.Record(Type.String(), Type.Unknown(), { description: 'as submitted, checked against its type' }),
    priority: Type.Integer(),
    owner: Type.String({ description: 'the API key name that submitted it' }),
    state: JobState,
    attempts: Type.Integer(),
    max_attempts: Type.Integer(),
    progress: Type.Object({ fraction: Type.Number(), message: Type.String() }),
    created_at_ms: EpochMs,
    queued_at_ms: EpochMs,
    started_at_ms: EpochMs,
    ended_at_ms: EpochMs,
    updated_at_ms: EpochMs,
    log_tail: Type.Array(Type.String()),
    outputs: Type.Object({
      files: Type.Array(Type.String(), { description: 'relative to the models root' }),
      metrics: Type.Record(Type.String(), Type.Number()),
      models: Type.Array(Type.String(), { description: 'models it registered in the catalog' }),
    }),
    error: Type.Object({ code: Type.String(), message: Type.String() }, { description: "code '' when none" }),
    request_id: Type.String(),
    cancel_requested: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type JobResource = Static<typeof JobResource>;
export const JobList = Type.Object({ jobs: Type.Array(JobResource) }, { additionalProperties: false });
export const SubmitJobBody = SubmitJobRequest;

const PlanStateResource = Type.Object(
  {
    attempts: Type.Array(
      Type.Object(
        {
          attempt: Type.Integer(),
          started_at_ms: EpochMs,
          ended_at_ms: EpochMs,
          jobs: Type.Array(Type.String(), { description: "its steps' jobs so far, by step" }),
          step: Type.Integer({ description: 'the step running (0-based) while outcome is running' }),
          outcome: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]),
          reason: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
    run_requested: Type.Boolean(),
    feedback_mark: Type.Integer({ description: 'the feedback count a feedback trigger counts from' }),
    mark_at_ms: EpochMs,
  },
  { additionalProperties: false },
);

export const GoalResource = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    description: Type.String(),
    priority: Type.Integer(),
    owner: Type.String(),
    state: GoalState,
    jobs: Type.Array(Type.String(), { description: 'linked job ids' }),
    criterion: Type.Object(
      { metric: Type.String(), op: Type.String(), value: Type.Number() },
      { description: "metric '' when none" },
    ),
    deadline_ms: EpochMs,
    created_at_ms: EpochMs,
    updated_at_ms: EpochMs,
    ended_at_ms: EpochMs,
    reason: Type.String({ description: 'why it is in its state, in one line' }),
    achieved_by: Type.Object(
      { job: Type.String(), metric: Type.String(), value: Type.Number() },
      { description: "job '' when not achieved" },
    ),
    plan: Type.Union([GoalPlan, Type.Null()], { description: 'the job chain MOC runs for it; null when none' }),
    plan_state: Type.Union([PlanStateResource, Type.Null()], { description: 'its attempts; null without a plan' }),
    request_id: Type.String({ description: "the creation's idempotency key; '' when none" }),
  },
  { additionalProperties: false },
);
export type GoalResource = Static<typeof GoalResource>;
export const GoalList = Type.Object({ goals: Type.Array(GoalResource) }, { additionalProperties: false });
export const CreateGoalBody = CreateGoalRequest;
export const UpdateGoalBody = Type.Omit(UpdateGoalRequest, ['id'], { additionalProperties: false });

export const FeedbackBody = RecordFeedbackRequest;
export const FeedbackResource = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('rating'), Type.Literal('preference')]),
    owner: Type.String(),
    at_ms: EpochMs,
    model: Type.String({ description: "'' when the answers were sent, not referred to by request id" }),
    prompt: Type.String(),
    chosen: Type.String({ description: 'a rating: the rated answer' }),
    rejected: Type.String(),
    rating: Type.Integer(),
    request_id: Type.String({ description: "the rated (or chosen) answer's id; '' when the answers were sent" }),
    answer_id: Type.String({ description: 'the same as request_id, by the name RecordFeedback takes' }),
    comment: Type.String(),
    idempotency_key: Type.String({ description: "the record's idempotency key; '' when none" }),
  },
  { additionalProperties: false },
);
export type FeedbackResource = Static<typeof FeedbackResource>;

export const UnloadResponse = Type.Object({ name: Type.String(), freed_bytes: Bytes }, { additionalProperties: false });
export type UnloadResponse = Static<typeof UnloadResponse>;

export const AliasResponse = Type.Object(
  {
    alias: Type.String(),
    target: Type.String(),
    previous: Type.String({ description: "'' when the alias is new" }),
  },
  { additionalProperties: false },
);
export type AliasResponse = Static<typeof AliasResponse>;

export const MemoryLedger = Type.Object(
  {
    hard_limit: Bytes,
    soft_limit: Bytes,
    reserved: Bytes,
    free: Type.Integer({ description: 'bytes' }),
  },
  { additionalProperties: false },
);

/** A device's models are what its worker reports: the catalog facts (sha256 …) are on /v1/models. */
export const DeviceModel = Type.Omit(
  ModelResource,
  ['sha256', 'architecture', 'parameter_count', 'quantization', 'aliases', 'breaker'],
  { additionalProperties: false },
);

export const DeviceResource = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    available: Type.Boolean({ description: 'false while the device worker restarts' }),
    memory: MemoryLedger,
    models: Type.Array(DeviceModel),
    reservations: Type.Array(
      Type.Object(
        {
          owner: Type.String({ description: 'who holds it: `job:<id>` for a running job' }),
          bytes: Type.Integer(),
        },
        { additionalProperties: false },
      ),
      { description: 'memory held in the ledger for others than models (running jobs), counted in memory.reserved' },
    ),
    engine_pid: Type.Integer(),
    engine_state: Type.String(),
    engine_restarts: Type.Integer(),
    threads: Type.Integer(),
    mailbox_depth: Type.Integer(),
  },
  { additionalProperties: false },
);
export type DeviceResource = Static<typeof DeviceResource>;

export const DeviceList = Type.Object({ devices: Type.Array(DeviceResource) }, { additionalProperties: false });

export const InferResponse = Type.Object(
  {
    request_id: Type.String(),
    model: Type.String(),
    device: Type.String(),
    text: Type.String(),
    prompt_tokens: Type.Integer(),
    /** Of prompt_tokens, those found in the prompt cache and not evaluated again (docs/models.md). */
    cached_tokens: Type.Integer(),
    tokens_generated: Type.Integer(),
    finish_reason: FinishReason,
    queue_ms: Type.Number(),
    compute_ms: Type.Number(),
    /** With the request's logprobs: each generated token's log-probability and its likeliest alternatives. */
    logprobs: Type.Optional(Type.Array(TokenLogprob)),
    /** With finish_reason tool_calls: the calls the model made, arguments as JSON text. */
    tool_calls: Type.Optional(Type.Array(ToolCall)),
  },
  { additionalProperties: false },
);
export type InferResponse = Static<typeof InferResponse>;

/** Every error, on every route: the code is a key of the one error table (docs/errors.md). */
export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ pattern: '^MOC_ERR_[A-Z_]+$' }),
        message: Type.String({ description: 'what happened and what to do next' }),
        details: Type.Record(Type.String(), Type.Unknown()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const Liveness = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });
export const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]),
    devices: Type.Array(Type.Object({ id: Type.String(), available: Type.Boolean() }, { additionalProperties: false })),
    models_loaded: Type.Integer(),
    /** Why it is not ready (empty when ready): each a sentence that says what to do or wait for. */
    reasons: Type.Array(Type.String()),
    /**
     * Where jobs, goals and feedback live, and whether it answers. It does not decide `status`: inference and model
     * operations go on without it (store operations answer MOC_ERR_UNAVAILABLE meanwhile).
     */
    store: Type.Object(
      {
        kind: Type.Union([Type.Literal('lmdb'), Type.Literal('postgres')]),
        reachable: Type.Boolean(),
        reason: Type.String({ description: "why not reachable ('' when it is)" }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type Readiness = Static<typeof Readiness>;

/** One model's readiness (`GET /v1/models/{name}/ready`, as Triton's `/v2/models/{name}/ready`). */
export const ModelReadiness = Type.Object(
  {
    model: Type.String({ description: 'the model (an alias resolves to its target)' }),
    ready: Type.Boolean({
      description: 'true when loaded on a device that answers: an inference starts without a load',
    }),
    state: Type.String({ description: 'registered, loading, loaded, unloading or failed' }),
    device: Type.String({ description: 'where it is loaded or loading; empty otherwise' }),
    reason: Type.String({ description: 'why it is not ready (empty when ready)' }),
  },
  { additionalProperties: false },
);
export type ModelReadiness = Static<typeof ModelReadiness>;

/** Named schemas, as they appear under components.schemas in the OpenAPI document. */
export const REST_SCHEMAS: Record<string, TSchema> = {
  RegisterRequest,
  LoadBody,
  InferBody,
  AliasBody,
  PinBody,
  ModelResource,
  ModelList,
  UnloadResponse,
  AliasResponse,
  MemoryLedger,
  DeviceModel,
  DeviceResource,
  DeviceList,
  InferResponse,
  ErrorBody,
  Liveness,
  Readiness,
  ModelReadiness,
};

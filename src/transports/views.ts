/**
 * MOC's own types → the resources clients read (snake_case, as in proto/moc.proto and schemas/rest.ts).
 * REST and ZMQ answer with these; gRPC maps the same words onto its messages (enums spelled the proto way).
 */
import type { DeviceView, InferResult, ModelInfo, ModelView, UnloadResult, AliasInfo } from '../../schemas/messages.js';
import type {
  AliasResponse,
  DeviceResource,
  FeedbackResource,
  GoalResource,
  InferResponse,
  JobResource,
  ModelResource,
  UnloadResponse,
} from '../../schemas/rest.js';
import type { Job } from '../../schemas/jobs.js';
import type { Feedback } from '../../schemas/feedback.js';
import type { Goal } from '../../schemas/goals.js';

type DeviceModel = Omit<
  ModelResource,
  'sha256' | 'architecture' | 'parameter_count' | 'quantization' | 'aliases' | 'breaker' | 'scale'
>;

export function deviceModelResource(m: ModelInfo): DeviceModel {
  return {
    name: m.name,
    path: m.path,
    device: m.device,
    state: m.state,
    context_size: m.contextSize,
    sequences: m.sequences,
    estimate_bytes: m.estimateBytes,
    reserved_bytes: m.reservedBytes,
    actual_bytes: m.actualBytes,
    in_flight: m.inFlight,
    queued: m.queued,
    loaded_at_ms: m.loadedAt,
    error: m.error ?? '',
    last_used_at_ms: m.lastUsedAt,
    pinned: m.pinned,
    keep_alive_ms: m.keepAliveMs,
    expires_at_ms: m.expiresAt,
    ...(m.loadProgress !== undefined ? { load_progress: m.loadProgress } : {}),
    ...(m.kvCacheUsage !== undefined ? { kv_cache_usage: m.kvCacheUsage } : {}),
    base: m.base ?? '',
  };
}

/**
 * The Lifecycle hands out the same view object until the model changes (its view cache), so a list answered again
 * and again maps each view once. Views are never mutated after they are built.
 */
const resources = new WeakMap<ModelView, ModelResource>();

export function modelResource(m: ModelView): ModelResource {
  let r = resources.get(m);
  if (!r) resources.set(m, (r = buildModelResource(m)));
  return r;
}

function buildModelResource(m: ModelView): ModelResource {
  return {
    ...deviceModelResource(m),
    sha256: m.sha256,
    architecture: m.architecture,
    parameter_count: m.parameterCount,
    quantization: m.quantization,
    aliases: m.aliases,
    breaker: m.breaker,
    ...(m.scale !== undefined ? { scale: m.scale } : {}),
  };
}

export function deviceResource(d: DeviceView): DeviceResource {
  return {
    id: d.id,
    kind: d.kind,
    available: d.available,
    memory: {
      hard_limit: d.memory.hardLimit,
      soft_limit: d.memory.softLimit,
      reserved: d.memory.reserved,
      free: d.memory.free,
    },
    models: d.models.map(deviceModelResource),
    reservations: d.reservations.map((r) => ({ owner: r.owner, bytes: r.bytes })),
    engine_pid: d.engine.pid,
    engine_state: d.engine.state,
    engine_restarts: d.engine.restarts,
    threads: d.threads,
    mailbox_depth: d.mailboxDepth,
  };
}

export function inferResponse(r: InferResult): InferResponse {
  return {
    request_id: r.requestId,
    model: r.model,
    device: r.device,
    text: r.text,
    prompt_tokens: r.promptTokens,
    cached_tokens: r.cachedTokens,
    tokens_generated: r.tokensGenerated,
    finish_reason: r.finishReason,
    queue_ms: r.queueMs,
    compute_ms: r.computeMs,
    ...(r.logprobs ? { logprobs: r.logprobs } : {}),
    ...(r.toolCalls ? { tool_calls: r.toolCalls } : {}),
  };
}

export const unloadResponse = (r: UnloadResult): UnloadResponse => ({ name: r.model, freed_bytes: r.freedBytes });
export const aliasResponse = (a: AliasInfo): AliasResponse => ({
  alias: a.alias,
  target: a.target,
  previous: a.previous,
});

export function jobResource(j: Job): JobResource {
  return {
    id: j.id,
    type: j.type,
    spec: j.spec,
    priority: j.priority,
    owner: j.owner,
    state: j.state,
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    progress: j.progress,
    created_at_ms: j.createdAt,
    queued_at_ms: j.queuedAt,
    started_at_ms: j.startedAt,
    ended_at_ms: j.endedAt,
    updated_at_ms: j.updatedAt,
    log_tail: j.logTail,
    outputs: j.outputs,
    error: j.error ?? { code: '', message: '' },
    request_id: j.requestId ?? '',
    cancel_requested: j.cancelRequested,
  };
}

export function feedbackResource(f: Feedback): FeedbackResource {
  return {
    id: f.id,
    kind: f.kind,
    owner: f.owner,
    at_ms: f.at,
    model: f.model,
    prompt: f.prompt,
    chosen: f.chosen,
    rejected: f.rejected,
    rating: f.rating,
    request_id: f.requestId,
    answer_id: f.requestId,
    comment: f.comment,
    idempotency_key: f.idempotencyKey ?? '',
  };
}

export function goalResource(g: Goal): GoalResource {
  return {
    id: g.id,
    title: g.title,
    description: g.description,
    priority: g.priority,
    owner: g.owner,
    state: g.state,
    jobs: g.jobs,
    criterion: g.criterion ?? { metric: '', op: 'lte', value: 0 },
    deadline_ms: g.deadlineMs,
    created_at_ms: g.createdAt,
    updated_at_ms: g.updatedAt,
    ended_at_ms: g.endedAt,
    reason: g.reason,
    achieved_by: g.achievedBy ?? { job: '', metric: '', value: 0 },
    plan: g.plan ?? null,
    request_id: g.requestId ?? '',
    plan_state: g.planState
      ? {
          attempts: g.planState.attempts.map((a) => ({
            attempt: a.attempt,
            started_at_ms: a.startedAt,
            ended_at_ms: a.endedAt,
            jobs: a.jobs,
            step: a.step,
            outcome: a.outcome,
            reason: a.reason,
          })),
          run_requested: g.planState.runRequested,
          feedback_mark: g.planState.feedbackMark,
          mark_at_ms: g.planState.markAt,
        }
      : null,
  };
}

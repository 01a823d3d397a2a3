/** Between proto messages and MOC's own types; errors through the one error table. */
import * as grpc from '@grpc/grpc-js';
import { errors, toMocError } from '../../errors.js';
import type { GoalResource, JobResource } from '../../../schemas/rest.js';
import type { ModelInfo, ModelView } from '../../../schemas/messages.js';
import type { DeviceResource, InferResponse } from '../../../schemas/rest.js';
import { deviceModelResource, modelResource } from '../views.js';

/** gRPC request → transport-neutral InferRequest (validation happens in the router). Empty strings mean unset. */
export function inferRequestFromProto(r: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = { model: r.model };
  // A chat comes without a prompt (proto3 sends it as ''); with neither, the empty prompt is refused as before.
  if (Array.isArray(r.messages) && r.messages.length) out.messages = r.messages.map(chatMessageFromProto);
  if (r.prompt || !out.messages) out.prompt = r.prompt;
  for (const k of ['top_p', 'frequency_penalty', 'presence_penalty', 'logprobs', 'parallel_tool_calls'])
    if (r[k] !== undefined && r[k] !== null) out[k] = r[k];
  if (Array.isArray(r.tools) && r.tools.length) out.tools = r.tools.map(toolFromProto);
  if (r.tool_choice_name) out.tool_choice = { name: r.tool_choice_name };
  else if (r.tool_choice) out.tool_choice = r.tool_choice;
  if (r.response_format) out.response_format = responseFormatFromProto(r.response_format, r.response_schema_json);
  if (r.logit_bias && Object.keys(r.logit_bias).length) out.logit_bias = r.logit_bias;
  if (r.max_tokens !== undefined && r.max_tokens !== null) out.max_tokens = r.max_tokens;
  if (r.temperature !== undefined && r.temperature !== null) out.temperature = r.temperature;
  if (r.seed !== undefined && r.seed !== null) out.seed = r.seed;
  if (Array.isArray(r.stop) && r.stop.length) out.stop = r.stop;
  if (r.request_id) out.request_id = r.request_id;
  if (r.priority) out.priority = r.priority;
  if (r.keep_alive_ms !== undefined && r.keep_alive_ms !== null) out.keep_alive_ms = r.keep_alive_ms;
  if (r.require_loaded) out.require_loaded = true;
  return out;
}

function chatMessageFromProto(m: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (Array.isArray(m.tool_calls) && m.tool_calls.length)
    out.tool_calls = m.tool_calls.map((c: Record<string, unknown>) => ({
      id: c.id,
      name: c.name,
      arguments: c.arguments,
    }));
  if (m.tool_call_id) out.tool_call_id = m.tool_call_id;
  return out;
}

/** response_format + response_schema_json → { type, schema }; the router validates the type. */
function responseFormatFromProto(type: string, schemaJson: string | undefined): Record<string, unknown> {
  if (type !== 'json_schema') return { type };
  try {
    return { type, schema: JSON.parse(schemaJson || 'null') };
  } catch {
    throw errors.invalidArgument('response_schema_json', 'is not JSON; send the JSON Schema of the answer as text');
  }
}

/** A tool's parameters travel as JSON text in the proto (a JSON Schema has no fixed message shape). */
function toolFromProto(t: Record<string, any>, i: number): Record<string, unknown> {
  const out: Record<string, unknown> = { name: t.name };
  if (t.description) out.description = t.description;
  if (t.parameters_json) {
    try {
      out.parameters = JSON.parse(t.parameters_json);
    } catch {
      throw errors.invalidArgument(
        `tools[${i}].parameters_json`,
        'is not JSON; send the JSON Schema of the arguments as text',
      );
    }
  }
  return out;
}

/** RegisterModel and LoadModel requests: empty strings and zeros mean unset; proto3 optionals come through as absent. */
export function modelRequestFromProto(r: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = { name: r.name };
  if (r.path) out.path = r.path;
  if (r.device) out.device = r.device;
  if (r.context_size) out.context_size = r.context_size;
  if (r.sequences) out.sequences = r.sequences;
  for (const k of ['pinned', 'keep_alive_ms', 'preload']) if (r[k] !== undefined && r[k] !== null) out[k] = r[k];
  return out;
}

const FINISH = {
  stop: 'FINISH_REASON_STOP',
  length: 'FINISH_REASON_LENGTH',
  eos: 'FINISH_REASON_EOS',
  tool_calls: 'FINISH_REASON_TOOL_CALLS',
} as const;
const protoState = (s: string) => `MODEL_STATE_${s.toUpperCase()}`;

// The same resources REST and ZMQ answer with (src/transports/views.ts), with enums spelled the proto way.

export const inferToProto = (r: InferResponse) => ({ ...r, finish_reason: FINISH[r.finish_reason] });

export const modelToProto = <M extends { state: string }>(m: M) => ({ ...m, state: protoState(m.state) });

export const deviceToProto = (d: DeviceResource) => ({ ...d, models: d.models.map(modelToProto) });

/** WatchModels sends model states as they change (views, not yet resources). */
export function modelInfoToProto(m: ModelInfo | ModelView) {
  return modelToProto('sha256' in m ? modelResource(m) : deviceModelResource(m));
}

/** A MocError (or anything thrown) as a gRPC status with machine-readable metadata. */
export function toGrpcError(err: unknown): Partial<grpc.StatusObject> {
  const e = toMocError(err);
  const metadata = new grpc.Metadata();
  metadata.set('moc-error-code', e.code);
  const retry = e.details.retryAfterMs;
  if (typeof retry === 'number') metadata.set('retry-after-ms', String(retry));
  if (typeof e.details.field === 'string') metadata.set('moc-error-field', e.details.field);
  return { code: e.grpcStatus, details: e.message, metadata };
}

// ---- learning jobs ----

const JOB_STATE = (s: string) => `JOB_STATE_${s.toUpperCase()}`;

/** proto SubmitJobRequest → the operation's input: proto3 defaults (0, '') mean "not given". */
export function submitJobFromProto(r: Record<string, any>): Record<string, unknown> {
  let spec: unknown;
  try {
    spec = r.spec_json ? JSON.parse(r.spec_json) : {};
  } catch {
    throw errors.invalidArgument('spec_json', 'is not JSON; send the spec as a JSON object');
  }
  return {
    type: r.type,
    spec,
    ...(r.priority ? { priority: r.priority } : {}),
    ...(r.device ? { device: r.device } : {}),
    ...(r.memory_bytes ? { memory_bytes: r.memory_bytes } : {}),
    ...(r.request_id ? { request_id: r.request_id } : {}),
    ...(r.max_attempts ? { max_attempts: r.max_attempts } : {}),
  };
}

export function listJobsFromProto(r: Record<string, any>): Record<string, unknown> {
  const state =
    typeof r.state === 'string' && r.state !== 'JOB_STATE_UNSPECIFIED'
      ? r.state.replace(/^JOB_STATE_/, '').toLowerCase()
      : undefined;
  return { ...(state ? { state } : {}), ...(r.type ? { type: r.type } : {}), ...(r.limit ? { limit: r.limit } : {}) };
}

export function jobToProto(j: JobResource) {
  const { spec, ...rest } = j;
  return { ...rest, spec_json: JSON.stringify(spec), state: JOB_STATE(j.state) };
}

/** proto RecordFeedbackRequest → the operation's input: empty strings and an unset rating mean "not given". */
export function feedbackFromProto(r: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['request_id', 'rejected_request_id', 'prompt', 'chosen', 'rejected', 'comment'])
    if (r[k]) out[k] = r[k];
  if (r.rating !== undefined && r.rating !== null) out.rating = r.rating;
  return out;
}

// ---- goals ----

const criterionFromProto = (c: any) => (c?.metric ? { criterion: { metric: c.metric, op: c.op, value: c.value } } : {});

export function createGoalFromProto(r: Record<string, any>): Record<string, unknown> {
  return {
    title: r.title,
    ...(r.description ? { description: r.description } : {}),
    ...(r.priority ? { priority: r.priority } : {}),
    ...criterionFromProto(r.criterion),
    ...(r.deadline_ms ? { deadline_ms: r.deadline_ms } : {}),
    ...(r.jobs?.length ? { jobs: r.jobs } : {}),
  };
}

/** Optional proto fields left unset arrive as null: "leave as it is". */
export function updateGoalFromProto(r: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = { id: r.id, ...criterionFromProto(r.criterion) };
  for (const k of ['title', 'description', 'priority', 'deadline_ms'])
    if (r[k] !== null && r[k] !== undefined) out[k] = r[k];
  if (r.link_jobs?.length) out.link_jobs = r.link_jobs;
  if (r.unlink_jobs?.length) out.unlink_jobs = r.unlink_jobs;
  return out;
}

export function listGoalsFromProto(r: Record<string, any>): Record<string, unknown> {
  const state =
    typeof r.state === 'string' && r.state !== 'GOAL_STATE_UNSPECIFIED'
      ? r.state.replace(/^GOAL_STATE_/, '').toLowerCase()
      : undefined;
  return { ...(state ? { state } : {}), ...(r.limit ? { limit: r.limit } : {}) };
}

export const goalToProto = (g: GoalResource) => ({ ...g, state: `GOAL_STATE_${g.state.toUpperCase()}` });

/**
 * Between proto messages and MOC's own types; errors through the one error table. Requests are typed as grpc-js
 * decodes them (src/transports/grpc/generated, from proto/moc.proto with the loader's options); replies as it encodes
 * them, so a resource field the proto lacks, or of another type, fails to compile.
 */
import * as grpc from '@grpc/grpc-js';
import { errors, toMocError } from '../../errors.js';
import type { GoalResource, JobResource } from '../../../schemas/rest.js';
import { GOAL_STATES } from '../../../schemas/goals.js';
import { JOB_STATES } from '../../../schemas/jobs.js';
import type { ModelInfo, ModelState, ModelView } from '../../../schemas/messages.js';
import type { DeviceResource, InferResponse as InferResponseResource } from '../../../schemas/rest.js';
import { deviceModelResource, modelResource } from '../views.js';
import type { ChatMessage__Output } from './generated/moc/v1/ChatMessage.js';
import type { Criterion__Output } from './generated/moc/v1/Criterion.js';
import type { CreateGoalRequest__Output } from './generated/moc/v1/CreateGoalRequest.js';
import type { DeviceInfo } from './generated/moc/v1/DeviceInfo.js';
import type { Goal } from './generated/moc/v1/Goal.js';
import type { InferRequest__Output } from './generated/moc/v1/InferRequest.js';
import type { InferResponse } from './generated/moc/v1/InferResponse.js';
import type { Job } from './generated/moc/v1/Job.js';
import type { ListGoalsRequest__Output } from './generated/moc/v1/ListGoalsRequest.js';
import type { ListJobsRequest__Output } from './generated/moc/v1/ListJobsRequest.js';
import type { LoadModelRequest__Output } from './generated/moc/v1/LoadModelRequest.js';
import type { ModelInfo as ProtoModelInfo } from './generated/moc/v1/ModelInfo.js';
import type { RecordFeedbackRequest__Output } from './generated/moc/v1/RecordFeedbackRequest.js';
import type { RegisterModelRequest__Output } from './generated/moc/v1/RegisterModelRequest.js';
import type { SubmitJobRequest__Output } from './generated/moc/v1/SubmitJobRequest.js';
import type { Tool__Output } from './generated/moc/v1/Tool.js';
import type { UpdateGoalRequest__Output } from './generated/moc/v1/UpdateGoalRequest.js';

/** A decoded request as the operation's input: the wire's own field names, validated by the operation. */
type Input = Record<string, unknown>;
/** A proto3 `optional` field was set: unset ones are absent, or null where the loader gives them so (both accepted). */
const given = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

/**
 * gRPC request → the InferRequest REST and ZMQ send too (snake_case, as the proto names it), which the infer operation
 * validates and converts. Empty strings mean unset; proto3 `optional` fields are passed when set.
 */
export function inferRequestFromProto(r: InferRequest__Output): Input {
  const out: Input = { model: r.model };
  // A chat comes without a prompt (proto3 sends it as ''); with neither, the empty prompt is refused as before.
  if (Array.isArray(r.messages) && r.messages.length) out.messages = r.messages.map(chatMessageFromProto);
  if (r.prompt || !out.messages) out.prompt = r.prompt;
  for (const k of [
    'top_p',
    'frequency_penalty',
    'presence_penalty',
    'logprobs',
    'parallel_tool_calls',
    'cache_prompt',
  ] as const)
    if (given(r[k])) out[k] = r[k];
  if (Array.isArray(r.tools) && r.tools.length) out.tools = r.tools.map(toolFromProto);
  if (r.tool_choice_name) out.tool_choice = { name: r.tool_choice_name };
  else if (r.tool_choice) out.tool_choice = r.tool_choice;
  if (r.response_schema_json && r.response_format !== 'json_schema')
    // A schema with no format, or another format, would be ignored: refused instead, naming both fields.
    throw errors.invalidArgument(
      'response_schema_json',
      `is set but response_format is ${r.response_format ? `"${r.response_format}"` : 'unset'}; send response_format "json_schema" with it, or leave response_schema_json out`,
    );
  if (r.response_format) out.response_format = responseFormatFromProto(r.response_format, r.response_schema_json);
  if (r.logit_bias && Object.keys(r.logit_bias).length) out.logit_bias = r.logit_bias;
  if (given(r.max_tokens)) out.max_tokens = r.max_tokens;
  if (given(r.temperature)) out.temperature = r.temperature;
  if (given(r.seed)) out.seed = r.seed;
  if (Array.isArray(r.stop) && r.stop.length) out.stop = r.stop;
  if (r.request_id) out.request_id = r.request_id;
  if (r.priority) out.priority = r.priority;
  if (given(r.keep_alive_ms)) out.keep_alive_ms = r.keep_alive_ms;
  if (r.require_loaded) out.require_loaded = true;
  return out;
}

function chatMessageFromProto(m: ChatMessage__Output): Input {
  const out: Input = { role: m.role, content: m.content };
  if (Array.isArray(m.tool_calls) && m.tool_calls.length)
    out.tool_calls = m.tool_calls.map((c) => ({
      id: c.id,
      name: c.name,
      arguments: c.arguments,
    }));
  if (m.tool_call_id) out.tool_call_id = m.tool_call_id;
  return out;
}

/** response_format + response_schema_json → { type, schema }; the infer operation validates the type. */
function responseFormatFromProto(type: string, schemaJson: string | undefined): Input {
  if (type !== 'json_schema') return { type };
  try {
    return { type, schema: JSON.parse(schemaJson || 'null') };
  } catch {
    throw errors.invalidArgument('response_schema_json', 'is not JSON; send the JSON Schema of the answer as text');
  }
}

/** A tool's parameters travel as JSON text in the proto (a JSON Schema has no fixed message shape). */
function toolFromProto(t: Tool__Output, i: number): Input {
  const out: Input = { name: t.name };
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
export function modelRequestFromProto(r: RegisterModelRequest__Output | LoadModelRequest__Output): Input {
  const out: Input = { name: r.name };
  if (r.path) out.path = r.path;
  if (r.device) out.device = r.device;
  if (r.context_size) out.context_size = r.context_size;
  if (r.sequences) out.sequences = r.sequences;
  if (given(r.pinned)) out.pinned = r.pinned;
  if (given(r.keep_alive_ms)) out.keep_alive_ms = r.keep_alive_ms;
  if ('preload' in r && given(r.preload)) out.preload = r.preload;
  if ('adapter' in r && r.adapter) out.adapter = r.adapter;
  if ('base' in r && r.base) out.base = r.base;
  if ('scale' in r && given(r.scale)) out.scale = r.scale;
  return out;
}

const FINISH = {
  stop: 'FINISH_REASON_STOP',
  length: 'FINISH_REASON_LENGTH',
  eos: 'FINISH_REASON_EOS',
  tool_calls: 'FINISH_REASON_TOOL_CALLS',
} as const;
/**
 * One of our states as the proto's enum names it (`loaded` → `MODEL_STATE_LOADED`). Typed as that name, so a state
 * of ours that the proto's enum lacks fails to compile where the reply is built.
 */
const protoEnum = <P extends string, S extends string>(prefix: P, s: S) =>
  `${prefix}${s.toUpperCase()}` as `${P}${Uppercase<S>}`;

// The same resources REST and ZMQ answer with (src/transports/views.ts), with enums spelled the proto way.

export const inferToProto = (r: InferResponseResource): InferResponse => ({
  ...r,
  finish_reason: FINISH[r.finish_reason],
});

export const modelToProto = <M extends { state: ModelState }>(m: M) => ({
  ...m,
  state: protoEnum('MODEL_STATE_', m.state),
});

export const deviceToProto = (d: DeviceResource): DeviceInfo => ({ ...d, models: d.models.map(modelToProto) });

/** WatchModels sends model states as they change (views, not yet resources). */
export function modelInfoToProto(m: ModelInfo | ModelView): ProtoModelInfo {
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

/** proto SubmitJobRequest → the operation's input: proto3 defaults (0, '') mean "not given". */
export function submitJobFromProto(r: SubmitJobRequest__Output): Input {
  const spec = r.spec_json ? jsonField('spec_json', r.spec_json, 'the spec') : {};
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

/**
 * A proto enum filter as the operation spells it (`JOB_STATE_QUEUED` → `queued`); UNSPECIFIED (unset) is no filter.
 * A number the proto does not define reaches us as that number (protobuf keeps unknown enum values): refused, or it
 * would filter nothing and answer every record.
 */
function enumFilter(field: string, prefix: string, value: unknown, states: readonly string[]): string | undefined {
  if (value === undefined || value === null || value === `${prefix}UNSPECIFIED` || value === 0) return undefined;
  if (typeof value === 'string' && value.startsWith(prefix)) return value.slice(prefix.length).toLowerCase();
  const allowed = states.map((s, i) => `${prefix}${s.toUpperCase()} (${i + 1})`).join(', ');
  throw errors.invalidArgument(
    field,
    `${JSON.stringify(value)} is not a value of the enum; send one of ${allowed}, or leave it unset (${prefix}UNSPECIFIED) for all`,
  );
}

export function listJobsFromProto(r: ListJobsRequest__Output): Input {
  const state = enumFilter('state', 'JOB_STATE_', r.state, JOB_STATES);
  return { ...(state ? { state } : {}), ...(r.type ? { type: r.type } : {}), ...(r.limit ? { limit: r.limit } : {}) };
}

export function jobToProto(j: JobResource): Job {
  const { spec, ...rest } = j;
  return { ...rest, spec_json: JSON.stringify(spec), state: protoEnum('JOB_STATE_', j.state) };
}

/** proto RecordFeedbackRequest → the operation's input: empty strings and an unset rating mean "not given". */
export function feedbackFromProto(r: RecordFeedbackRequest__Output): Input {
  const out: Input = {};
  const fields = [
    'answer_id',
    'rejected_answer_id',
    'request_id',
    'rejected_request_id',
    'prompt',
    'chosen',
    'rejected',
    'comment',
    'idempotency_key',
  ] as const;
  for (const k of fields) if (r[k]) out[k] = r[k];
  if (given(r.rating)) out.rating = r.rating;
  return out;
}

// ---- goals ----

const criterionFromProto = (c: Criterion__Output | null | undefined) =>
  c?.metric ? { criterion: { metric: c.metric, op: c.op, value: c.value } } : {};

export function createGoalFromProto(r: CreateGoalRequest__Output): Input {
  return {
    title: r.title,
    ...(r.description ? { description: r.description } : {}),
    ...(r.priority ? { priority: r.priority } : {}),
    ...criterionFromProto(r.criterion),
    ...(r.deadline_ms ? { deadline_ms: r.deadline_ms } : {}),
    ...(r.jobs?.length ? { jobs: r.jobs } : {}),
    ...(r.plan_json ? { plan: jsonField('plan_json', r.plan_json, 'the plan') } : {}),
    ...(r.request_id ? { request_id: r.request_id } : {}),
  };
}

function jsonField(field: string, text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw errors.invalidArgument(field, `is not JSON; send ${what} as a JSON object`);
  }
}

/** Optional proto fields left unset arrive as null: "leave as it is". */
export function updateGoalFromProto(r: UpdateGoalRequest__Output): Input {
  const out: Input = { id: r.id, ...criterionFromProto(r.criterion) };
  for (const k of ['title', 'description', 'priority', 'deadline_ms'] as const) if (given(r[k])) out[k] = r[k];
  if (r.link_jobs?.length) out.link_jobs = r.link_jobs;
  if (r.unlink_jobs?.length) out.unlink_jobs = r.unlink_jobs;
  if (r.run) out.run = true;
  return out;
}

export function listGoalsFromProto(r: ListGoalsRequest__Output): Input {
  const state = enumFilter('state', 'GOAL_STATE_', r.state, GOAL_STATES);
  return { ...(state ? { state } : {}), ...(r.limit ? { limit: r.limit } : {}) };
}

export function goalToProto(g: GoalResource): Goal {
  const { plan, plan_state, ...rest } = g;
  return {
    ...rest,
    state: protoEnum('GOAL_STATE_', g.state),
    plan_json: plan ? JSON.stringify(plan) : '',
    plan_state_json: plan_state ? JSON.stringify(plan_state) : '',
  };
}

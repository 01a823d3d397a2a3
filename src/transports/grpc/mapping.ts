/** Between proto messages and MOC's own types; errors through the one error table. */
import * as grpc from '@grpc/grpc-js';
import { toMocError } from '../../errors.js';
import type { DeviceView, InferResult, ModelInfo, ModelView } from '../../../schemas/messages.js';

/** gRPC request → transport-neutral InferRequest (validation happens in the router). Empty strings mean unset. */
export function inferRequestFromProto(r: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = { model: r.model, prompt: r.prompt };
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

const FINISH = { stop: 'FINISH_REASON_STOP', length: 'FINISH_REASON_LENGTH', eos: 'FINISH_REASON_EOS' } as const;

export function inferResponseToProto(r: InferResult) {
  return {
    request_id: r.requestId, model: r.model, device: r.device, text: r.text, prompt_tokens: r.promptTokens,
    tokens_generated: r.tokensGenerated, finish_reason: FINISH[r.finishReason], queue_ms: r.queueMs, compute_ms: r.computeMs,
  };
}

export function modelInfoToProto(m: ModelInfo) {
  return {
    name: m.name, path: m.path, device: m.device, state: `MODEL_STATE_${m.state.toUpperCase()}`,
    context_size: m.contextSize, sequences: m.sequences, estimate_bytes: m.estimateBytes,
    reserved_bytes: m.reservedBytes, actual_bytes: m.actualBytes, in_flight: m.inFlight, queued: m.queued,
    loaded_at_ms: m.loadedAt, error: m.error ?? '', last_used_at_ms: m.lastUsedAt, pinned: m.pinned,
    keep_alive_ms: m.keepAliveMs, expires_at_ms: m.expiresAt,
    ...('sha256' in m ? {
      sha256: (m as ModelView).sha256, architecture: (m as ModelView).architecture, parameter_count: (m as ModelView).parameterCount,
      quantization: (m as ModelView).quantization, aliases: (m as ModelView).aliases, breaker: (m as ModelView).breaker,
    } : {}),
  };
}

export function deviceToProto(d: DeviceView) {
  return {
    id: d.id, kind: d.kind, available: d.available,
    memory: { hard_limit: d.memory.hardLimit, soft_limit: d.memory.softLimit, reserved: d.memory.reserved, free: d.memory.free },
    models: d.models.map(modelInfoToProto), engine_pid: d.engine.pid, engine_state: d.engine.state,
    engine_restarts: d.engine.restarts, threads: d.threads, mailbox_depth: d.mailboxDepth,
  };
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

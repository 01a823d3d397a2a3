/**
 * Frames between a device actor (worker thread) and its engine child process (Node IPC channel). Declared once,
 * imported by both sides. Every request carries an id; the engine answers each with exactly one result or error.
 */
import type { ErrorData } from '../../src/errors.js';
import type { LogSettings } from '../../src/log.js';
import type { FinishReason, ModelSpec } from '../../schemas/messages.js';

/** What the engine needs of a model (placement and keep-alive are the device's business). */
export type EngineModel = Pick<ModelSpec, 'name' | 'path' | 'contextSize' | 'sequences' | 'file' | 'adapter'>;

import type { InferMsg, TokenLogprob, ToolCall, ToolCallDelta } from '../../schemas/messages.js';

/** Where a streamed generation's pieces go: text, or a piece of a tool call (with empty text). */
export type OnPiece = (text: string, call?: ToolCallDelta) => void;

/**
 * A generation, as the device got it from the router (InferMsg: the request, its defaults filled in) less what is
 * the device's own business (its queue's priority, the model's keep-alive). Derived, never copied field by field: a
 * new request field reaches the engine by itself. `stream`: send a token frame per text chunk (unary requests skip
 * the per-token IPC); `requestId`, `traceId`: for the engine's own log line (never used to generate).
 */
export type GenerateParams = Omit<InferMsg, 'kind' | 'priority' | 'keepAliveMs' | 'requestId'> &
  Partial<Pick<InferMsg, 'requestId'>>;

export interface GenerateOutcome {
  text: string;
  promptTokens: number;
  /** Of promptTokens, those the sequence already held (the prompt cache) and were not evaluated again. */
  cachedTokens: number;
  /** The model's context after the generation: tokens its sequences hold, over what they can hold (0–1). */
  kvCacheUsage: number;
  tokensGenerated: number;
  finishReason: FinishReason;
  computeMs: number;
  /** From the start of compute to the first generated token; -1 when none was generated. */
  firstTokenMs: number;
  logprobs?: TokenLogprob[];
  toolCalls?: ToolCall[];
}

export interface EvaluateParams {
  model: string;
  /** Checked by the device (count, non-empty, a coarse length bound); the engine checks each against the context. */
  texts: string[];
  /** Per text, a prefix it is scored after (its tokens are evaluated, not counted); absent or '': none. */
  prefixes?: string[];
}

export interface EvaluateOutcome {
  tokens: number;
  sumLogProb: number;
  meanLogProb: number;
  perplexity: number;
  perText: Array<{ tokens: number; sumLogProb: number }>;
  computeMs: number;
}

export interface EmbedParams {
  model: string;
  texts: string[];
}

export interface EmbedOutcome {
  /** One L2-normalised vector per text. */
  embeddings: number[][];
  tokens: number;
  /** Bytes of the model's embedding context when this call created it (0 when it existed already). */
  createdBytes: number;
}

export interface Estimate {
  weightsBytes: number;
  contextBytes: number;
  totalBytes: number;
  trainContextSize: number;
}

export interface Loaded {
  /** What the engine reports holding after the load: model weights + context (KV cache, buffers). */
  actualBytes: number;
  trainContextSize: number;
  /**
   * An adapter's weights (in actualBytes). node-llama-cpp keeps them with the base model until the base is disposed:
   * `resident` says they were already there (loaded for this adapter before, and kept since), not loaded now.
   */
  adapterWeights?: { bytes: number; resident: boolean };
}

/**
 * Each engine request kind with its frame (without the id, which the client assigns) and the value its result carries,
 * as DeviceProtocol does for actors: `EngineClient.call` infers the reply from `t`, and the engine's answer to each
 * kind is type-checked against it (engine-process.ts).
 */
export type EngineProtocol = {
  estimate: { req: { t: 'estimate'; spec: EngineModel }; reply: Estimate };
  load: { req: { t: 'load'; spec: EngineModel }; reply: Loaded };
  unload: { req: { t: 'unload'; model: string }; reply: null };
  generate: { req: { t: 'generate'; params: GenerateParams }; reply: GenerateOutcome };
  evaluate: { req: { t: 'evaluate'; params: EvaluateParams }; reply: EvaluateOutcome };
  embed: { req: { t: 'embed'; params: EmbedParams }; reply: EmbedOutcome };
};
export type EngineKind = keyof EngineProtocol;
/** A call's frame as the caller writes it (the id is the client's). */
export type EngineCallReq<K extends EngineKind = EngineKind> = EngineProtocol[K]['req'];
export type EngineResult<K extends EngineKind> = EngineProtocol[K]['reply'];

/** One frame a kind's call sends: its request with the id its answer will carry. */
type Framed<K extends EngineKind> = EngineProtocol[K]['req'] & { id: number };

export type EngineRequest =
  | { [K in EngineKind]: Framed<K> }[EngineKind]
  /** Stop request `id` (a generation, an evaluation, a load or an estimate); a load that completes anyway is disposed. */
  | { t: 'cancel'; id: number }
  /** Fault injection (tests only, gated by the device): abort the process as a native crash would. */
  | { t: 'abort' };

export type EngineReply =
  | { t: 'ready'; pid: number }
  /** The answer to request `id`: its value is EngineResult of that request's kind (the client matches them by id). */
  | { t: 'result'; id: number; value: EngineResult<EngineKind> }
  | { t: 'error'; id: number; error: ErrorData }
  | { t: 'token'; id: number; text: string; call?: ToolCallDelta }
  /** A load's progress (node-llama-cpp's onLoadProgress, 0–1), sent when it moved by at least LOAD_PROGRESS_STEP. */
  | { t: 'progress'; id: number; fraction: number };

/**
 * The smallest load-progress move the engine reports: each report is a frame and a device notice, so at most ~10 a
 * load (node-llama-cpp reports every tensor batch; a small model's load is ~20 reports in a few ms).
 */
export const LOAD_PROGRESS_STEP = 0.1;

export interface EngineStart {
  /** The device this engine serves (its log lines say so). */
  device: string;
  /** As the main thread logs: level and sensitivity. */
  log: LogSettings;
  threads: number;
  gpu: 'cpu' | 'cuda' | 'vulkan';
  /** Fault injection (tests only; the device sets it only under debug.faultInjection). */
  faults?: EngineFaults;
}

export interface EngineFaults {
  /**
   * The first load of this model holds on for `ms` after llama.cpp finished, ignoring cancellation, as a native load
   * that does not honour its abort signal would: the load timeout and its clean-up can then be tested.
   */
  slowLoad?: { model: string; ms: number };
}

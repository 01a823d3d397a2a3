/**
 * Messages between actors, declared once. Each has a literal `kind`; the Protocol types at the bottom tie each
 * request to its reply and events, so WorkerRef.ask and the device's receive() are typed from the same source.
 * The transport-facing request (InferRequest) is validated here too, so gRPC, REST and ZMQ share one set of rules.
 */
import type { FleetHost } from './fleet.js';
import { Type, type Static } from '@sinclair/typebox';
import { ModelName, DeviceId } from './config.js';
import type { Job } from './jobs.js';
import type { Feedback } from './feedback.js';
import type { Goal } from './goals.js';

/**
 * Idle time before a model is unloaded, in ms. Capped at the largest delay a Node timer holds (2^31−1 ms): a longer
 * one fires after 1 ms, so a client asking for "30 days" would unload the model at once. -1 means never.
 * The description is appended to the validation error (src/validate.ts), so a refusal says what to send instead.
 */
export const MAX_KEEP_ALIVE_MS = 2147483647;
const KeepAliveMs = Type.Integer({
  minimum: -1,
  maximum: MAX_KEEP_ALIVE_MS,
  description:
    'idle ms before unloading: 0 unloads after each request; at most 2147483647 (about 24.8 days); use -1 to keep the model loaded forever',
});

/** A tool's name as OpenAI allows it (letters, digits, _ and -; at most 64). */
const ToolName = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  description: 'letters, digits, _ and -, at most 64 characters',
});

/** A call the model made (or made earlier in a chat): OpenAI's shape, arguments as JSON text. */
export const ToolCall = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    name: ToolName,
    /** The arguments as JSON text (a string, as OpenAI sends them), generated to match the tool's parameters schema. */
    arguments: Type.String({ maxLength: 1_048_576 }),
  },
  { additionalProperties: false },
);
export type ToolCall = Static<typeof ToolCall>;

/** A tool the model may call (actors/device/tool-calls.ts). */
export const Tool = Type.Object(
  {
    name: ToolName,
    description: Type.Optional(Type.String({ maxLength: 8192 })),
    /** JSON Schema of the arguments (an object schema); absent: the tool takes none. */
    parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type Tool = Static<typeof Tool>;

/** auto: the model may call tools or answer; none: it answers; required: it calls one or more; {name}: it calls that one. */
export const ToolChoice = Type.Union([
  Type.Literal('auto'),
  Type.Literal('none'),
  Type.Literal('required'),
  Type.Object({ name: ToolName }, { additionalProperties: false }),
]);
export type ToolChoice = Static<typeof ToolChoice>;

/**
 * The answer's form: free text, any JSON object, or JSON matching `schema` (a JSON Schema). JSON answers are generated
 * under a grammar (actors/device/sampling.ts), so a finished answer always parses.
 */
export const ResponseFormat = Type.Union([
  Type.Object({ type: Type.Literal('text') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('json_object') }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal('json_schema'), schema: Type.Record(Type.String(), Type.Unknown()) },
    { additionalProperties: false },
  ),
]);
export type ResponseFormat = Static<typeof ResponseFormat>;

/**
 * Token id (the model's own, in decimal) → added to its logit (-100 bans it, 100 all but forces it). A key is a
 * decimal integer as JSON writes one: digits, no sign, no leading zero but "0" itself, no hex or fraction — anything
 * else ("abc", "", "1.5", "0x10", "-1", "007") is refused here, on every transport. Whether the id is in the
 * model's vocabulary is the engine's to check (actors/device/sampling.ts).
 */
export const LogitBias = Type.Record(
  Type.String({ pattern: '^(0|[1-9][0-9]{0,9})$' }),
  Type.Number({ minimum: -100, maximum: 100 }),
  {
    maxProperties: 1024,
    additionalProperties: false,
    description:
      'keys are token ids in decimal (0, 1, 2, …: no sign, leading zero, hex or fraction), values numbers from -100 to 100',
  },
);
export type LogitBias = Static<typeof LogitBias>;

/**
 * One turn of a chat, formatted into the prompt with the model's own chat template (actors/device/chat.ts). An
 * assistant turn may carry the tool calls it made; a `tool` turn answers one of them by its id.
 */
export const ChatMessage = Type.Object(
  {
    role: Type.Union([Type.Literal('system'), Type.Literal('user'), Type.Literal('assistant'), Type.Literal('tool')]),
    content: Type.String(),
    tool_calls: Type.Optional(Type.Array(ToolCall, { maxItems: 128 })),
    tool_call_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type ChatMessage = Static<typeof ChatMessage>;

/** One generated token's log-probability and, when asked, its likeliest alternatives (OpenAI's logprobs). */
export const TokenLogprob = Type.Object({
  token: Type.String(),
  logprob: Type.Number(),
  top: Type.Array(Type.Object({ token: Type.String(), logprob: Type.Number() })),
});
export type TokenLogprob = Static<typeof TokenLogprob>;

/** The largest seed: seeds are 32-bit on every transport (OpenAI's routes too: a larger one is refused, not wrapped). */
export const MAX_SEED = 4294967295;
export const Seed = Type.Integer({
  minimum: 0,
  maximum: MAX_SEED,
  description: 'leave seed out for a random one (-1 is not taken as random)',
});

/**
 * An inference request, declared once, in camelCase: what the router, the device and the engine pass along as one
 * object (InferMsg, GenerateParams). Each wire spells it its own way and converts at its edge, once: gRPC, REST and
 * ZMQ as InferRequest below (snake_case), the OpenAI routes from OpenAI's body (src/transports/openai/handlers.ts).
 * Values nested in a request (ChatMessage, Tool, ToolChoice, ResponseFormat, LogitBias) are passed whole, in the
 * wire's spelling: nothing copies their fields.
 */
const inferenceFields = {
  model: ModelName,
  /** The text to continue. Exactly one of prompt and messages. */
  prompt: Type.Optional(Type.String({ minLength: 1 })),
  /** A chat, formatted with the model's chat template (or the documented fallback). Exactly one of prompt and messages. */
  messages: Type.Optional(Type.Array(ChatMessage, { minItems: 1, maxItems: 1024 })),
  /** Tokens to generate at most; -1: until the model stops or the context is full; unset: limits.defaultMaxTokens. */
  maxTokens: Type.Optional(Type.Integer({ minimum: -1, description: '1 or more, or -1 for the rest of the context' })),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
  /** Nucleus sampling: only the most likely tokens whose probabilities add up to top_p are candidates (1: all). */
  topP: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
  /** Lower a token's logit by this × the times it appeared in the last 64 tokens (OpenAI's frequency_penalty). */
  frequencyPenalty: Type.Optional(Type.Number({ minimum: -2, maximum: 2 })),
  /** Lower a token's logit by this once if it appeared in the last 64 tokens (OpenAI's presence_penalty). */
  presencePenalty: Type.Optional(Type.Number({ minimum: -2, maximum: 2 })),
  /** Return each generated token's log-probability with this many likeliest alternatives (0–20). */
  logprobs: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
  /** Tools the model may call (with messages, on a model whose chat template takes tools). */
  tools: Type.Optional(Type.Array(Tool, { minItems: 1, maxItems: 128 })),
  /** Whether and which tool the model calls; unset: auto. */
  toolChoice: Type.Optional(ToolChoice),
  /** false: at most one tool call in the answer; unset: true. */
  parallelToolCalls: Type.Optional(Type.Boolean()),
  /** The answer's form (text, a JSON object, JSON to a schema); unset: text. */
  responseFormat: Type.Optional(ResponseFormat),
  /** Bias the model's own token ids (OpenAI's logit_bias, with this model's vocabulary). */
  logitBias: Type.Optional(LogitBias),
  /** The same seed gives the same text (same model, same request). 32 bits, as llama.cpp's sampler takes it. */
  seed: Type.Optional(Seed),
  stop: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 8 })),
  requestId: Type.Optional(Type.String({ maxLength: 128 })),
  /** Higher runs first when a model's sequences are all busy. */
  priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
  /** Sets the model's idle expiry from this request on (ms; 0 unloads after it; -1: never). */
  keepAliveMs: Type.Optional(KeepAliveMs),
  /** true: a registered model that is not loaded answers NOT_FOUND instead of being loaded on demand. */
  requireLoaded: Type.Optional(Type.Boolean()),
  /**
   * false: this request neither reuses cached prompt tokens nor leaves its own (llama-server's cache_prompt); unset:
   * as promptCache configures (docs/models.md).
   */
  cachePrompt: Type.Optional(Type.Boolean()),
};
export const Inference = Type.Object(inferenceFields, { additionalProperties: false });
export type Inference = Static<typeof Inference>;

/** `maxTokens` → `max_tokens`, for types and values alike. */
type SnakeCase<S extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<Rest>}`
  : S;
const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
type SnakeKeys<T> = { [K in keyof T & string as SnakeCase<K>]: T[K] };

/**
 * The inference request as gRPC, REST and ZMQ spell it (proto/moc.proto's names: snake_case), derived from the one
 * declaration above. Requests are validated against it, so a refusal names the field as the client sent it.
 */
export const InferRequest = Type.Object(
  Object.fromEntries(Object.entries(inferenceFields).map(([k, v]) => [snakeCase(k), v])) as SnakeKeys<
    typeof inferenceFields
  >,
  { additionalProperties: false },
);
export type InferRequest = Static<typeof InferRequest>;

const FROM_WIRE = new Map(Object.keys(inferenceFields).map((k) => [snakeCase(k), k]));
/** A validated InferRequest as the Inference it is: every field renamed, none copied by name. */
export function inferenceOf(wire: InferRequest): Inference {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(wire)) out[FROM_WIRE.get(k) ?? k] = v;
  return out as Inference;
}

/** Register a model file in the catalog (inspected: GGUF header validated, sha256) without loading it. */
export const RegisterRequest = Type.Object(
  {
    name: ModelName,
    /** GGUF path relative to the models root (a model; an adapter gives `adapter` and `base` instead). */
    path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    device: Type.Optional(DeviceId),
    context_size: Type.Optional(Type.Integer({ minimum: 16, maximum: 1048576 })),
    sequences: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
    pinned: Type.Optional(Type.Boolean()),
    /** Idle time before unloading; -1: never; 0: unload after each request. */
    keep_alive_ms: Type.Optional(KeepAliveMs),
    preload: Type.Optional(Type.Boolean()),
    /** A LoRA adapter: the registered model it applies to (an alias names its target at registration). */
    base: Type.Optional(ModelName),
    /** A LoRA adapter: its GGUF, relative to the models root. */
    adapter: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    /** A LoRA adapter's scale: 1 (default) as trained, 0 the base's answers. */
    scale: Type.Optional(Type.Number({ minimum: -16, maximum: 16 })),
  },
  { additionalProperties: false },
);
export type RegisterRequest = Static<typeof RegisterRequest>;

/** Load a model (an alias resolves to its target). With a path, an unregistered name is registered first. */
export const LoadRequest = Type.Object(
  {
    name: ModelName,
    path: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    device: Type.Optional(DeviceId),
    context_size: Type.Optional(Type.Integer({ minimum: 16, maximum: 1048576 })),
    sequences: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
    pinned: Type.Optional(Type.Boolean()),
    keep_alive_ms: Type.Optional(KeepAliveMs),
  },
  { additionalProperties: false },
);
export type LoadRequest = Static<typeof LoadRequest>;

export const AliasRequest = Type.Object({ alias: ModelName, target: ModelName }, { additionalProperties: false });
export type AliasRequest = Static<typeof AliasRequest>;
export const PinRequest = Type.Object({ name: ModelName, pinned: Type.Boolean() }, { additionalProperties: false });
export type PinRequest = Static<typeof PinRequest>;
/** Unload, and get one model (by name or alias). */
export const NameRequest = Type.Object({ name: ModelName }, { additionalProperties: false });
export type NameRequest = Static<typeof NameRequest>;

/** The most models one list answer holds; the default page (docs/models.md, Listing). */
export const MAX_LIST_MODELS = 1000;
/** One page of the model list, by name: `cursor` is the `next_cursor` of the page before (empty: the first page). */
export const ListModelsRequest = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_MODELS })),
    cursor: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type ListModelsRequest = Static<typeof ListModelsRequest>;

export const FinishReason = Type.Union([
  Type.Literal('stop'),
  Type.Literal('length'),
  Type.Literal('eos'),
  Type.Literal('tool_calls'),
]);
export type FinishReason = Static<typeof FinishReason>;

export const ModelState = Type.Union([
  Type.Literal('registered'),
  Type.Literal('loading'),
  Type.Literal('loaded'),
  Type.Literal('unloading'),
  Type.Literal('failed'),
]);
export type ModelState = Static<typeof ModelState>;

/** A model as its device sees it. */
export const ModelInfo = Type.Object({
  name: Type.String(),
  path: Type.String(),
  device: Type.String(),
  state: ModelState,
  contextSize: Type.Integer(),
  sequences: Type.Integer(),
  /** Ledger: estimate from the GGUF header, what was reserved, what the engine reported after loading. */
  estimateBytes: Type.Integer(),
  reservedBytes: Type.Integer(),
  actualBytes: Type.Integer(),
  inFlight: Type.Integer(),
  queued: Type.Integer(),
  loadedAt: Type.Integer(),
  lastUsedAt: Type.Integer(),
  pinned: Type.Boolean(),
  keepAliveMs: Type.Integer(),
  /** Epoch ms when the idle model unloads; 0: no expiry scheduled (busy, pinned or keep-alive forever). */
  expiresAt: Type.Integer(),
  error: Type.Optional(Type.String()),
  /** While loading: how far the engine has read the weights (0–1, node-llama-cpp's load progress). */
  loadProgress: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** Tokens the model's sequences hold (the prompt cache) over what they can hold, after its last generation (0–1). */
  kvCacheUsage: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** A LoRA adapter: the base model it runs on (loaded on the same device, unloaded after it). */
  base: Type.Optional(Type.String()),
});
export type ModelInfo = Static<typeof ModelInfo>;

export const DeviceStatus = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  memory: Type.Object({
    hardLimit: Type.Integer(),
    softLimit: Type.Integer(),
    reserved: Type.Integer(),
    free: Type.Integer(),
  }),
  models: Type.Array(ModelInfo),
  /** Memory held for others than models: a running job's reservation (owner `job:<id>`). */
  reservations: Type.Array(Type.Object({ owner: Type.String(), bytes: Type.Integer() })),
  engine: Type.Object({ pid: Type.Integer(), state: Type.String(), restarts: Type.Integer() }),
  threads: Type.Integer(),
  /** How late the device thread's timers fire (src/telemetry/loop-lag.ts); absent while it restarts. */
  eventLoopLag: Type.Optional(Type.Object({ p99Ms: Type.Number(), maxMs: Type.Number() })),
});
export type DeviceStatus = Static<typeof DeviceStatus>;

// ---- Device actor protocol (router/lifecycle → device worker) ----

/**
 * An inference as the router hands it to the device and the device to the engine (GenerateParams): the Inference,
 * with the model's name resolved (an alias is resolved once, by the router) and the router's defaults filled in.
 */
export const InferMsg = Type.Composite([
  Type.Omit(Inference, ['requestId', 'maxTokens', 'temperature', 'stop', 'priority', 'requireLoaded']),
  Type.Object({
    kind: Type.Literal('infer'),
    requestId: Type.String(),
    /** The caller's W3C trace id (traceparent), carried so the device thread's and engine's log lines name it. */
    traceId: Type.Optional(Type.String()),
    maxTokens: Type.Integer(),
    temperature: Type.Number(),
    stop: Type.Array(Type.String()),
    priority: Type.Integer(),
    /** Send each piece as it is generated (streaming clients); unary requests skip the per-token messages. */
    stream: Type.Boolean(),
    /**
     * Whose cached prompt tokens the request may reuse, and whose it leaves behind (actors/device/prompt-cache.ts):
     * the caller, or one scope for all (promptCache.scope shared); absent: the cache is off, the sequence is cleared
     * before and after. Set by the router from config and the transport's principal, never by the client.
     */
    cacheScope: Type.Optional(Type.String()),
  }),
]);
export type InferMsg = Static<typeof InferMsg>;

export const InferResult = Type.Object({
  requestId: Type.String(),
  model: Type.String(),
  device: Type.String(),
  text: Type.String(),
  promptTokens: Type.Integer(),
  /** Of promptTokens, those found in the prompt cache and not evaluated again (OpenAI's cached_tokens). */
  cachedTokens: Type.Integer(),
  tokensGenerated: Type.Integer(),
  finishReason: FinishReason,
  queueMs: Type.Number(),
  computeMs: Type.Number(),
  /** From the start of compute to the first generated token (-1: none); for time-to-first-token metrics. */
  firstTokenMs: Type.Number(),
  /** With a request's logprobs: one entry per generated token. */
  logprobs: Type.Optional(Type.Array(TokenLogprob)),
  /** The tools the model called (finishReason tool_calls), in order. */
  toolCalls: Type.Optional(Type.Array(ToolCall)),
});
export type InferResult = Static<typeof InferResult>;

/**
 * A piece of a tool call as it is generated: the first piece of call `index` carries its id and name, every piece a
 * part of its arguments (JSON text). Concatenated per index, the pieces are the answer's tool_calls.
 */
export const ToolCallDelta = Type.Object({
  index: Type.Integer(),
  id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  arguments: Type.String(),
});
export type ToolCallDelta = Static<typeof ToolCallDelta>;

/** A streamed piece of an answer: text, or (with `call`, and empty text) a piece of a tool call. */
export const TokenEvent = Type.Object({
  kind: Type.Literal('token'),
  text: Type.String(),
  call: Type.Optional(ToolCallDelta),
});
export type TokenEvent = Static<typeof TokenEvent>;

/** What makes a model an adapter: the base model it applies to (a model name, never an alias) and its scale. */
export const AdapterOf = Type.Object({ base: Type.String(), scale: Type.Number() });
export type AdapterOf = Static<typeof AdapterOf>;

export const ModelSpec = Type.Object({
  name: Type.String(),
  /** Absolute, already checked to be inside the models root. */
  path: Type.String(),
  contextSize: Type.Integer(),
  sequences: Type.Integer(),
  /** Idle time before the model unloads itself; negative: never. Requests may change it (keep_alive). */
  keepAliveMs: Type.Integer(),
  /** Pinned models never expire and are never evicted. */
  pinned: Type.Boolean(),
  /**
   * What the catalog recorded of the file (models root, size, mtime): the engine opens the file once, checks it is
   * still a regular file inside `root` with this size and mtime, and loads from that open descriptor.
   */
  file: Type.Optional(Type.Object({ root: Type.String(), bytes: Type.Integer(), mtimeMs: Type.Number() })),
  /**
   * A LoRA adapter (docs/models.md, Adapters): `path` is its adapter GGUF, applied at `scale` in a context of its own
   * on the weights of `base`, a model loaded on the same device (never loaded twice).
   */
  adapter: Type.Optional(AdapterOf),
});
export type ModelSpec = Static<typeof ModelSpec>;

export const LoadMsg = Type.Object({ kind: Type.Literal('load'), model: ModelSpec });
export type LoadMsg = Static<typeof LoadMsg>;
export const UnloadMsg = Type.Object({
  kind: Type.Literal('unload'),
  model: Type.String(),
  /**
   * A keep-alive expiry (decided by the lifecycle): unload only if the model is still idle with this expiresAt;
   * otherwise (used since) it stays and the answer frees 0 bytes.
   */
  ifExpiresAt: Type.Optional(Type.Number()),
});
export type UnloadMsg = Static<typeof UnloadMsg>;
export const UnloadResult = Type.Object({ model: Type.String(), freedBytes: Type.Integer() });
export type UnloadResult = Static<typeof UnloadResult>;
export const StatusMsg = Type.Object({ kind: Type.Literal('status') });
export type StatusMsg = Static<typeof StatusMsg>;
/** Memory a model would take on this device (engine estimate from the GGUF header), for placement. */
export const EstimateMsg = Type.Object({ kind: Type.Literal('estimate'), model: ModelSpec });
export type EstimateMsg = Static<typeof EstimateMsg>;
export const EstimateResult = Type.Object({
  totalBytes: Type.Integer(),
  weightsBytes: Type.Integer(),
  contextBytes: Type.Integer(),
});
export type EstimateResult = Static<typeof EstimateResult>;
/** Change a loaded model's pin and keep-alive in place (no reload). */
export const UpdateMsg = Type.Object({
  kind: Type.Literal('update'),
  model: Type.String(),
  pinned: Type.Boolean(),
  keepAliveMs: Type.Integer(),
});
export type UpdateMsg = Static<typeof UpdateMsg>;
/** Fault injection for the supervision tests; refused unless config.debug.faultInjection. */
export const CrashMsg = Type.Object({
  kind: Type.Literal('crash'),
  target: Type.Union([Type.Literal('worker'), Type.Literal('engine')]),
});
export type CrashMsg = Static<typeof CrashMsg>;

/**
 * Score texts under a loaded model (no sampling): per text, the log-probability of each token given the ones before it
 * (the first token is scored after BOS when the model's tokenizer prepends one; otherwise from the second token on).
 * Runs on one of the model's sequences, queued like an inference; each text must fit the model's context.
 */
export const MAX_EVALUATE_TEXTS = 256;
export const EvaluateMsg = Type.Object(
  {
    kind: Type.Literal('evaluate'),
    model: Type.String({ minLength: 1 }),
    texts: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      maxItems: MAX_EVALUATE_TEXTS,
      description: `send 1 to ${MAX_EVALUATE_TEXTS} non-empty texts per evaluate; split larger data sets into several calls`,
    }),
    /**
     * One per text (same length): text i is scored after prefixes[i], as ln p(text | prefix) — the prefix's tokens are
     * evaluated but neither summed nor counted ('' for none). For a preference pair's answers after their prompt.
     */
    prefixes: Type.Optional(Type.Array(Type.String(), { maxItems: MAX_EVALUATE_TEXTS })),
  },
  { additionalProperties: false },
);
export type EvaluateMsg = Static<typeof EvaluateMsg>;
export const EvaluateResult = Type.Object({
  model: Type.String(),
  /** Tokens scored over all texts (the sum of perText[i].tokens). */
  tokens: Type.Integer(),
  /** Natural log: the sum over the scored tokens of ln p(token | previous tokens). */
  sumLogProb: Type.Number(),
  /** sumLogProb / tokens (≤ 0). */
  meanLogProb: Type.Number(),
  /** exp(-meanLogProb). */
  perplexity: Type.Number(),
  perText: Type.Array(Type.Object({ tokens: Type.Integer(), sumLogProb: Type.Number() })),
});
export type EvaluateResult = Static<typeof EvaluateResult>;

/**
 * Embeddings (OpenAI's /embeddings): one vector per text, L2-normalised, from an embedding context the engine makes
 * for the model at its first embed (its memory counted in the model's ledger entry). Each text must fit the context.
 */
export const MAX_EMBED_INPUTS = 256;
export const EmbedRequest = Type.Object(
  {
    model: ModelName,
    input: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      maxItems: MAX_EMBED_INPUTS,
      description: `send 1 to ${MAX_EMBED_INPUTS} non-empty texts per call; split larger sets into several calls`,
    }),
    /** true: a registered model that is not loaded answers NOT_FOUND instead of being loaded on demand. */
    require_loaded: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type EmbedRequest = Static<typeof EmbedRequest>;
export const EmbedMsg = Type.Object(
  {
    kind: Type.Literal('embed'),
    model: Type.String({ minLength: 1 }),
    texts: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: MAX_EMBED_INPUTS }),
  },
  { additionalProperties: false },
);
export type EmbedMsg = Static<typeof EmbedMsg>;
export const EmbedResult = Type.Object({
  model: Type.String(),
  device: Type.String(),
  embeddings: Type.Array(Type.Array(Type.Number())),
  /** Tokens of all the texts, as the model read them. */
  tokens: Type.Integer(),
});
export type EmbedResult = Static<typeof EmbedResult>;

/** Memory held by something other than a model (a running job), in the device's ledger; placement may evict for it. */
export const ReserveMsg = Type.Object({
  kind: Type.Literal('reserve'),
  owner: Type.String({ minLength: 1 }),
  bytes: Type.Integer({ minimum: 1 }),
});
export type ReserveMsg = Static<typeof ReserveMsg>;
export const ReleaseMsg = Type.Object({ kind: Type.Literal('release'), owner: Type.String({ minLength: 1 }) });
export type ReleaseMsg = Static<typeof ReleaseMsg>;

export type DeviceProtocol = {
  infer: { req: InferMsg; reply: InferResult; event: TokenEvent };
  evaluate: { req: EvaluateMsg; reply: EvaluateResult };
  embed: { req: EmbedMsg; reply: EmbedResult };
  reserve: { req: ReserveMsg; reply: { device: string; bytes: number } };
  release: { req: ReleaseMsg; reply: { freedBytes: number } };
  load: { req: LoadMsg; reply: ModelInfo };
  unload: { req: UnloadMsg; reply: UnloadResult };
  status: { req: StatusMsg; reply: DeviceStatus };
  estimate: { req: EstimateMsg; reply: EstimateResult };
  update: { req: UpdateMsg; reply: ModelInfo };
  crash: { req: CrashMsg; reply: { ok: true } };
};

/** Device → parent notifications (unsolicited): the model table changed (load done, engine restarted, …). */
export const ModelsChanged = Type.Object({
  kind: Type.Literal('models-changed'),
  device: Type.String(),
  models: Type.Array(ModelInfo),
});
export type ModelsChanged = Static<typeof ModelsChanged>;
/**
 * Device → parent: its engine process died (`reason`: 'killed by SIGKILL', 'exited with code 1', …) and is being
 * restarted. Counted on the main thread, so the count outlives the device worker.
 */
export interface EngineExited {
  kind: 'engine-exited';
  device: string;
  reason: string;
}
export type DeviceNotice = ModelsChanged | EngineExited;

/** A model as operators see it: catalog facts joined with its state on a device (if loaded). */
export const ModelView = Type.Composite([
  ModelInfo,
  Type.Object({
    sha256: Type.String(),
    architecture: Type.String(),
    parameterCount: Type.Integer(),
    quantization: Type.String(),
    aliases: Type.Array(Type.String()),
    /** Circuit breaker on repeated load failures: closed, open (fails fast) or half-open (next load is a trial). */
    breaker: Type.String(),
    /** A LoRA adapter's scale (its base is ModelInfo.base). */
    scale: Type.Optional(Type.Number()),
  }),
]);
export type ModelView = Static<typeof ModelView>;
/** A page of the model list; `nextCursor` is '' on the last page. */
export interface ModelPage {
  models: ModelView[];
  nextCursor: string;
}

export const AliasInfo = Type.Object({ alias: Type.String(), target: Type.String(), previous: Type.String() });
export type AliasInfo = Static<typeof AliasInfo>;

// ---- Router protocol (transports → router, main thread) ----
// Transports validate nothing themselves: they map their wire format onto these and let the router decide.
// `request` is unknown on purpose: the router validates it against the schemas above. An inference is the exception:
// it comes as the Inference, validated and converted at the wire's edge (src/transports/operations.ts), so that the
// router, the device and the engine pass one camelCase object along; the router checks the rules across its fields.

export type RouterProtocol = {
  infer: {
    /** caller: who calls (the transport's principal), whose prompt cache it may reuse (promptCache.scope caller). */
    req: { kind: 'infer'; request: Inference; stream: boolean; traceId?: string; caller?: string };
    reply: InferResult;
    event: TokenEvent;
  };
  embed: { req: { kind: 'embed'; request: unknown }; reply: EmbedResult };
  register: { req: { kind: 'register'; request: unknown }; reply: ModelView };
  load: { req: { kind: 'load'; request: unknown }; reply: ModelView };
  unload: { req: { kind: 'unload'; request: unknown }; reply: UnloadResult };
  /** One model by name, or the model an alias points to. */
  'get-model': { req: { kind: 'get-model'; request: unknown }; reply: ModelView };
  'set-alias': { req: { kind: 'set-alias'; request: unknown }; reply: AliasInfo };
  pin: { req: { kind: 'pin'; request: unknown }; reply: ModelView };
  'list-models': { req: { kind: 'list-models'; request: unknown }; reply: ModelPage };
  devices: { req: { kind: 'devices' }; reply: DeviceView[] };
  /** Every host of the fleet registry (this one alone with store.kind lmdb). */
  fleet: { req: { kind: 'fleet' }; reply: FleetHost[] };
  /** Learning jobs (schemas/jobs.ts): `owner` is the caller's principal, set by the transport, never by the client. */
  'submit-job': { req: { kind: 'submit-job'; request: unknown; owner: string }; reply: Job };
  'get-job': { req: { kind: 'get-job'; request: unknown }; reply: Job };
  'list-jobs': { req: { kind: 'list-jobs'; request: unknown }; reply: Job[] };
  'cancel-job': { req: { kind: 'cancel-job'; request: unknown }; reply: Job };
  'record-feedback': { req: { kind: 'record-feedback'; request: unknown; owner: string }; reply: Feedback };
  'create-goal': { req: { kind: 'create-goal'; request: unknown; owner: string }; reply: Goal };
  'get-goal': { req: { kind: 'get-goal'; request: unknown }; reply: Goal };
  'list-goals': { req: { kind: 'list-goals'; request: unknown }; reply: Goal[] };
  'update-goal': { req: { kind: 'update-goal'; request: unknown }; reply: Goal };
  'cancel-goal': { req: { kind: 'cancel-goal'; request: unknown }; reply: Goal };
  /** Every committed version of a goal, oldest first (the event log). */
  'goal-history': { req: { kind: 'goal-history'; request: unknown }; reply: Goal[] };
};

export const DeviceView = Type.Composite([
  DeviceStatus,
  Type.Object({
    /** Messages waiting in the device's mailbox (parent-side queue + frames in transit). */
    mailboxDepth: Type.Integer(),
    /** false while its worker restarts after a crash. */
    available: Type.Boolean(),
  }),
]);
export type DeviceView = Static<typeof DeviceView>;

// ---- Lifecycle protocol (router → lifecycle, main thread) ----

export type LifecycleProtocol = {
  register: { req: { kind: 'register'; request: RegisterRequest }; reply: ModelView };
  load: { req: { kind: 'load'; request: LoadRequest }; reply: ModelView };
  /**
   * Load on demand: an inference for a registered model that is not loaded. forRequest: an inference or embedding
   * waits for it, through a pending swap if need be (docs/models.md).
   */
  ensure: { req: { kind: 'ensure'; name: string; device?: string; forRequest?: boolean }; reply: ModelView };
  unload: { req: { kind: 'unload'; name: string }; reply: UnloadResult };
  'set-alias': { req: { kind: 'set-alias'; request: AliasRequest }; reply: AliasInfo };
  pin: { req: { kind: 'pin'; request: PinRequest }; reply: ModelView };
  /** One model by name, else the model an alias of that name points to; null when neither is known. */
  view: { req: { kind: 'view'; name: string }; reply: ModelView | null };
  /** A page of models by name, after `after` (exclusive; '' from the first). */
  list: { req: { kind: 'list'; after: string; limit: number }; reply: ModelPage };
  /** Memory for a running job: placed like a model (best fit, else evict idle models), on `device` if given. */
  reserve: {
    req: { kind: 'reserve'; owner: string; bytes: number; device?: string };
    reply: { device: string; bytes: number };
  };
  release: { req: { kind: 'release'; owner: string; device: string }; reply: { freedBytes: number } };
};

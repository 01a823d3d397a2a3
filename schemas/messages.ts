/**
 * Messages between actors, declared once. Each has a literal `kind`; the Protocol types at the bottom tie each
 * request to its reply and events, so WorkerRef.ask and the device's receive() are typed from the same source.
 * The transport-facing request (InferRequest) is validated here too, so gRPC, REST and ZMQ share one set of rules.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ModelName, DeviceId } from './config.js';

/** What a client may send for an inference, transport-neutral (gRPC and REST map their fields onto this). */
export const InferRequest = Type.Object({
  model: ModelName,
  prompt: Type.String({ minLength: 1 }),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
  stop: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 8 })),
  request_id: Type.Optional(Type.String({ maxLength: 128 })),
  /** Higher runs first when a model's sequences are all busy. */
  priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
}, { additionalProperties: false });
export type InferRequest = Static<typeof InferRequest>;

export const LoadRequest = Type.Object({
  name: ModelName,
  /** GGUF path relative to the models root. */
  path: Type.String({ minLength: 1, maxLength: 1024 }),
  device: Type.Optional(DeviceId),
  context_size: Type.Optional(Type.Integer({ minimum: 16, maximum: 1048576 })),
  sequences: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
}, { additionalProperties: false });
export type LoadRequest = Static<typeof LoadRequest>;

export const FinishReason = Type.Union([Type.Literal('stop'), Type.Literal('length'), Type.Literal('eos')]);
export type FinishReason = Static<typeof FinishReason>;

export const ModelState = Type.Union([
  Type.Literal('loading'), Type.Literal('loaded'), Type.Literal('unloading'), Type.Literal('failed'),
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
  error: Type.Optional(Type.String()),
});
export type ModelInfo = Static<typeof ModelInfo>;

export const DeviceStatus = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  memory: Type.Object({ hardLimit: Type.Integer(), softLimit: Type.Integer(), reserved: Type.Integer(), free: Type.Integer() }),
  models: Type.Array(ModelInfo),
  engine: Type.Object({ pid: Type.Integer(), state: Type.String(), restarts: Type.Integer() }),
  threads: Type.Integer(),
});
export type DeviceStatus = Static<typeof DeviceStatus>;

// ---- Device actor protocol (router/lifecycle → device worker) ----

export const InferMsg = Type.Object({
  kind: Type.Literal('infer'),
  requestId: Type.String(),
  model: Type.String(),
  prompt: Type.String(),
  maxTokens: Type.Integer(),
  temperature: Type.Number(),
  seed: Type.Optional(Type.Integer()),
  stop: Type.Array(Type.String()),
  priority: Type.Integer(),
  stream: Type.Boolean(),
});
export type InferMsg = Static<typeof InferMsg>;

export const InferResult = Type.Object({
  requestId: Type.String(),
  model: Type.String(),
  device: Type.String(),
  text: Type.String(),
  promptTokens: Type.Integer(),
  tokensGenerated: Type.Integer(),
  finishReason: FinishReason,
  queueMs: Type.Number(),
  computeMs: Type.Number(),
});
export type InferResult = Static<typeof InferResult>;

export const TokenEvent = Type.Object({ kind: Type.Literal('token'), text: Type.String() });
export type TokenEvent = Static<typeof TokenEvent>;

export const ModelSpec = Type.Object({
  name: Type.String(),
  /** Absolute, already checked to be inside the models root. */
  path: Type.String(),
  contextSize: Type.Integer(),
  sequences: Type.Integer(),
});
export type ModelSpec = Static<typeof ModelSpec>;

export const LoadMsg = Type.Object({ kind: Type.Literal('load'), model: ModelSpec });
export type LoadMsg = Static<typeof LoadMsg>;
export const UnloadMsg = Type.Object({ kind: Type.Literal('unload'), model: Type.String() });
export type UnloadMsg = Static<typeof UnloadMsg>;
export const UnloadResult = Type.Object({ model: Type.String(), freedBytes: Type.Integer() });
export type UnloadResult = Static<typeof UnloadResult>;
export const StatusMsg = Type.Object({ kind: Type.Literal('status') });
export type StatusMsg = Static<typeof StatusMsg>;
/** Fault injection for the supervision tests; refused unless config.debug.faultInjection. */
export const CrashMsg = Type.Object({ kind: Type.Literal('crash'), target: Type.Union([Type.Literal('worker'), Type.Literal('engine')]) });
export type CrashMsg = Static<typeof CrashMsg>;

export type DeviceProtocol = {
  infer: { req: InferMsg; reply: InferResult; event: TokenEvent };
  load: { req: LoadMsg; reply: ModelInfo };
  unload: { req: UnloadMsg; reply: UnloadResult };
  status: { req: StatusMsg; reply: DeviceStatus };
  crash: { req: CrashMsg; reply: { ok: true } };
};

/** Device → parent notifications (unsolicited): the model table changed (load done, engine restarted, …). */
export const ModelsChanged = Type.Object({ kind: Type.Literal('models-changed'), device: Type.String(), models: Type.Array(ModelInfo) });
export type ModelsChanged = Static<typeof ModelsChanged>;

// ---- Router protocol (transports → router, main thread) ----
// Transports validate nothing themselves: they map their wire format onto these and let the router decide.

export const RouterInfer = Type.Object({ kind: Type.Literal('infer'), request: Type.Unknown(), stream: Type.Boolean() });
export type RouterInfer = Static<typeof RouterInfer>;
export const RouterLoad = Type.Object({ kind: Type.Literal('load'), request: Type.Unknown() });
export type RouterLoad = Static<typeof RouterLoad>;
export const RouterUnload = Type.Object({ kind: Type.Literal('unload'), name: Type.Unknown() });
export type RouterUnload = Static<typeof RouterUnload>;
export const RouterListModels = Type.Object({ kind: Type.Literal('list-models') });
export type RouterListModels = Static<typeof RouterListModels>;
export const RouterDevices = Type.Object({ kind: Type.Literal('devices') });
export type RouterDevices = Static<typeof RouterDevices>;

export const DeviceView = Type.Composite([DeviceStatus, Type.Object({
  /** Messages waiting in the device's mailbox (parent-side queue + frames in transit). */
  mailboxDepth: Type.Integer(),
  /** up: serving; restarting: its worker crashed and the supervisor is bringing it back. */
  available: Type.Boolean(),
})]);
export type DeviceView = Static<typeof DeviceView>;

export type RouterProtocol = {
  infer: { req: RouterInfer; reply: InferResult; event: TokenEvent };
  load: { req: RouterLoad; reply: ModelInfo };
  unload: { req: RouterUnload; reply: UnloadResult };
  'list-models': { req: RouterListModels; reply: ModelInfo[] };
  devices: { req: RouterDevices; reply: DeviceView[] };
};

// ---- Lifecycle protocol (router → lifecycle, main thread) ----
export const LifecycleLoad = Type.Object({ kind: Type.Literal('load'), request: LoadRequest });
export type LifecycleLoad = Static<typeof LifecycleLoad>;
export const LifecycleUnload = Type.Object({ kind: Type.Literal('unload'), name: Type.String() });
export type LifecycleUnload = Static<typeof LifecycleUnload>;

export type LifecycleProtocol = {
  load: { req: LifecycleLoad; reply: ModelInfo };
  unload: { req: LifecycleUnload; reply: UnloadResult };
};

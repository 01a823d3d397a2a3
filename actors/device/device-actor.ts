/**
 * Device actor: runs in its own worker thread (device-worker.ts), one per configured device. It owns
 *   - the engine child process (EngineClient), restarted here when it dies, its models reloaded;
 *   - the models on this device and their state;
 *   - the memory ledger (estimate → reserve → load → reconcile; never above the hard limit);
 *   - the batch scheduler: per model, at most `sequences` generations (and evaluations, which take a sequence too)
 *     run at once (one context, parallel sequences, batched by llama.cpp); the rest wait in a bounded priority queue.
 * Long work (loads, generations) is started from receive() and answered later, so the mailbox never stalls.
 */
import { errors, type MocError, toMocError } from '../../src/errors.js';
import type { ResolvedDevice } from '../../schemas/config.js';
import {
  EmbedMsg,
  EvaluateMsg,
  type DeviceNotice,
  type DeviceProtocol,
  type DeviceStatus,
  type InferMsg,
  type ModelInfo,
  type ModelSpec,
} from '../../schemas/messages.js';
import { createLogger, type Logger, type LogSettings } from '../../src/log.js';
import { validate } from '../../src/validate.js';
import type { Envelope } from '../../src/kernel/types.js';
import type { HostedBehavior } from '../../src/kernel/worker-host.js';
import { EngineClient } from './engine-client.js';
import type { EngineFaults } from './engine-protocol.js';
import { Ledger } from './ledger.js';
import { AdapterWeights, weightsKey } from './adapter-weights.js';
import { ModelLife } from './model-state.js';
import { RequestQueue } from './request-queue.js';
import { LoopLag } from '../../src/telemetry/loop-lag.js';

export interface DeviceWorkerData {
  device: ResolvedDevice;
  /** Models this device held before a restart: reloaded at start (desired state). */
  models: ModelSpec[];
  /**
   * Memory held for others than models (a running job's reservation) before a restart: held again at start, before
   * any model reloads, so a restart never forgets memory a job still uses.
   */
  reservations: { owner: string; bytes: number }[];
  loadTimeoutMs: number;
  faultInjection: boolean;
  /** Engine restarts allowed within periodMs before the device worker gives up (and its supervisor takes over). */
  engineRestarts: { max: number; periodMs: number };
  /** The main thread's log level and sensitivity: this thread and its engine write their own lines to stderr. */
  log: LogSettings;
}

/** The largest epoch ms a Date can hold: a keep-alive past it never expires in practice. */
const MAX_EPOCH_MS = 8.64e15;
/** The counters in the lifecycle's live view (in flight, queued) are at most this stale (see countersChanged). */
export const COUNTERS_NOTICE_MS = 100;

/** What takes a sequence of a model: an inference, or an evaluation (scoring texts). Both share its queue. */
type SequenceEnvelope =
  | Envelope<DeviceProtocol, 'infer'>
  | Envelope<DeviceProtocol, 'evaluate'>
  | Envelope<DeviceProtocol, 'embed'>;
interface Job {
  env: SequenceEnvelope;
  enqueuedAt: number;
  onAbort: () => void;
}

/**
 * A coarse bound on an evaluate text before it crosses to the engine, in characters per token of the model's context:
 * no tokenizer's tokens average this long, so a text past it cannot fit; the engine then checks the exact token count.
 */
const MAX_CHARS_PER_CONTEXT_TOKEN = 64;

interface ModelEntry {
  spec: ModelSpec;
  /** Where the model is in its life (model-state.ts): every change of state goes through it. */
  life: ModelLife;
  estimateBytes: number;
  actualBytes: number;
  /** One sequence of the model's context: what its embedding context (made at the first embed) is expected to take. */
  embedEstimateBytes: number;
  /** Whether the engine holds an embedding context for it (its bytes are then in actualBytes and the ledger). */
  embedding: boolean;
  inFlight: number;
  queue: RequestQueue<Job>;
  loadedAt: number;
  lastUsedAt: number;
  keepAliveMs: number;
  /**
   * When the model, idle, may be unloaded (0: busy, pinned or kept forever). Reported in every notice; the lifecycle
   * owns the timer and the decision (see unload's ifExpiresAt).
   */
  expiresAt: number;
  error?: string;
  /** While loading: the engine's last progress report (0–1). */
  loadProgress?: number;
  /** The engine's figure after the model's last generation: tokens its sequences hold over their capacity (0–1). */
  kvCacheUsage?: number;
  /**
   * The engine's answer to this entry's last load. A load that timed out may still be running there: until it answers
   * its reservation stays in the ledger (the model stays 'cancelling'), so memory in use is never untracked.
   */
  loadAnswered: Promise<void>;
  /** Called when nothing of the model runs or waits any more (an unload drains to this; so does close). */
  idleWaiters: (() => void)[];
}

/**
 * Test-only engine faults, read from the environment when debug.faultInjection is on (a device message cannot
 * carry them: the device protocol is shared with production callers). MOC_FAULT_SLOW_LOAD='<model>:<ms>'.
 */
function engineFaultsFromEnv(): EngineFaults | undefined {
  const slow = /^(.+):(\d+)$/.exec(process.env.MOC_FAULT_SLOW_LOAD ?? '');
  return slow ? { slowLoad: { model: slow[1]!, ms: Number(slow[2]) } } : undefined;
}

export class DeviceActor implements HostedBehavior<DeviceProtocol> {
  private engine: EngineClient | null = null;
  private engineState: 'starting' | 'ready' | 'restarting' | 'closed' = 'starting';
  private engineRestarts: number[] = [];
  private readonly models = new Map<string, ModelEntry>();
  private readonly ledger: Ledger;
  private readonly adapterWeights: AdapterWeights;
  private closing = false;
  private readonly log: Logger;
  private readonly loopLag = new LoopLag();
  private countersTimer: NodeJS.Timeout | null = null;
  notify: (msg: DeviceNotice) => void = () => {};

  constructor(private readonly cfg: DeviceWorkerData) {
    this.log = createLogger(cfg.log.level, { sensitive: cfg.log.sensitive, bindings: { device: cfg.device.id } });
    this.ledger = new Ledger(cfg.device.id, cfg.device.memory, cfg.device.softLimit);
    this.adapterWeights = new AdapterWeights(this.ledger);
    // Held before anything else: the same limits held them before the restart, so they fit.
    for (const r of cfg.reservations) this.ledger.reserve(r.owner, r.bytes);
  }

  private get id(): string {
    return this.cfg.device.id;
  }

  async start(): Promise<void> {
    this.engine = await this.startEngine();
    this.engineState = 'ready';
    // A reload that fails shows in the next notice (the model failed, with its error, or absent if refused memory).
    for (const spec of this.cfg.models) void this.load(spec).catch(() => {});
  }

  /** Reports every model's state now (the worker calls it once its notices reach the main thread). */
  announce(): void {
    this.changed();
  }

  private async startEngine(): Promise<EngineClient> {
    const d = this.cfg.device;
    // node-llama-cpp has no per-call GPU index: pin the engine process to one GPU through the environment.
    const env: Record<string, string> =
      d.kind === 'cuda'
        ? { CUDA_VISIBLE_DEVICES: String(d.index) }
        : d.kind === 'vulkan'
          ? { GGML_VK_VISIBLE_DEVICES: String(d.index) }
          : {};
    const faults = this.cfg.faultInjection ? engineFaultsFromEnv() : undefined;
    const engine = await EngineClient.start({
      device: d.id,
      env,
      startTimeoutMs: this.cfg.loadTimeoutMs,
      start: { device: d.id, threads: d.threads, gpu: d.kind, log: this.cfg.log, ...(faults ? { faults } : {}) },
    });
    engine.onExit = (reason) => {
      if (!this.closing) void this.onEngineDied(engine, reason);
    };
    return engine;
  }

  /** The engine died (native abort, OOM killer, SIGKILL): restart it and bring the models back. */
  private async onEngineDied(dead: EngineClient, reason: string): Promise<void> {
    if (this.engine !== dead) return;
    this.engine = null;
    this.engineState = 'restarting';
    const now = Date.now();
    this.engineRestarts = this.engineRestarts.filter((t) => now - t < this.cfg.engineRestarts.periodMs);
    this.engineRestarts.push(now);
    this.log.log('warn', 'engine.exited', {
      reason,
      restarts: this.engineRestarts.length,
      periodMs: this.cfg.engineRestarts.periodMs,
    });
    this.notify({ kind: 'engine-exited', device: this.id, reason });
    // Models being unloaded are gone with the engine: what still waits for them fails retryably, so the unload drains.
    const gone = errors.unavailable(`the engine of device ${this.id} ${reason}; it is restarting`);
    for (const m of this.models.values()) if (m.life.is('draining', 'unloading')) this.failQueued(m, gone);
    if (this.engineRestarts.length > this.cfg.engineRestarts.max) {
      // Escalate to the supervisor: crash this worker; it restarts the device with the same desired models.
      setImmediate(() => {
        throw new Error(
          `engine of ${this.id} died ${this.engineRestarts.length} times in ${this.cfg.engineRestarts.periodMs} ms; last: ${reason}`,
        );
      });
      return;
    }
    // Loaded and loading models come back with the next engine (a load cut short answers its callers UNAVAILABLE).
    for (const m of this.models.values()) if (m.life.is('loaded', 'loading')) m.life.to('waiting-engine', gone);
    this.changed();
    try {
      this.engine = await this.startEngine();
      this.engineState = 'ready';
    } catch (err) {
      setImmediate(() => {
        throw err;
      });
      return;
    }
    for (const m of [...this.models.values()]) {
      if (!m.life.is('waiting-engine')) continue; // an unload took it meanwhile
      m.life.to('loading');
      // Its outcome is the model's state (loaded, failed, or waiting for an engine again); nobody else waits on it.
      this.engineLoad(m).catch(() => {});
    }
  }

  receive(env: Envelope<DeviceProtocol>): void {
    const msg = env.msg;
    switch (msg.kind) {
      case 'infer':
        return this.infer(env as Envelope<DeviceProtocol, 'infer'>);
      case 'evaluate':
        return this.evaluate(env as Envelope<DeviceProtocol, 'evaluate'>);
      case 'embed':
        return this.embed(env as Envelope<DeviceProtocol, 'embed'>);
      case 'load':
        this.load(msg.model).then(
          (info) => env.reply(info),
          (err) => env.fail(err),
        );
        return;
      case 'unload':
        if (msg.ifExpiresAt !== undefined && !this.expiredAt(msg.model, msg.ifExpiresAt))
          return env.reply({ model: msg.model, freedBytes: 0 });
        this.unload(msg.model).then(
          (r) => env.reply(r),
          (err) => env.fail(err),
        );
        return;
      case 'status':
        return env.reply(this.status());
      case 'reserve': {
        // Idempotent for one owner: a job taken over in this process reserves again what it already holds.
        if (this.ledger.bytesOf(msg.owner) > 0) this.ledger.release(msg.owner);
        this.ledger.reserve(msg.owner, msg.bytes); // refuses past the hard limit, naming what holds the memory
        return env.reply({ device: this.id, bytes: msg.bytes });
      }
      case 'release':
        return env.reply({ freedBytes: this.ledger.release(msg.owner) });
      case 'estimate':
        this.requireEngine()
          .estimate(msg.model, this.cfg.loadTimeoutMs)
          .then(
            (e) => env.reply({ totalBytes: e.totalBytes, weightsBytes: e.weightsBytes, contextBytes: e.contextBytes }),
            (err) => env.fail(err),
          );
        return;
      case 'update': {
        const m = this.models.get(msg.model);
        if (!m) return env.fail(errors.modelNotFound(msg.model, this.servingNames()));
        m.spec = { ...m.spec, pinned: msg.pinned };
        m.keepAliveMs = msg.keepAliveMs;
        if (m.inFlight === 0 && m.queue.length === 0) this.markIdle(m);
        else this.changed();
        return env.reply(this.info(m));
      }
      case 'crash':
        return this.crash(env as Envelope<DeviceProtocol, 'crash'>);
      default:
        throw new Error(`device ${this.id}: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  // ---- inference: admission, queue, run on a free sequence ----

  private infer(env: Envelope<DeviceProtocol, 'infer'>): void {
    // max_tokens against the context is checked once, by the engine, with the prompt's exact token count.
    const m = this.admit(env, env.msg.priority);
    if (!m) return;
    // A request's keep_alive sets the model's idle expiry from now on (Ollama's semantics).
    if (env.msg.keepAliveMs !== undefined) m.keepAliveMs = env.msg.keepAliveMs;
    this.pump(m);
  }

  /**
   * Scoring texts takes a sequence of the model as an inference does, so it goes through the same queue (priority 0,
   * as an inference that names none): the model's `sequences` limit, the queue bound, cancellation and the deadline
   * apply to it unchanged, and an unload drains it like any request. The count and sizes are checked here, before it
   * is queued; each text's exact token count against the context is checked by the engine.
   */
  private evaluate(env: Envelope<DeviceProtocol, 'evaluate'>): void {
    this.queueTexts(env, EvaluateMsg, 'texts');
  }

  /** Embeddings queue like an evaluation (the model's sequences bound them too), checked the same way. */
  private embed(env: Envelope<DeviceProtocol, 'embed'>): void {
    this.queueTexts(env, EmbedMsg, 'input');
  }

  /** Validates a message of texts, refuses a text no context of the model could hold, then queues it. */
  private queueTexts(
    env: Envelope<DeviceProtocol, 'evaluate'> | Envelope<DeviceProtocol, 'embed'>,
    schema: typeof EvaluateMsg | typeof EmbedMsg,
    field: string,
  ): void {
    let msg: EvaluateMsg | EmbedMsg;
    try {
      msg = validate(schema, env.msg);
    } catch (err) {
      return env.fail(err);
    }
    const prefixes = 'prefixes' in msg ? msg.prefixes : undefined;
    if (prefixes && prefixes.length !== msg.texts.length) {
      return env.fail(
        errors.invalidArgument(
          'prefixes',
          `has ${prefixes.length} entries for ${msg.texts.length} texts; send one per text ('' for none)`,
        ),
      );
    }
    const spec = this.models.get(msg.model)?.spec;
    if (spec) {
      const maxChars = spec.contextSize * MAX_CHARS_PER_CONTEXT_TOKEN;
      // A text is evaluated after its prefix: both must fit.
      const chars = (i: number) => msg.texts[i]!.length + (prefixes?.[i]?.length ?? 0);
      const i = msg.texts.findIndex((_, i) => chars(i) > maxChars);
      if (i >= 0) {
        return env.fail(
          errors.invalidArgument(
            `${field}[${i}]`,
            `is ${chars(i)} characters${prefixes?.[i] ? ' with its prefix' : ''}, more than model '${spec.name}' can hold in its context of ${spec.contextSize} tokens; split it into texts of at most ${spec.contextSize} tokens`,
          ),
        );
      }
    }
    const m = this.admit(env, 0);
    if (m) this.pump(m);
  }

  /** Queues a request that needs a sequence of its model, or answers why it cannot; returns the model if queued. */
  private admit(env: SequenceEnvelope, priority: number): ModelEntry | undefined {
    const m = this.models.get(env.msg.model);
    // A request routed just before an unload (the router's route table follows this device's notices) is answered
    // NOT_FOUND here; the router loads the model on demand for it, as for any request to a registered model.
    if (!m || m.life.is('draining', 'unloading')) {
      env.fail(errors.modelNotFound(env.msg.model, this.servingNames()));
      return undefined;
    }
    if (m.life.is('cancelling', 'failed')) {
      env.fail(errors.modelFailed(m.spec.name, String(m.error)));
      return undefined;
    }
    if (this.closing) {
      env.fail(errors.unavailable(`device ${this.id} is shutting down`));
      return undefined;
    }
    const job: Job = {
      env,
      enqueuedAt: performance.now(),
      onAbort: () => {
        m.queue.remove(job);
      },
    };
    if (!m.queue.push(job, priority)) {
      env.fail(errors.busy(`queue of model ${m.spec.name} on ${this.id}`, m.queue.capacity, 50));
      return undefined;
    }
    env.signal.addEventListener('abort', job.onAbort, { once: true });
    m.expiresAt = 0; // in use: an expiry decided on an earlier report no longer applies (see expiredAt)
    this.countersChanged();
    return m;
  }

  private pump(m: ModelEntry): void {
    // A draining model still runs the requests admitted before its unload, to completion.
    while (m.life.is('loaded', 'draining') && this.engine && m.inFlight < m.spec.sequences && m.queue.length > 0) {
      const job = m.queue.shift()!;
      job.env.signal.removeEventListener('abort', job.onAbort);
      if (job.env.settled) continue;
      this.run(m, this.engine, job);
    }
    this.checkIdle(m);
  }

  /** Resolves once nothing of the model runs or waits (at once if nothing does). */
  private idle(m: ModelEntry): Promise<void> {
    if (m.inFlight === 0 && m.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => m.idleWaiters.push(resolve));
  }

  /** A model whose last request finished (or failed) lets an unload (or close) waiting on it go on. */
  private checkIdle(m: ModelEntry): void {
    if (m.inFlight > 0 || m.queue.length > 0 || m.idleWaiters.length === 0) return;
    const waiters = m.idleWaiters;
    m.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Fails every queued request of a model (they could never run), then lets an unload waiting on them go on. */
  private failQueued(m: ModelEntry, err: MocError): void {
    for (const job of m.queue.drain()) {
      job.env.signal.removeEventListener('abort', job.onAbort);
      if (!job.env.settled) job.env.fail(err);
    }
    this.checkIdle(m);
  }

  private run(m: ModelEntry, engine: EngineClient, job: Job): void {
    const queueMs = performance.now() - job.enqueuedAt;
    const timeoutMs = Math.max(1, Math.min(job.env.deadline - Date.now(), 2 ** 31 - 1));
    m.inFlight++;
    const kind = job.env.msg.kind;
    const work =
      kind === 'evaluate'
        ? this.runEvaluate(engine, job.env as Envelope<DeviceProtocol, 'evaluate'>, timeoutMs)
        : kind === 'embed'
          ? this.runEmbed(engine, m, job.env as Envelope<DeviceProtocol, 'embed'>, timeoutMs)
          : this.runInfer(engine, m, job.env as Envelope<DeviceProtocol, 'infer'>, timeoutMs, queueMs);
    void work.finally(() => {
      m.inFlight--;
      m.lastUsedAt = Date.now();
      this.pump(m);
      if (m.inFlight === 0 && m.queue.length === 0) this.markIdle(m);
      else this.countersChanged();
    });
  }

  /**
   * Settles env; never rejects. Resolves once the engine has let go of the sequence too: an evaluation past its
   * deadline is answered at once but keeps its slot until the engine has stopped it (within one chunk of tokens), so
   * the next request never finds the engine's sequences all taken.
   */
  private runEvaluate(
    engine: EngineClient,
    env: Envelope<DeviceProtocol, 'evaluate'>,
    timeoutMs: number,
  ): Promise<void> {
    const { model, texts, prefixes } = env.msg;
    const call = engine.startEvaluate({ model, texts, ...(prefixes ? { prefixes } : {}) }, timeoutMs, env.signal);
    const settled = call.result.then(
      (o) =>
        env.reply({
          model,
          tokens: o.tokens,
          sumLogProb: o.sumLogProb,
          meanLogProb: o.meanLogProb,
          perplexity: o.perplexity,
          perText: o.perText,
        }),
      (err) => env.fail(err),
    );
    return Promise.all([settled, call.answered]).then(() => {});
  }

  /**
   * Settles env; never rejects. The first embed of a loaded model makes its embedding context in the engine: the
   * ledger must have room for it first (the hard limit holds), and its real size is then added to the model's entry.
   */
  private runEmbed(
    engine: EngineClient,
    m: ModelEntry,
    env: Envelope<DeviceProtocol, 'embed'>,
    timeoutMs: number,
  ): Promise<void> {
    const { model, texts } = env.msg;
    if (!m.embedding && m.embedEstimateBytes > this.ledger.free) {
      env.fail(
        errors.deviceMemoryFull(
          `${model} (its embedding context)`,
          this.id,
          m.embedEstimateBytes,
          this.ledger.free,
          this.ledger.hardLimit,
          this.ledger.holders().sort((a, b) => b.bytes - a.bytes),
        ),
      );
      return Promise.resolve();
    }
    return engine.embed({ model, texts }, timeoutMs, env.signal).then(
      (o) => {
        if (o.createdBytes !== 0 && this.models.get(model) === m) {
          m.embedding = true;
          m.actualBytes += o.createdBytes > 0 ? o.createdBytes : m.embedEstimateBytes;
          this.ledger.reconcile(model, m.actualBytes);
          this.changed();
        }
        env.reply({ model, device: this.id, embeddings: o.embeddings, tokens: o.tokens });
      },
      (err) => env.fail(err),
    );
  }

  /** Settles env; never rejects. */
  private runInfer(
    engine: EngineClient,
    m: ModelEntry,
    env: Envelope<DeviceProtocol, 'infer'>,
    timeoutMs: number,
    queueMs: number,
  ): Promise<void> {
    const msg: InferMsg = env.msg;
    // The request goes to the engine as it came: the queue's and the keep-alive's fields are this actor's.
    const { kind: _kind, priority: _priority, keepAliveMs: _keepAliveMs, ...params } = msg;
    return engine
      .generate(
        params,
        timeoutMs,
        env.signal,
        msg.stream ? (text, call) => env.emit({ kind: 'token', text, ...(call ? { call } : {}) }) : undefined,
      )
      .then(
        (o) => {
          m.kvCacheUsage = o.kvCacheUsage;
          this.inferenceLine(msg, 'OK', queueMs, o.computeMs, o.tokensGenerated);
          env.reply({
            requestId: msg.requestId,
            model: msg.model,
            device: this.id,
            text: o.text,
            promptTokens: o.promptTokens,
            cachedTokens: o.cachedTokens,
            tokensGenerated: o.tokensGenerated,
            finishReason: o.finishReason,
            queueMs,
            computeMs: o.computeMs,
            firstTokenMs: o.firstTokenMs,
            ...(o.logprobs ? { logprobs: o.logprobs } : {}),
            ...(o.toolCalls ? { toolCalls: o.toolCalls } : {}),
          });
        },
        (err) => {
          this.inferenceLine(msg, toMocError(err).code, queueMs);
          env.fail(err);
        },
      );
  }

  /** Debug: this thread's part of a request, under the ids of the main thread's `request` line (docs/logging.md). */
  private inferenceLine(msg: InferMsg, code: string, queueMs: number, computeMs?: number, tokens?: number): void {
    if (!this.log.enabled?.('debug')) return;
    this.log.log('debug', 'device.inference', {
      request_id: msg.requestId,
      ...(msg.traceId ? { trace_id: msg.traceId } : {}),
      model: msg.model,
      code,
      queue_ms: Math.round(queueMs * 10) / 10,
      ...(computeMs !== undefined ? { compute_ms: Math.round(computeMs * 10) / 10, tokens } : {}),
    });
  }

  // ---- lifecycle of models on this device (the states and their transitions: model-state.ts) ----

  /** Answers once the model is loaded here (or why it cannot be): starts its load, or joins or waits out the entry. */
  private async load(spec: ModelSpec): Promise<ModelInfo> {
    if (this.closing) throw errors.unavailable(`device ${this.id} is shutting down`);
    const m = this.models.get(spec.name);
    if (!m) {
      // The lifecycle loads an adapter's base first, on this device; it may have left since (then it loads it again).
      const base = spec.adapter && this.models.get(spec.adapter.base);
      if (base?.life.is('reserving', 'loading')) {
        // A restarted device loads everything it held at once: the adapter follows its base's load.
        await base.life.until('loaded', 'cancelling', 'waiting-engine');
        return this.load(spec);
      }
      if (spec.adapter && !base?.life.is('loaded', 'waiting-engine'))
        throw errors.adapterBaseNotLoaded(spec.name, spec.adapter.base);
      return this.loadNew(spec);
    }
    if (m.spec.path !== spec.path) throw errors.loadedFromOtherFile(spec.name, m.life.reported, this.id, m.spec.path);
    switch (m.life.state) {
      case 'loaded':
      case 'waiting-engine': // it comes back with its restarted engine
        return this.info(m);
      case 'reserving':
      case 'loading': {
        // Concurrent loads of one model share the first, and its outcome.
        const r = await m.life.until('loaded', 'cancelling', 'waiting-engine');
        if (r.state !== 'loaded') throw r.cause ?? errors.unavailable(`the load of ${spec.name} on ${this.id} ended`);
        // An unload that waited for the same load went first: load afresh once it is done.
        return m.life.is('loaded') ? this.info(m) : this.load(spec);
      }
      case 'cancelling':
        // A failed load may still be running in the engine (it timed out): its bytes stay counted until it answered.
        await m.life.until('failed', 'draining');
        return this.load(spec);
      case 'failed':
        m.life.to('gone');
        this.models.delete(spec.name);
        return this.loadNew(spec);
      case 'draining':
      case 'unloading':
        // Its entry is on its way out (keep-alive expiry, eviction, unload): wait for that, then load afresh.
        await m.life.until('gone');
        return this.load(spec);
      case 'gone':
        throw new Error(`device ${this.id}: model '${spec.name}' is gone but still listed`);
      default:
        throw new Error(`device ${this.id}: unknown model state ${JSON.stringify(m.life.state satisfies never)}`);
    }
  }

  /** A new entry: estimate, reserve (refused past the hard limit, before the engine loads), then load. */
  private async loadNew(spec: ModelSpec): Promise<ModelInfo> {
    const engine = this.requireEngine();
    const m: ModelEntry = {
      spec,
      life: new ModelLife(spec.name),
      estimateBytes: 0,
      actualBytes: 0,
      embedEstimateBytes: 0,
      embedding: false,
      inFlight: 0,
      queue: new RequestQueue(this.cfg.device.maxQueue),
      loadedAt: 0,
      lastUsedAt: 0,
      keepAliveMs: spec.keepAliveMs,
      expiresAt: 0,
      loadAnswered: Promise.resolve(),
      idleWaiters: [],
    };
    this.models.set(spec.name, m);
    this.changed();
    try {
      const est = await engine.estimate(spec, this.cfg.loadTimeoutMs);
      m.estimateBytes = est.totalBytes;
      m.embedEstimateBytes = Math.ceil(est.contextBytes / Math.max(1, spec.sequences));
      this.ledger.reserve(spec.name, est.totalBytes);
    } catch (err) {
      const e = toMocError(err);
      m.life.to('gone', e);
      this.models.delete(spec.name);
      this.changed();
      throw e;
    }
    m.life.to('loading');
    await this.engineLoad(m);
    return this.info(m);
  }

  /** Load into the engine with the reservation already held (state 'loading'); rejects with why it did not load. */
  private async engineLoad(m: ModelEntry): Promise<void> {
    let answered: Promise<void> | undefined;
    try {
      // Each step is a notice (at most 1 / LOAD_PROGRESS_STEP of them a load), so watchers see a fast load move too.
      const call = this.requireEngine().startLoad(m.spec, this.cfg.loadTimeoutMs, (f) => {
        if (!m.life.is('loading')) return;
        m.loadProgress = f;
        this.changed();
      });
      answered = m.loadAnswered = call.answered;
      const loaded = await call.result;
      m.actualBytes = loaded.actualBytes;
      m.embedding = false; // a (re)load starts without one: the engine makes it again at the next embed
      this.ledger.reconcile(m.spec.name, loaded.actualBytes);
      if (loaded.adapterWeights)
        this.adapterWeights.loaded(m.spec, loaded.adapterWeights.bytes, loaded.adapterWeights.resident);
      else this.adapterWeights.baseGone(m.spec.name); // a (re)loaded model holds no adapter yet
      m.life.to('loaded');
      delete m.loadProgress;
      m.loadedAt = Date.now();
      m.lastUsedAt ||= m.loadedAt;
      delete m.error;
      if (m.inFlight === 0 && m.queue.length === 0) this.markIdle(m);
    } catch (err) {
      const e = toMocError(err);
      delete m.loadProgress;
      if (e.code === 'MOC_ERR_UNAVAILABLE') {
        // The engine died mid-load (onEngineDied may have said so first): the restarted engine loads it again.
        if (m.life.is('loading')) m.life.to('waiting-engine', e);
        throw e;
      }
      m.life.to('cancelling', e);
      m.error = e.message;
      this.failQueued(m, e);
      // A load that timed out is cancelled in the engine, which answers once it let go of it (disposing it if it
      // finished anyway): the reservation is released then, not now, so the ledger never misses bytes in use. An
      // unload that took the model meanwhile releases it itself, after the same answer.
      void (answered ?? Promise.resolve()).then(() => {
        if (!m.life.is('cancelling')) return;
        this.ledger.release(m.spec.name);
        m.life.to('failed', e);
        this.changed();
      });
      throw e;
    } finally {
      this.changed();
      this.pump(m);
    }
  }

  /** The adapters loaded on model `base` (entries in any state). */
  private adaptersOf(base: string): ModelEntry[] {
    return [...this.models.values()].filter((a) => a.spec.adapter?.base === base);
  }

  /**
   * Drains the model (admitted requests finish, new ones see NOT_FOUND), unloads it from the engine, frees its bytes.
   * A base unloads its adapters first (they run on its weights); an adapter's weights stay with its base or another
   * adapter of the same file (adapter-weights.ts), so its unload frees its context only.
   */
  private async unload(name: string): Promise<{ model: string; freedBytes: number }> {
    const m = this.models.get(name);
    if (!m) throw errors.modelNotFound(name, this.servingNames());
    // Unload during a load is well-defined: the load finishes (or fails), then the model is unloaded.
    if (m.life.is('reserving', 'loading')) await m.life.until('loaded', 'cancelling', 'waiting-engine');
    if (m.life.is('gone')) throw errors.modelNotFound(name, this.servingNames()); // its reservation was refused
    if (m.life.is('draining', 'unloading')) throw errors.modelUnloading(name);
    m.life.to('draining');
    m.expiresAt = 0;
    this.changed();
    // Its adapters first (they run on its weights). Draining already, it takes no new adapter meanwhile (load refuses).
    let adaptersFreed = 0;
    for (const a of this.adaptersOf(name)) {
      if (a.life.is('draining', 'unloading')) await a.life.until('gone');
      else adaptersFreed += (await this.unload(a.spec.name).catch(() => ({ freedBytes: 0 }))).freedBytes;
    }
    // Without an engine nothing queued can run (and an engine that dies meanwhile fails what is left, see
    // onEngineDied), so the drain always ends.
    if (!this.engine?.alive)
      this.failQueued(m, errors.unavailable(`the engine of device ${this.id} is ${this.engineState}`));
    this.pump(m);
    await this.idle(m);
    m.life.to('unloading');
    try {
      await m.loadAnswered; // a timed-out load still running in the engine keeps its bytes until the engine let go
      // Whatever the engine answers, the unload ends: a dead engine holds nothing; a timed-out one is not retried.
      if (this.engine?.alive) {
        await this.engine.unload(name, this.cfg.loadTimeoutMs).catch((err: unknown) => {
          // Told, not counted (no metrics registry in this thread). The engine may still hold the model's memory, which
          // the ledger stops counting here: this line is how an operator learns of it.
          const e = toMocError(err);
          this.log.log('warn', 'error.dropped', {
            where: 'device.unload',
            model: name,
            code: e.code,
            error: e.message,
          });
        });
      }
      let kept = 0;
      if (m.spec.adapter) {
        const key = weightsKey(m.spec);
        const others = this.adaptersOf(m.spec.adapter.base).filter(
          (a) => a !== m && a.life.is('loaded') && weightsKey(a.spec) === key,
        );
        kept = this.adapterWeights.leaving(
          m.spec,
          others.map((a) => a.spec.name),
        );
      } else this.adapterWeights.baseGone(name);
      return { model: name, freedBytes: adaptersFreed + this.ledger.release(name) - kept };
    } finally {
      m.life.to('gone');
      this.models.delete(name);
      // Its base, idle now, may expire again (an expiry that came while the adapter was loaded was refused).
      const base = m.spec.adapter && this.models.get(m.spec.adapter.base);
      if (base?.life.is('loaded') && base.inFlight === 0 && base.queue.length === 0) this.markIdle(base);
      this.changed();
    }
  }

  // ---- keep-alive ----

  /**
   * The model is idle: it may be unloaded keepAliveMs from now, unless pinned or kept forever. The device only reports
   * this (the notice); the lifecycle keeps the timer and decides, as it decides soft-limit evictions.
   */
  private markIdle(m: ModelEntry): void {
    m.expiresAt =
      !m.life.is('loaded') || m.spec.pinned || m.keepAliveMs < 0 || this.closing
        ? 0
        : Math.min(Date.now() + m.keepAliveMs, MAX_EPOCH_MS);
    this.changed();
  }

  /**
   * An unload for a keep-alive expiry goes ahead only if the model is still idle with the expiry the lifecycle saw:
   * a request since then (or a pin, a new keep-alive) changed or cleared it, and the model stays.
   */
  private expiredAt(name: string, at: number): boolean {
    const m = this.models.get(name);
    return (
      !!m &&
      m.life.is('loaded') &&
      m.inFlight === 0 &&
      m.queue.length === 0 &&
      m.expiresAt > 0 &&
      m.expiresAt === at &&
      // A base outlives its adapters: it expires once they have gone.
      this.adaptersOf(name).length === 0
    );
  }

  // ---- status, notifications, faults ----

  private info(m: ModelEntry): ModelInfo {
    return {
      name: m.spec.name,
      path: m.spec.path,
      device: this.id,
      state: m.life.reported,
      contextSize: m.spec.contextSize,
      sequences: m.spec.sequences,
      estimateBytes: m.estimateBytes,
      reservedBytes: this.ledger.bytesOf(m.spec.name),
      actualBytes: m.actualBytes,
      inFlight: m.inFlight,
      queued: m.queue.length,
      loadedAt: m.loadedAt,
      lastUsedAt: m.lastUsedAt,
      pinned: m.spec.pinned,
      keepAliveMs: m.keepAliveMs,
      expiresAt: m.expiresAt,
      ...(m.error ? { error: m.error } : {}),
      ...(m.loadProgress !== undefined && m.life.reported === 'loading' ? { loadProgress: m.loadProgress } : {}),
      ...(m.kvCacheUsage !== undefined ? { kvCacheUsage: m.kvCacheUsage } : {}),
      ...(m.spec.adapter ? { base: m.spec.adapter.base } : {}),
    };
  }

  private status(): DeviceStatus {
    return {
      id: this.id,
      kind: this.cfg.device.kind,
      threads: this.cfg.device.threads,
      memory: {
        hardLimit: this.ledger.hardLimit,
        softLimit: this.ledger.softLimit,
        reserved: this.ledger.reserved,
        free: this.ledger.free,
      },
      models: [...this.models.values()].map((m) => this.info(m)),
      reservations: this.ledger
        .holders()
        .filter((h) => !this.models.has(h.model))
        .map((h) => ({ owner: h.model, bytes: h.bytes })),
      engine: { pid: this.engine?.pid ?? 0, state: this.engineState, restarts: this.engineRestarts.length },
      eventLoopLag: this.loopLag.read(),
    };
  }

  private servingNames(): string[] {
    return [...this.models.values()].filter((m) => !m.life.is('draining', 'unloading')).map((m) => m.spec.name);
  }

  private changed(): void {
    if (this.countersTimer) {
      clearTimeout(this.countersTimer);
      this.countersTimer = null;
    }
    this.notify({
      kind: 'models-changed',
      device: this.id,
      models: [...this.models.values()].map((m) => this.info(m)),
    });
  }

  /**
   * A request was queued, started or ended: the counters the lifecycle's live view shows (in flight, queued, last
   * used) moved. Reported at most every COUNTERS_NOTICE_MS (one notice for every request in between), so lists are
   * answered from that view without asking this thread, at most that stale in their counters, never in states.
   */
  private countersChanged(): void {
    this.countersTimer ??= setTimeout(() => {
      this.countersTimer = null;
      this.changed();
    }, COUNTERS_NOTICE_MS);
  }

  private requireEngine(): EngineClient {
    if (!this.engine) throw errors.unavailable(`the engine of device ${this.id} is ${this.engineState}`);
    return this.engine;
  }

  private crash(env: Envelope<DeviceProtocol, 'crash'>): void {
    if (!this.cfg.faultInjection) {
      return env.fail(errors.invalidArgument('kind', 'fault injection is disabled (debug.faultInjection)'));
    }
    env.reply({ ok: true });
    if (env.msg.target === 'engine') this.engine?.injectAbort();
    else
      setTimeout(() => {
        throw new Error(`fault injection: device ${this.id} worker crash`);
      }, 5);
  }

  /** Graceful: refuse new work, let running generations finish, unload, stop the engine. */
  async close(): Promise<void> {
    this.closing = true;
    this.loopLag.close();
    if (this.countersTimer) clearTimeout(this.countersTimer);
    const shuttingDown = errors.unavailable(`device ${this.id} is shutting down`);
    for (const m of this.models.values()) {
      m.expiresAt = 0;
      this.failQueued(m, shuttingDown);
    }
    // Running generations finish: each model's last one to end wakes this (see checkIdle).
    await Promise.all([...this.models.values()].map((m) => this.idle(m)));
    const engine = this.engine;
    this.engineState = 'closed';
    this.engine = null;
    if (engine) {
      // The engine process exits just below and its memory goes with it: a failed unload here cannot leak.
      for (const name of this.models.keys()) await engine.unload(name, 5000).catch(() => {});
      await engine.close();
    }
  }
}

/**
 * The engine: node-llama-cpp (llama.cpp) with one context per model and a pool of that context's sequences.
 * Concurrent generations run on different sequences of one context, and node-llama-cpp evaluates all active
 * sequences in one batch per step: that is where throughput comes from (FACTS: 8 sequences ≈ 2.7x one).
 * Used inside the engine child process (engine-process.ts) and in-process by perf/raw-engine.ts.
 */
import {
  getLlama,
  LlamaCompletion,
  readGgufFileInfo,
  GgufInsights,
  LlamaLogLevel,
  LlamaVocabularyType,
  type Llama,
  type LlamaModel,
  type LlamaContext,
  type LlamaContextSequence,
  type ControlledEvaluateInputItem,
  type Token,
  type LlamaText,
  type LlamaEmbeddingContext,
} from 'node-llama-cpp';
import fs from 'node:fs';
import { errors, MocError } from '../../src/errors.js';
import type {
  EmbedOutcome,
  EmbedParams,
  EngineFaults,
  EngineModel,
  Estimate,
  EngineStart,
  EvaluateOutcome,
  EvaluateParams,
  GenerateOutcome,
  GenerateParams,
  Loaded,
  OnPiece,
} from './engine-protocol.js';
import { ggufProblem, openModelFile, type OpenedModelFile } from './model-file.js';
import { chatFormatOf, renderChat, type ChatFormat } from './chat.js';
import { generatedTokens, recordSampled, tokenLogprobs } from './token-logprobs.js';
import { chatWithTools } from './tool-calls.js';
import { fitMaxTokens, Grammars, samplingOf } from './sampling.js';
import { withStops } from './stop-text.js';
import type { TokenLogprob } from '../../schemas/messages.js';
import { cancelledBy } from './cancelled-by.js';
import { orderDecodesBySequence } from './batch-order.js';
import { type Generated, SequencePool, type Taken, type TakeSequence } from './sequence-pool.js';

/**
 * Tokens an evaluation decodes per controlledEvaluate call. Each decoded token asks llama.cpp for its logits, and
 * llama.cpp grows the context's output buffer to the largest number of logits asked in one batch (outputs × vocabulary
 * × 4 bytes, kept until the context is freed, outside the memory the device estimated): 32 keeps that to ~20 MB for a
 * 150k vocabulary. It is also how often a cancellation or deadline is checked.
 */
const EVALUATE_CHUNK_TOKENS = 32;

/**
 * Whether a generation goes through LlamaChat with tools (tool-calls.ts): tools the model may call, or a chat that
 * already has calls and results in it. Tools with tool_choice none are not documented: the plain chat path.
 */
function usesToolPath(p: GenerateParams): boolean {
  return (
    (p.tools !== undefined && p.toolChoice !== 'none') ||
    p.messages!.some((m) => m.role === 'tool' || m.tool_calls?.length)
  );
}

/** The answer to a load or estimate cancelled by the device (its timeout passed): nothing of it stays loaded. */
const cancelledLoad = (spec: EngineModel, what: 'load' | 'estimate') => errors.loadCancelled(spec.name, what);

interface LoadedModel {
  spec: EngineModel;
  model: LlamaModel;
  context: LlamaContext;
  /** Its context's sequences, and what each holds for the prompt cache. */
  pool: SequencePool;
  /**
   * The checked descriptor, open while the model is: node-llama-cpp may re-open its path (/proc/self/fd/N) after the
   * load, and must find the same inode there, not a closed or reused descriptor.
   */
  file: OpenedModelFile;
  /** How a chat becomes a prompt for this model, resolved at its first chat request. */
  chat?: ChatFormat;
  /** The embedding context, made at the model's first embed (its own KV cache, one sequence of contextSize). */
  embedding?: Promise<LlamaEmbeddingContext>;
  /** Embeds run one at a time on it (it has one sequence): each waits for the one before. */
  embedTail?: Promise<unknown>;
  /** An adapter: the base whose weights its context runs on (`model` is the base's). */
  base?: LoadedModel;
  /**
   * A base: the adapter files node-llama-cpp holds for it, by path. It loads an adapter's weights once per model and
   * frees them only when the model is disposed (LlamaModel._getOrLoadLora), not with the context: they stay here,
   * their descriptors open, until then, and a later load of the same unchanged file reuses them.
   */
  adapters: Map<string, ResidentAdapter>;
}

interface ResidentAdapter {
  /** Open while the base is: node-llama-cpp caches the adapter by this path (/proc/self/fd/N), which must stay ours. */
  file: OpenedModelFile;
  bytes: number;
  mtimeMs: number;
  /** What holding it costs: its tensors, as the file stores them (F32 or F16; llama.cpp keeps the type it reads). */
  weightsBytes: number;
}

export class EngineCore {
  private readonly models = new Map<string, LoadedModel>();

  /** Loads still running, by model: an adapter's load waits for its base's (a restarted engine reloads both at once). */
  private readonly loading = new Map<string, Promise<unknown>>();

  private faults: EngineFaults;

  private readonly grammars: Grammars;

  private constructor(
    private readonly llama: Llama,
    private readonly threads: number,
    faults: EngineFaults = {},
  ) {
    this.faults = { ...faults };
    this.grammars = new Grammars(llama);
  }

  static async create(o: Pick<EngineStart, 'threads' | 'gpu' | 'faults'>): Promise<EngineCore> {
    // build: 'never' uses the shipped prebuilt binaries: no compiler, no download at run time.
    const llama = await getLlama({
      gpu: o.gpu === 'cpu' ? false : o.gpu,
      build: 'never',
      logLevel: LlamaLogLevel.error,
      progressLogs: false,
    });
    return new EngineCore(llama, o.threads, o.faults);
  }

  /** Memory a load would take, from the GGUF header alone (node-llama-cpp's insights, llama.cpp's own formulas). */
  async estimate(spec: EngineModel, signal?: AbortSignal): Promise<Estimate> {
    if (spec.adapter) return this.estimateAdapter(spec);
    // Open until the estimate is done: the insights re-read the file natively (llama.cpp's own context sizes) by the
    // path they were given, and would fall back to a coarser formula if /proc/self/fd/N no longer existed.
    const file = openModelFile(spec);
    try {
      return await this.estimateFrom(spec, file, signal);
    } finally {
      file.close();
    }
  }

  private async estimateFrom(spec: EngineModel, file: OpenedModelFile, signal?: AbortSignal): Promise<Estimate> {
    let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
    try {
      info = await readGgufFileInfo(file.path, {
        readTensorInfo: true,
        sourceType: 'filesystem',
        logWarnings: false,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw cancelledLoad(spec, 'estimate');
      // Refused here, from the header alone, before llama.cpp ever maps the file.
      throw errors.modelFileRefused(
        spec.name,
        file.shown,
        `${ggufProblem(err) ?? 'is not a readable GGUF file'}; register a valid GGUF file`,
      );
    }
    const insights = await GgufInsights.from(info, this.llama);
    const gpuLayers = this.llama.gpu === false ? 0 : insights.totalLayers;
    const m = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
    const c = await insights.estimateContextResourceRequirementsV2({
      contextSize: spec.contextSize,
      sequences: spec.sequences,
      modelGpuLayers: gpuLayers,
    });
    const weightsBytes = m.cpuRam + m.gpuVram;
    const contextBytes = c.cpuRam + c.gpuVram;
    return {
      weightsBytes,
      contextBytes,
      totalBytes: weightsBytes + contextBytes,
      trainContextSize: insights.trainContextSize ?? 0,
    };
  }

  /**
   * Load a model and its context. A cancelled load (its timeout passed on the device) never stays loaded: the signal
   * aborts node-llama-cpp where it can, and a load that completes anyway is disposed before it answers.
   */
  async load(spec: EngineModel, signal?: AbortSignal, onProgress?: (fraction: number) => void): Promise<Loaded> {
    if (this.models.has(spec.name) || this.loading.has(spec.name)) throw errors.loadedInEngine(spec.name);
    const done = spec.adapter ? this.loadAdapter(spec, signal) : this.loadModel(spec, signal, onProgress);
    this.loading.set(spec.name, done);
    try {
      return await done;
    } finally {
      this.loading.delete(spec.name);
    }
  }

  private async loadModel(
    spec: EngineModel,
    signal?: AbortSignal,
    onProgress?: (fraction: number) => void,
  ): Promise<Loaded> {
    const file = openModelFile(spec);
    let model: LlamaModel | undefined;
    let context: LlamaContext | undefined;
    try {
      model = await this.llama.loadModel({
        modelPath: file.path,
        ...(signal ? { loadSignal: signal } : {}),
        ...(onProgress ? { onLoadProgress: onProgress } : {}),
      });
      context = await model.createContext({
        contextSize: spec.contextSize,
        sequences: spec.sequences,
        threads: this.threads,
        ...(signal ? { createSignal: signal } : {}),
      });
      // Each step of the busy sequences as one ubatch, one pass over the weights, as llama-server decodes it: on the
      // bench model 46 -> 25 CPU ms per answer in this class alone, 4.5 -> 1 ubatches (batch-order.ts;
      // docs/performance.md, "Where the engine's CPU goes").
      orderDecodesBySequence(context, { waitTurn: true });
      const slow = this.faults.slowLoad;
      if (slow && slow.model === spec.name) {
        this.faults = {}; // once
        await new Promise((r) => setTimeout(r, slow.ms));
      }
      if (signal?.aborted) throw cancelledLoad(spec, 'load');
      this.models.set(spec.name, {
        spec,
        model,
        context,
        pool: new SequencePool(context, spec.contextSize),
        file,
        adapters: new Map(),
      });
      const usage = context.memoryUsage;
      return { actualBytes: model.size + usage.ram + usage.vram, trainContextSize: model.trainContextSize };
    } catch (err) {
      await context?.dispose().catch(() => {});
      await model?.dispose().catch(() => {});
      file.close();
      if (signal?.aborted) throw cancelledLoad(spec, 'load');
      if (err instanceof MocError) throw err;
      const problem = ggufProblem(err);
      throw problem
        ? errors.modelFileRefused(spec.name, file.shown, `${problem}; register a valid GGUF file`)
        : errors.engineLoadFailed(spec.name, file.shown, file.scrub((err as Error).message));
    }
  }

  /**
   * An adapter: a context of its own on its base's weights, with the adapter applied (node-llama-cpp's `lora` option).
   * The base must be loaded here (the device loads it first); its adapter weights are loaded once and stay with it.
   */
  private async loadAdapter(spec: EngineModel, signal?: AbortSignal): Promise<Loaded> {
    const base = await this.baseOf(spec);
    const { adapter: of } = spec as Required<Pick<EngineModel, 'adapter'>>;
    const held = base.adapters.get(spec.path);
    const resident = held && spec.file && held.bytes === spec.file.bytes && held.mtimeMs === spec.file.mtimeMs;
    const file = resident ? held.file : openModelFile(spec);
    let context: LlamaContext | undefined;
    try {
      // The file as stored: its tensors (llama.cpp keeps the type it reads) and a header of a few KB.
      const weightsBytes = resident ? held.weightsBytes : fs.statSync(file.path).size;
      context = await base.model.createContext({
        contextSize: spec.contextSize,
        sequences: spec.sequences,
        threads: this.threads,
        lora: { adapters: [{ filePath: file.path, scale: of.scale }] },
        ...(signal ? { createSignal: signal } : {}),
      });
      orderDecodesBySequence(context, { waitTurn: true }); // as a model's context (loadModel)
      // From here node-llama-cpp holds the weights with the base (even if this load is cancelled below): so do we.
      if (!resident) {
        // A changed file under the same path: the old weights stay with the base too (counted there), as does its descriptor.
        if (held) base.adapters.set(`${spec.path}\0${held.bytes}@${held.mtimeMs}`, held);
        base.adapters.set(spec.path, {
          file,
          bytes: spec.file?.bytes ?? 0,
          mtimeMs: spec.file?.mtimeMs ?? 0,
          weightsBytes,
        });
      }
      if (signal?.aborted) throw cancelledLoad(spec, 'load');
      this.models.set(spec.name, {
        spec,
        model: base.model,
        context,
        pool: new SequencePool(context, spec.contextSize),
        file,
        base,
        adapters: new Map(),
      });
      const usage = context.memoryUsage;
      return {
        actualBytes: weightsBytes + usage.ram + usage.vram,
        trainContextSize: base.model.trainContextSize,
        adapterWeights: { bytes: weightsBytes, resident: !!resident },
      };
    } catch (err) {
      await context?.dispose().catch(() => {});
      if (!resident && base.adapters.get(spec.path)?.file !== file) file.close();
      if (signal?.aborted) throw cancelledLoad(spec, 'load');
      if (err instanceof MocError) throw err;
      throw errors.engineLoadFailed(spec.name, file.shown, file.scrub((err as Error).message));
    }
  }

  /**
   * An adapter costs its context (the base's formulas, at the adapter's context size and sequences) and its weights,
   * unless they are resident with the base already (then they are counted there, and move to the adapter at its load).
   */
  private async estimateAdapter(spec: EngineModel): Promise<Estimate> {
    const base = await this.baseOf(spec);
    const held = base.adapters.get(spec.path);
    const resident = held && spec.file && held.bytes === spec.file.bytes && held.mtimeMs === spec.file.mtimeMs;
    const gpuLayers = this.llama.gpu === false ? 0 : base.model.fileInsights.totalLayers;
    const c = await base.model.fileInsights.estimateContextResourceRequirementsV2({
      contextSize: spec.contextSize,
      sequences: spec.sequences,
      modelGpuLayers: gpuLayers,
    });
    const weightsBytes = resident ? 0 : (spec.file?.bytes ?? fs.statSync(spec.path).size);
    const contextBytes = c.cpuRam + c.gpuVram;
    return {
      weightsBytes,
      contextBytes,
      totalBytes: weightsBytes + contextBytes,
      trainContextSize: base.model.trainContextSize,
    };
  }

  /** An adapter's base, loaded here (waiting for its load if it is still running). */
  private async baseOf(spec: EngineModel): Promise<LoadedModel> {
    const name = spec.adapter!.base;
    await this.loading.get(name)?.catch(() => {});
    const base = this.models.get(name);
    if (!base || base.base) throw errors.adapterBaseNotLoaded(spec.name, name);
    return base;
  }

  /** Unloads a model: an adapter's context (its weights stay with its base), or a base after its adapters. */
  async unload(name: string): Promise<void> {
    const m = this.models.get(name);
    if (!m) return;
    this.models.delete(name);
    if (!m.base) for (const [other, a] of [...this.models]) if (a.base === m) await this.unload(other);
    if (m.embedding) await (await m.embedding.catch(() => null))?.dispose();
    await m.context.dispose();
    if (m.base) return; // its descriptor is the base's (ResidentAdapter), closed with it
    await m.model.dispose();
    for (const a of m.adapters.values()) a.file.close();
    m.file.close();
  }

  /**
   * Run one generation on a free sequence of the model's context: a chat with tools through LlamaChat (tool-calls.ts),
   * anything else as a completion. Both end here: a cancellation answered as what cancelled it, the sequence cleared
   * and given back. The caller (device scheduler) keeps count.
   */
  async generate(p: GenerateParams, signal: AbortSignal, onText?: OnPiece): Promise<GenerateOutcome> {
    const m = this.models.get(p.model);
    if (!m) throw errors.modelNotFound(p.model, [...this.models.keys()]);
    const started = performance.now();
    // The sequence is taken once the prompt's tokens are known (the prompt cache picks it by them: sequence-pool.ts).
    let taken: Taken | undefined;
    const take: TakeSequence = async (tokens) => {
      taken = await m.pool.take(tokens, p.cacheScope, signal, () => cancelledBy(signal));
      return taken;
    };
    let finished = false;
    try {
      let out: Generated;
      if (p.messages && usesToolPath(p)) {
        m.chat ??= chatFormatOf(m.model);
        out = await chatWithTools({
          grammars: this.grammars,
          model: m.model,
          take,
          format: m.chat,
          contextSize: m.spec.contextSize,
          p,
          signal,
          onText,
        });
      } else out = await this.complete(m, take, p, signal, started, onText);
      finished = !signal.aborted;
      return { ...out, cachedTokens: taken!.cached, kvCacheUsage: m.pool.usage() };
    } catch (err) {
      if (signal.aborted) throw cancelledBy(signal);
      throw err;
    } finally {
      // What a finished request evaluated stays for its scope's next requests (the prompt cache); anything else goes
      // back clean: the next request must not see tokens no one may reuse.
      if (taken) await m.pool.give(taken.seq, p.cacheScope, finished);
    }
  }

  /** A prompt, or a chat without tools, as a completion on `seq` (LlamaCompletion). */
  private async complete(
    m: LoadedModel,
    take: TakeSequence,
    p: GenerateParams,
    signal: AbortSignal,
    started: number,
    onText?: OnPiece,
  ): Promise<Generated> {
    let completion: LlamaCompletion | undefined;
    try {
      const bos = beginningToken(m.model);
      let tokens: Token[];
      // The template's end-of-turn triggers (special tokens) are node-llama-cpp's to match; the request's stop strings
      // are matched on the text (stop-text.ts).
      let stops: LlamaText[] = [];
      if (p.messages) {
        m.chat ??= chatFormatOf(m.model);
        const chat = renderChat(m.model, m.chat, p.messages, bos);
        tokens = chat.tokens;
        stops = chat.stops;
      } else {
        tokens = m.model.tokenize(p.prompt ?? '');
      }
      // The sequence is chosen by its cached tokens (the prompt cache), compared with the prompt as it will hold it.
      const { seq } = await take(bos === null ? tokens : [bos, ...tokens]);
      completion = new LlamaCompletion({ contextSequence: seq, autoDisposeSequence: false });
      // Counted as the context will hold it (with the token the completion puts first): a prompt that does not fit
      // is refused, never cut (node-llama-cpp would drop its start to make room).
      const promptTokens = tokens.length + (bos === null ? 0 : 1);
      const maxTokens = fitMaxTokens(p.maxTokens, promptTokens, m.spec.contextSize);
      let firstTokenMs = -1;
      const sampling = await samplingOf(m.model, this.grammars, { ...p, maxTokens });
      const stopStrings = withStops(p.stop, signal, onText);
      // Every sampled token, for the count and the logprobs (onToken and the sequence each miss some: token-logprobs.ts).
      const sampled: Token[] = [];
      const eog = m.model.tokens.eos ?? m.model.tokens.eot;
      const recording = recordSampled(seq, sampled, eog === null ? undefined : { max: maxTokens, eog });
      const res = await completion
        .generateCompletionWithMeta(tokens, {
          ...sampling,
          ...(stops.length ? { customStopTriggers: stops } : {}),
          // No context shift: the check above makes room for the whole answer, and nothing is ever dropped silently.
          contextShiftSize: 0,
          disableContextShift: true,
          ...stopStrings.options,
          onToken: (t) => {
            if (firstTokenMs < 0 && t.length > 0) firstTokenMs = performance.now() - started;
          },
        })
        .finally(() => recording.stop());
      if (signal.aborted) throw cancelledBy(signal);
      const end = stopStrings.finish();
      const reason = end.stopped ? 'stopString' : recording.limited ? 'maxTokens' : res.metadata.stopReason;
      if (reason === 'abort') throw errors.cancelled('generation');
      const text = end.text ?? res.response;
      let logprobs: TokenLogprob[] | undefined;
      // The answer's tokens: every one sampled but an end-of-generation token; with logprobs, one entry each, and
      // their pieces join to the text (a stop string's tokens and a last byte the text leaves out add '').
      const answer = generatedTokens(m.model, sampled);
      if (p.logprobs !== undefined) {
        // The sequence holds the input (with the token the completion put first) first.
        const input = seq.contextTokens.slice(0, promptTokens);
        logprobs = await tokenLogprobs(m.model, seq, input, answer, text, p.logprobs, signal, () =>
          cancelledBy(signal),
        );
      }
      return {
        ...(logprobs ? { logprobs } : {}),
        text,
        promptTokens,
        tokensGenerated: answer.length,
        finishReason: reason === 'maxTokens' ? 'length' : reason === 'eogToken' ? 'eos' : 'stop',
        computeMs: performance.now() - started,
        firstTokenMs,
      };
    } finally {
      completion?.dispose({ disposeSequence: false });
    }
  }

  /**
   * One vector per text, L2-normalised (OpenAI's embeddings are unit length; cosine similarity is then a dot product),
   * from the model's embedding context — made at its first embed, reported in createdBytes so the device counts it
   * in the model's ledger entry. Every text is tokenized and checked against the context first: a text that does not
   * fit is refused, never cut. The context has one sequence, so embeds of one model run one after another.
   */
  async embed(p: EmbedParams, signal: AbortSignal): Promise<EmbedOutcome> {
    const m = this.models.get(p.model);
    if (!m) throw errors.modelNotFound(p.model, [...this.models.keys()]);
    // An embedding context would run on the base's weights without the adapter: an answer that is not the adapter's.
    if (m.base)
      throw errors.invalidArgument(
        'model',
        `'${p.model}' is a LoRA adapter of '${m.base.spec.name}'; ask its base for embeddings`,
      );
    const limit = m.spec.contextSize;
    const inputs = p.texts.map((text, i) => {
      const tokens = m.model.tokenize(text);
      if (tokens.length + 1 > limit) {
        throw errors.invalidArgument(
          `input[${i}]`,
          `is ${tokens.length} tokens; model '${p.model}' embeds at most ${limit - 1} (its context of ${limit}); split the text`,
        );
      }
      return tokens;
    });
    let createdBytes = 0;
    if (!m.embedding) {
      m.embedding = m.model.createEmbeddingContext({ contextSize: limit, threads: this.threads });
      const ctx = await m.embedding.catch((err) => {
        m.embedding = undefined;
        throw errors.engineLoadFailed(p.model, m.file.shown, `its embedding context: ${(err as Error).message}`);
      });
      // Not in node-llama-cpp's typings: the embedding context's own llama context, which knows its memory.
      const usage = (ctx as unknown as { _llamaContext?: LlamaContext })._llamaContext?.memoryUsage;
      createdBytes = usage ? usage.ram + usage.vram : -1;
    }
    const ctx = await m.embedding;
    const run = async (): Promise<EmbedOutcome> => {
      const embeddings: number[][] = [];
      for (const tokens of inputs) {
        if (signal.aborted) throw signal.reason instanceof MocError ? signal.reason : errors.cancelled('embedding');
        const v = (await ctx.getEmbeddingFor(tokens)).vector;
        const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
        embeddings.push(Array.from(v, (x) => x / norm));
      }
      return { embeddings, tokens: inputs.reduce((n, t) => n + t.length, 0), createdBytes };
    };
    const result = (m.embedTail ?? Promise.resolve()).then(run, run);
    m.embedTail = result.catch(() => {});
    return result;
  }

  /**
   * Score texts under the model, deterministically (no sampling): for each text, the natural-log probability of every
   * token given the tokens before it, on one free sequence of the model's context, cleared before each text and
   * returned clean. Every text is tokenized and checked against the context before any is evaluated. With
   * `prefixes`, text i is scored after prefixes[i] (a preference pair's answer after its prompt): prefix + text is
   * evaluated once and only the text's tokens are summed and counted (scoredFrom says where they start) — one pass,
   * and no difference of two large sums (ln p(prompt + answer) − ln p(prompt)) that would lose the answer's few terms
   * in rounding and depend on the prompt's tokens being a prefix of the whole's.
   *
   * How the full log-softmax of the actual next token is obtained: node-llama-cpp's `evaluateWithMetadata` /
   * `probabilities: true` would ship the whole vocabulary's probabilities per token (a Map of 32k–150k entries, sorted
   * natively), far too heavy per token. Instead `controlledEvaluate` is asked, for each token i, for
   *   - `totalLogitWeight`: W = Σ_v exp(logit_v − maxLogit), computed natively over the whole vocabulary;
   *   - `logits` filtered to the actual next token t[i+1] plus the selected token (`includeSelected`).
   * With `temperature: 0` node-llama-cpp's sampler chain is llama.cpp's greedy sampler alone (no top-k/p, no penalty,
   * no bias: the logits stay raw), and greedy selects the arg-max, so the selected token's logit is maxLogit. Then
   *   ln p(t[i+1] | t[0..i]) = logit(t[i+1]) − maxLogit − ln W,
   * exact, with no sort and two numbers back per token. (`includeMax` would name maxLogit directly, but node-llama-cpp
   * 3.x only adds it when the max token is already in the filter; `confidence` and `includeTop` sort the vocabulary.)
   *
   * Deterministic: the same text on the same model gives the same numbers (chunks are fixed, nothing is sampled). An
   * evaluation batched with concurrent generations on other sequences may differ in the last bits of the floats, as
   * llama.cpp's kernels may accumulate differently for other batch sizes.
   */
  async evaluate(p: EvaluateParams, signal: AbortSignal): Promise<EvaluateOutcome> {
    const m = this.models.get(p.model);
    if (!m) throw errors.modelNotFound(p.model, [...this.models.keys()]);
    const started = performance.now();
    const begin = beginningToken(m.model);
    const limit = m.spec.contextSize;
    const withBegin = (tokens: Token[]) => (begin !== null ? [begin, ...tokens] : tokens);
    const inputs = p.texts.map((text, i) => {
      const prefix = p.prefixes?.[i] ?? '';
      const all = withBegin(m.model.tokenize(prefix + text));
      if (all.length > limit) {
        throw errors.invalidArgument(
          `texts[${i}]`,
          `is ${all.length} tokens${prefix !== '' ? ' with its prefix' : ''}${begin !== null ? ' (with the BOS token)' : ''}, more than the model's context of ${limit} tokens; split it into texts of at most ${limit} tokens`,
        );
      }
      // The first scored token: after BOS, and after the prefix's tokens (see scoredFrom for the boundary).
      const from = Math.max(1, prefix === '' ? 0 : scoredFrom(withBegin(m.model.tokenize(prefix)), all));
      return { tokens: all, from };
    });
    if (!inputs.some((t) => t.tokens.length > t.from)) {
      throw errors.invalidArgument(
        'texts',
        'no text has a token to score (each is a single token and the model prepends no BOS); send longer texts',
      );
    }
    // An evaluation uses no cache (each text is scored on a cleared sequence): the pool hands it an empty sequence, or
    // the least recently used one, so the prefixes kept for generations are dropped last.
    const aborted = () => (signal.reason instanceof MocError ? signal.reason : errors.cancelled('evaluation'));
    const { seq } = await m.pool.take([], undefined, signal, aborted);
    try {
      const perText: Array<{ tokens: number; sumLogProb: number }> = [];
      for (const { tokens, from } of inputs) {
        if (signal.aborted) throw aborted();
        await seq.clearHistory();
        perText.push({
          tokens: Math.max(0, tokens.length - from),
          sumLogProb: await scoreTokens(seq, tokens, from, signal, aborted),
        });
      }
      const tokens = perText.reduce((n, x) => n + x.tokens, 0);
      const sumLogProb = perText.reduce((n, x) => n + x.sumLogProb, 0);
      const meanLogProb = sumLogProb / tokens;
      return {
        tokens,
        sumLogProb,
        meanLogProb,
        perplexity: Math.exp(-meanLogProb),
        perText,
        computeMs: performance.now() - started,
      };
    } catch (err) {
      if (signal.aborted) throw aborted();
      throw err;
    } finally {
      // The sequence goes back clean: the next request must not see these tokens.
      await m.pool.give(seq, undefined, false);
    }
  }

  async dispose(): Promise<void> {
    for (const name of [...this.models.keys()]) await this.unload(name);
    await this.llama.dispose();
  }
}

/**
 * The token node-llama-cpp's completion puts before a text (llama.cpp's rules: BOS when the tokenizer asks for it, or
 * always for WPM; none for RWKV and UGM), so an evaluation scores a text as a generation would see it as a prompt.
 */
export function beginningToken(model: LlamaModel): Token | null {
  const type = model.vocabularyType;
  if (type === LlamaVocabularyType.rwkv || type === LlamaVocabularyType.ugm) return null;
  if (type === LlamaVocabularyType.wpm) return model.tokens.bos;
  return model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
}

/**
 * Where a text's scored tokens start when it is scored after a prefix: the length of the longest common prefix of the
 * prefix's tokens and the tokens of prefix + text, both as the model reads them (BOS included).
 *
 * Why one tokenization of prefix + text rather than the prefix's and the text's tokens joined: the model is scored on
 * the text as it would read it (a generation after that prompt sees these tokens), and a tokenizer may merge across
 * the boundary (a prompt ending in a space before a word, for BPE). Usually the prefix's tokens are all shared and the
 * score is exactly ln p(text | prefix). When the boundary merged, the scored tokens start at the first one that
 * differs, so they cover the last characters of the prefix as well: the score is then ln p(prefix + text) − ln p(the
 * shared tokens), which is still what a comparison of two texts after one prefix needs (the shared tokens' terms are
 * the same for both and cancel in a difference).
 */
export function scoredFrom(prefixTokens: readonly Token[], allTokens: readonly Token[]): number {
  let k = 0;
  while (k < prefixTokens.length && k < allTokens.length && prefixTokens[k] === allTokens[k]) k++;
  return k;
}

/**
 * Σ ln p(tokens[j] | tokens[0..j-1]) for j from `from` on, on a cleared sequence: tokens[0..n-2] are decoded (the last
 * is only a target), EVALUATE_CHUNK_TOKENS at a time, the signal checked between chunks; logits are asked for only
 * where a scored token is the target. See EngineCore.evaluate for the formula.
 */
async function scoreTokens(
  seq: LlamaContextSequence,
  tokens: Token[],
  from: number,
  signal: AbortSignal,
  aborted: () => Error,
): Promise<number> {
  let sum = 0;
  if (from >= tokens.length) return sum;
  for (let start = 0; start < tokens.length - 1; start += EVALUATE_CHUNK_TOKENS) {
    if (signal.aborted) throw aborted();
    const end = Math.min(start + EVALUATE_CHUNK_TOKENS, tokens.length - 1);
    const input: ControlledEvaluateInputItem[] = [];
    for (let i = start; i < end; i++) {
      if (i + 1 < from) {
        input.push(tokens[i]!);
        continue;
      }
      input.push([
        tokens[i]!,
        {
          generateNext: {
            logits: { filter: { tokens: [tokens[i + 1]!], includeSelected: true } },
            totalLogitWeight: true,
            options: { temperature: 0 },
          },
        },
      ]);
    }
    const out = await seq.controlledEvaluate(input);
    for (let i = Math.max(start, from - 1); i < end; i++) {
      const next = out[i - start]?.next;
      const target = next?.logits?.get(tokens[i + 1]!);
      const weight = next?.totalLogitWeight;
      if (target === undefined || weight === undefined || !(weight >= 1) || !next?.logits) {
        throw errors.internal(
          `evaluate: llama.cpp returned no usable logits for token ${i + 1} (logit ${target}, weight ${weight})`,
        );
      }
      // The map holds the target and the greedy (arg-max) token: its largest value is the context's max logit.
      let maxLogit = -Infinity;
      for (const v of next.logits.values()) if (v > maxLogit) maxLogit = v;
      sum += target - maxLogit - Math.log(weight);
    }
  }
  return sum;
}

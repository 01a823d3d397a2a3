/**
 * The engine: node-llama-cpp (llama.cpp) with one context per model and a pool of that context's sequences.
 * Concurrent generations run on different sequences of one context, and node-llama-cpp evaluates all active
 * sequences in one batch per step: that is where throughput comes from (FACTS: 8 sequences ≈ 2.7x one).
 * Used inside the engine child process (engine-process.ts) and in-process by perf/raw-engine.ts.
 */
import { getLlama, LlamaCompletion, readGgufFileInfo, GgufInsights, LlamaLogLevel,
  type Llama, type LlamaModel, type LlamaContext, type LlamaContextSequence } from 'node-llama-cpp';
import { errors, MocError } from '../../src/errors.js';
import type { EngineFaults, EngineModel, Estimate, EngineStart, GenerateOutcome, GenerateParams, Loaded } from './engine-protocol.js';
import { ggufProblem, openModelFile, type OpenedModelFile } from './model-file.js';

/** The answer to a load or estimate cancelled by the device (its timeout passed): nothing of it stays loaded. */
const cancelledLoad = (spec: EngineModel, what: 'load' | 'estimate') => errors.loadCancelled(spec.name, what);

interface LoadedModel {
  spec: EngineModel;
  model: LlamaModel;
  context: LlamaContext;
  free: LlamaContextSequence[];
  /**
   * The checked descriptor, open while the model is: node-llama-cpp may re-open its path (/proc/self/fd/N) after the
   * load, and must find the same inode there, not a closed or reused descriptor.
   */
  file: OpenedModelFile;
}

export class EngineCore {
  private readonly models = new Map<string, LoadedModel>();

  private faults: EngineFaults;

  private constructor(private readonly llama: Llama, private readonly threads: number, faults: EngineFaults = {}) {
    this.faults = { ...faults };
  }

  static async create(o: EngineStart): Promise<EngineCore> {
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
    let info;
    try {
      info = await readGgufFileInfo(file.path, { readTensorInfo: true, sourceType: 'filesystem', logWarnings: false, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted) throw cancelledLoad(spec, 'estimate');
      // Refused here, from the header alone, before llama.cpp ever maps the file.
      throw errors.modelFileRefused(spec.name, file.shown, `${ggufProblem(err) ?? 'is not a readable GGUF file'}; register a valid GGUF file`);
    }
    const insights = await GgufInsights.from(info, this.llama);
    const gpuLayers = this.llama.gpu === false ? 0 : insights.totalLayers;
    const m = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
    const c = await insights.estimateContextResourceRequirementsV2({
      contextSize: spec.contextSize, sequences: spec.sequences, modelGpuLayers: gpuLayers,
    });
    const weightsBytes = m.cpuRam + m.gpuVram;
    const contextBytes = c.cpuRam + c.gpuVram;
    return { weightsBytes, contextBytes, totalBytes: weightsBytes + contextBytes, trainContextSize: insights.trainContextSize ?? 0 };
  }

  /**
   * Load a model and its context. A cancelled load (its timeout passed on the device) never stays loaded: the signal
   * aborts node-llama-cpp where it can, and a load that completes anyway is disposed before it answers.
   */
  async load(spec: EngineModel, signal?: AbortSignal): Promise<Loaded> {
    if (this.models.has(spec.name)) throw errors.loadedInEngine(spec.name);
    const file = openModelFile(spec);
    let model: LlamaModel | undefined;
    let context: LlamaContext | undefined;
    try {
      model = await this.llama.loadModel({ modelPath: file.path, ...(signal ? { loadSignal: signal } : {}) });
      context = await model.createContext({
        contextSize: spec.contextSize, sequences: spec.sequences, threads: this.threads, ...(signal ? { createSignal: signal } : {}),
      });
      const slow = this.faults.slowLoad;
      if (slow && slow.model === spec.name) {
        this.faults = {}; // once
        await new Promise((r) => setTimeout(r, slow.ms));
      }
      if (signal?.aborted) throw cancelledLoad(spec, 'load');
      const free = Array.from({ length: spec.sequences }, () => context!.getSequence());
      this.models.set(spec.name, { spec, model, context, free, file });
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

  async unload(name: string): Promise<void> {
    const m = this.models.get(name);
    if (!m) return;
    this.models.delete(name);
    await m.context.dispose();
    await m.model.dispose();
    m.file.close();
  }

  /** Run one generation on a free sequence of the model's context. The caller (device scheduler) keeps count. */
  async generate(p: GenerateParams, signal: AbortSignal, onText?: (text: string) => void): Promise<GenerateOutcome> {
    const m = this.models.get(p.model);
    if (!m) throw errors.modelNotFound(p.model, [...this.models.keys()]);
    const seq = m.free.pop();
    if (!seq) throw errors.busy(`sequences of ${p.model}`, m.spec.sequences);
    const started = performance.now();
    const completion = new LlamaCompletion({ contextSequence: seq, autoDisposeSequence: false });
    try {
      const tokens = m.model.tokenize(p.prompt);
      if (tokens.length + p.maxTokens > m.spec.contextSize) {
        throw errors.invalidArgument('max_tokens',
          `prompt (${tokens.length} tokens) + max_tokens (${p.maxTokens}) exceeds the model's context of ${m.spec.contextSize} tokens; shorten the prompt or lower max_tokens`);
      }
      let generated = 0;
      const res = await completion.generateCompletionWithMeta(tokens, {
        maxTokens: p.maxTokens,
        temperature: p.temperature,
        ...(p.seed !== undefined ? { seed: p.seed } : {}),
        ...(p.stop.length ? { customStopTriggers: p.stop } : {}),
        signal,
        onToken: (t) => { generated += t.length; },
        ...(onText ? { onTextChunk: onText } : {}),
      });
      const reason = res.metadata.stopReason;
      if (reason === 'abort') throw signal.reason instanceof MocError ? signal.reason : errors.cancelled('generation');
      return {
        text: res.response,
        promptTokens: tokens.length,
        // onToken does not see byte tokens that never complete a UTF-8 character (common with the byte-level demo
        // model), so it can undercount; a length stop means exactly maxTokens were sampled.
        tokensGenerated: reason === 'maxTokens' ? p.maxTokens : generated,
        finishReason: reason === 'maxTokens' ? 'length' : reason === 'eogToken' ? 'eos' : 'stop',
        computeMs: performance.now() - started,
      };
    } catch (err) {
      if (signal.aborted) throw signal.reason instanceof MocError ? signal.reason : errors.cancelled('generation');
      throw err;
    } finally {
      completion.dispose({ disposeSequence: false });
      // The sequence goes back clean: the next request must not see this one's tokens.
      await seq.clearHistory().catch(() => {});
      if (this.models.get(p.model) === m) m.free.push(seq);
    }
  }

  async dispose(): Promise<void> {
    for (const name of [...this.models.keys()]) await this.unload(name);
    await this.llama.dispose();
  }
}

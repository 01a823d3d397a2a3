/**
 * Where the engine's CPU goes (issue 25): node-llama-cpp alone on one model, `sequences` concurrent generations of
 * `max-tokens` tokens from one prompt, repeated; prints completions/s, this process's CPU ms per completion, and what
 * each llama_decode held: decode calls, tokens per call, and the ubatches llama.cpp splits each call into.
 *
 * Why ubatches: node-llama-cpp creates its contexts with `kv_unified = false` (AddonContext.cpp), so a context of
 * N sequences has N KV streams, and llama.cpp splits a batch for such a cache with `split_equal(n_ubatch,
 * sequential = true)` (llama-kv-cache.cpp, llama-batch.cpp): one ubatch takes sequences only in increasing,
 * consecutive id order as they come in the batch (0,1,2 but not 0,2 or 2,1), and the same number of tokens from each.
 * Every ubatch is a pass over all the weights. This script replays that split on every batch node-llama-cpp builds
 * (wrapping the context's native initBatch/addToBatch/decodeBatch), so the count is llama.cpp's, not a guess.
 *
 *   npx tsx perf/engine-batches.ts MODEL.gguf [--seconds 10] [--sequences 8] [--max-tokens 8] [--prompt 'hi there']
 *       [--threads 1] [--flash auto|true|false] [--batch N] [--order queue|sequence|lockstep] [--mode evaluate|completion|engine]
 *       [--context 2048]
 *
 * --order sequence keeps node-llama-cpp's queue of decodes sorted by sequence id (what engine-core.ts does, see
 * batch-order.ts); --mode completion generates through LlamaCompletion, as engine-core.ts does, instead of the bare
 * `sequence.evaluate` loop; --mode engine runs EngineCore itself (as the engine process does: its context, its
 * batching, its sequence pool and prompt cache, under --scope) on the same model.
 */
import { parseArgs } from 'node:util';
import { getLlama, LlamaCompletion, LlamaLogLevel, type LlamaContext, type LlamaModel } from 'node-llama-cpp';
import { orderDecodesBySequence } from '../actors/device/batch-order.js';
import { EngineCore } from '../actors/device/engine-core.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '10' },
    sequences: { type: 'string', default: '8' },
    'max-tokens': { type: 'string', default: '8' },
    prompt: { type: 'string', default: 'hi there' },
    threads: { type: 'string', default: '1' },
    flash: { type: 'string', default: 'auto' },
    batch: { type: 'string' },
    order: { type: 'string', default: 'queue' },
    mode: { type: 'string', default: 'evaluate' },
    context: { type: 'string', default: '2048' },
    scope: { type: 'string', default: 'bench' },
  },
});
const file = positionals[0];
if (!file) throw new Error('usage: perf/engine-batches.ts MODEL.gguf [options]');
const sequences = Number(values.sequences);
const maxTokens = Number(values['max-tokens']);
const flash = values.flash === 'auto' ? 'auto' : values.flash === 'true';

/** llama.cpp's split_equal(n_ubatch, sequential = true) over a batch of [sequence id, token count] runs, in order. */
export function ubatchesOf(batch: Array<[number, number]>, nUbatch: number): number {
  const left = batch.map(([seq, n]) => ({ seq, n }));
  let count = 0;
  for (;;) {
    const chosen: typeof left = [];
    for (const item of left) {
      if (item.n === 0) continue;
      const last = chosen[chosen.length - 1];
      if (chosen.some((c) => c.seq === item.seq)) continue;
      if (last === undefined || item.seq === last.seq + 1) chosen.push(item);
    }
    if (chosen.length === 0) return count;
    const each = Math.max(1, Math.min(Math.min(...chosen.map((c) => c.n)), Math.floor(nUbatch / chosen.length)));
    for (const c of chosen) c.n -= each;
    count++;
  }
}

interface Native {
  initBatch(n: number): void;
  addToBatch(seq: number, first: number, tokens: Uint32Array, logits: Uint32Array): Uint32Array;
  decodeBatch(): Promise<void>;
}

/** Counts what each decode held, by wrapping the context's native calls. */
function watch(context: LlamaContext, nUbatch: number) {
  const ctx = (context as unknown as { _ctx: Native })._ctx;
  const stats = { decodes: 0, tokens: 0, ubatches: 0, sequencesPerDecode: 0 };
  /** How often each batch shape was decoded: "sequences generating+sequences in their prompt", e.g. "7+1". */
  const shapes = new Map<string, number>();
  let current: Array<[number, number]> = [];
  const init = ctx.initBatch.bind(ctx);
  const add = ctx.addToBatch.bind(ctx);
  const decode = ctx.decodeBatch.bind(ctx);
  // The native methods are read-only on their prototype: shadowed on this instance.
  const shadow = <K extends keyof Native>(name: K, value: Native[K]) =>
    Object.defineProperty(ctx, name, { value, configurable: true, writable: true });
  shadow('initBatch', (n) => {
    current = [];
    init(n);
  });
  shadow('addToBatch', (seq, first, tokens, logits) => {
    current.push([seq, tokens.length]);
    return add(seq, first, tokens, logits);
  });
  shadow('decodeBatch', () => {
    stats.decodes++;
    stats.tokens += current.reduce((n, [, k]) => n + k, 0);
    stats.sequencesPerDecode += current.length;
    stats.ubatches += ubatchesOf(current, nUbatch);
    if (measuringShapes) {
      const shape = `${current.filter(([, k]) => k === 1).length}+${current.filter(([, k]) => k > 1).length}`;
      shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
    }
    return decode();
  });
  return { stats, shapes };
}

const engine = values.mode === 'engine';
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
const core = engine ? await EngineCore.create({ threads: Number(values.threads), gpu: 'cpu' }) : undefined;
await core?.load({ name: 'm', path: file, contextSize: Number(values.context), sequences });
const model = engine
  ? (core as unknown as { models: Map<string, { model: LlamaModel }> }).models.get('m')!.model
  : await llama.loadModel({ modelPath: file });
// --mode engine: EngineCore's own context, with whatever batching it sets (--order is then ignored).
const context = engine
  ? (core as unknown as { models: Map<string, { context: LlamaContext }> }).models.get('m')!.context
  : await model.createContext({
      contextSize: Number(values.context),
      sequences,
      threads: Number(values.threads),
      flashAttention: flash,
      ...(values.batch ? { batchSize: Number(values.batch) } : {}),
    });
if (!engine && values.order !== 'queue') orderDecodesBySequence(context, { waitTurn: values.order === 'lockstep' });
const { stats, shapes } = watch(context, context.batchSize);
const free = engine ? [] : Array.from({ length: sequences }, () => context.getSequence());
const tokens = model.tokenize(values.prompt);

const signal = new AbortController().signal;

async function one(): Promise<void> {
  if (core) {
    // As the OpenAI completions endpoint asks (no logprobs), with the prompt cache on for one caller.
    const p = { model: 'm', prompt: values.prompt, maxTokens, temperature: 0, stop: [], stream: false };
    await core.generate({ ...p, cacheScope: values.scope }, signal);
    return;
  }
  const seq = free.pop()!;
  try {
    if (values.mode === 'completion') {
      const completion = new LlamaCompletion({ contextSequence: seq, autoDisposeSequence: false });
      try {
        await completion.generateCompletion(tokens, { maxTokens, temperature: 0 });
      } finally {
        completion.dispose({ disposeSequence: false });
      }
    } else {
      let n = 0;
      for await (const t of seq.evaluate(tokens, { temperature: 0 })) {
        if (model.isEogToken(t) || ++n >= maxTokens) break;
      }
    }
  } finally {
    await seq.clearHistory();
    free.push(seq);
  }
}

let done = 0;
let stop = false;
let measuring = false;
let measuringShapes = false;
const worker = async () => {
  while (!stop) {
    await one();
    if (measuring) done++;
  }
};
const workers = Array.from({ length: sequences }, worker);
await new Promise((r) => setTimeout(r, 1000));
measuring = true;
measuringShapes = true;
const snapshot = { ...stats };
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
measuring = false;
measuringShapes = false;
stop = true;
const delta = Object.fromEntries(
  Object.entries(stats).map(([k, v]) => [k, v - snapshot[k as keyof typeof snapshot]]),
) as typeof stats;
await Promise.all(workers);
const r = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const cpuMs = (cpu.user + cpu.system) / 1000;
console.log(
  JSON.stringify({
    script: 'perf/engine-batches',
    mode: values.mode,
    order: engine ? 'engine-core' : values.order,
    flash,
    batch: context.batchSize,
    threads: Number(values.threads),
    prompt_tokens: tokens.length,
    completions_per_s: r(done / (wall / 1000)),
    cpu_ms_per_completion: r(cpuMs / done),
    cpu_cores: r(cpuMs / wall),
    decodes_per_completion: r(delta.decodes / done),
    tokens_per_decode: r(delta.tokens / delta.decodes),
    sequences_per_decode: r(delta.sequencesPerDecode / delta.decodes),
    ubatches_per_completion: r(delta.ubatches / done),
    ubatches_per_decode: r(delta.ubatches / delta.decodes),
    top_shapes: Object.fromEntries([...shapes].sort((a, b) => b[1] - a[1]).slice(0, 6)),
  }),
);
if (core) await core.dispose();
else {
  await context.dispose();
  await model.dispose();
}
await llama.dispose();

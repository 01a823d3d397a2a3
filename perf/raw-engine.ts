/**
 * Baselines, in this process (no actors, no IPC, no gRPC), same model, prompt, token count and sequences as
 * perf/grpc-load:
 *   - the bare loop: node-llama-cpp's `sequence.evaluate` on the sequences of one context, greedy, stopping at
 *     max tokens or an end-of-generation token — no LlamaCompletion, nothing of ours: the limit of this machine;
 *   - EngineCore: the project's engine (LlamaCompletion, its checks and bookkeeping), as the engine process runs it.
 * Prints one JSON line with both, for the short and the long prompt.
 *   npx tsx perf/raw-engine.ts [--concurrency 8] [--duration 10000] [--max-tokens 8] [--threads 1]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { EngineCore } from '../actors/device/engine-core.js';
import { writeTinyLlamaGguf } from '../src/model/demo-model.js';
import { arg, closedLoop, type LoadResult } from './lib/closed-loop.js';

export const PERF_PROMPT = 'The quick brown fox jumps over the lazy dog';
/** The short prompt of issue 12's figures: the per-completion cost without much prompt evaluation. */
export const SHORT_PROMPT = 'hi there';

type Options = { concurrency: number; durationMs: number; maxTokens: number; threads: number; prompt?: string };

/** The bare loop (see the header): what the machine can do with this model, prompt and sequences. */
export async function measureBareLoop(o: Options): Promise<LoadResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-perf-'));
  const file = path.join(dir, 'model.gguf');
  await writeTinyLlamaGguf(file);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: file });
  const context = await model.createContext({ contextSize: 512, sequences: o.concurrency, threads: o.threads });
  const free = Array.from({ length: o.concurrency }, () => context.getSequence());
  const tokens = model.tokenize(o.prompt ?? PERF_PROMPT);
  try {
    return await closedLoop(
      async () => {
        const seq = free.pop()!;
        let n = 0;
        try {
          for await (const token of seq.evaluate(tokens, { temperature: 0 })) {
            if (model.isEogToken(token)) break;
            if (++n >= o.maxTokens) break;
          }
        } finally {
          await seq.clearHistory();
          free.push(seq);
        }
        return { tokens: n };
      },
      { concurrency: o.concurrency, durationMs: o.durationMs, warmupMs: 1000, codeOf: (e) => (e as Error).message },
    );
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function measureRawEngine(o: Options): Promise<LoadResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-perf-'));
  const file = path.join(dir, 'model.gguf');
  await writeTinyLlamaGguf(file);
  const core = await EngineCore.create({ threads: o.threads, gpu: 'cpu' });
  try {
    await core.load({ name: 'm', path: file, contextSize: 512, sequences: o.concurrency });
    const signal = new AbortController().signal;
    return await closedLoop(
      async () => {
        const r = await core.generate(
          {
            model: 'm',
            prompt: o.prompt ?? PERF_PROMPT,
            maxTokens: o.maxTokens,
            temperature: 0,
            stop: [],
            stream: false,
          },
          signal,
        );
        return { tokens: r.tokensGenerated };
      },
      {
        concurrency: o.concurrency,
        durationMs: o.durationMs,
        warmupMs: 1000,
        codeOf: (e) => (e as { code?: string }).code ?? 'UNKNOWN',
      },
    );
  } finally {
    await core.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const o = {
    concurrency: Number(arg('concurrency', '8')),
    durationMs: Number(arg('duration', '10000')),
    maxTokens: Number(arg('max-tokens', '8')),
    threads: Number(arg('threads', '1')),
  };
  const out: Record<string, unknown> = { scenario: 'raw-engine', ...o };
  for (const [name, prompt] of [
    ['long_prompt', PERF_PROMPT],
    ['short_prompt', SHORT_PROMPT],
  ] as const) {
    const bare = await measureBareLoop({ ...o, prompt });
    const core = await measureRawEngine({ ...o, prompt });
    out[name] = {
      prompt,
      bare_loop: bare,
      engine_core: core,
      engine_core_vs_bare: Math.round((core.rps / bare.rps) * 1000) / 1000,
    };
  }
  console.log(JSON.stringify(out));
}

/**
 * Baseline: the engine alone, in this process (node-llama-cpp, no actors, no IPC, no gRPC), same model, prompt,
 * token count and sequences as perf/grpc-load. Prints one JSON line.
 *   npx tsx perf/raw-engine.ts [--concurrency 8] [--duration 10000] [--max-tokens 8] [--threads 1]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EngineCore } from '../actors/device/engine-core.js';
import { writeTinyLlamaGguf } from '../src/model/demo-model.js';
import { arg, closedLoop, type LoadResult } from './lib/closed-loop.js';

export const PERF_PROMPT = 'The quick brown fox jumps over the lazy dog';

export async function measureRawEngine(o: { concurrency: number; durationMs: number; maxTokens: number; threads: number }): Promise<LoadResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-perf-'));
  const file = path.join(dir, 'model.gguf');
  await writeTinyLlamaGguf(file);
  const core = await EngineCore.create({ threads: o.threads, gpu: 'cpu' });
  try {
    await core.load({ name: 'm', path: file, contextSize: 512, sequences: o.concurrency });
    const signal = new AbortController().signal;
    return await closedLoop(async () => {
      const r = await core.generate({ model: 'm', prompt: PERF_PROMPT, maxTokens: o.maxTokens, temperature: 0, stop: [], stream: false }, signal);
      return { tokens: r.tokensGenerated };
    }, { concurrency: o.concurrency, durationMs: o.durationMs, warmupMs: 1000, codeOf: (e) => (e as { code?: string }).code ?? 'UNKNOWN' });
  } finally {
    await core.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const o = { concurrency: Number(arg('concurrency', '8')), durationMs: Number(arg('duration', '10000')), maxTokens: Number(arg('max-tokens', '8')), threads: Number(arg('threads', '1')) };
  console.log(JSON.stringify({ scenario: 'raw-engine', ...o, ...(await measureRawEngine(o)) }));
}

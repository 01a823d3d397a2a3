/**
 * What the engine child process costs: the same workload on EngineCore in this process and through the engine
 * child process (EngineClient, Node IPC), measured in one run. Prints one JSON line with both and their ratio.
 *   npx tsx perf/engine-hop.ts [--concurrency 8] [--duration 8000] [--max-tokens 8]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EngineClient } from '../actors/device/engine-client.js';
import { writeTinyLlamaGguf } from '../src/model/demo-model.js';
import { arg, closedLoop } from './lib/closed-loop.js';
import { measureRawEngine, PERF_PROMPT } from './raw-engine.js';

const concurrency = Number(arg('concurrency', '8'));
const durationMs = Number(arg('duration', '8000'));
const maxTokens = Number(arg('max-tokens', '8'));

const inProcess = await measureRawEngine({ concurrency, durationMs, maxTokens, threads: 1 });

const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-hop-'));
const file = path.join(dir, 'model.gguf');
await writeTinyLlamaGguf(file);
const engine = await EngineClient.start({
  device: 'perf',
  env: {},
  start: { device: 'perf', threads: 1, gpu: 'cpu', log: { level: 'info', sensitive: false } },
  startTimeoutMs: 60_000,
});
try {
  await engine.load({ name: 'm', path: file, contextSize: 512, sequences: concurrency }, 60_000);
  const signal = new AbortController().signal;
  const childProcess = await closedLoop(
    async () => {
      const r = await engine.generate(
        { model: 'm', prompt: PERF_PROMPT, maxTokens, temperature: 0, stop: [], stream: false },
        60_000,
        signal,
      );
      return { tokens: r.tokensGenerated };
    },
    { concurrency, durationMs, warmupMs: 1000, codeOf: (e) => (e as { code?: string }).code ?? 'UNKNOWN' },
  );
  console.log(
    JSON.stringify({
      scenario: 'engine-hop',
      concurrency,
      durationMs,
      maxTokens,
      inProcess,
      childProcess,
      ratio: Math.round((childProcess.rps / inProcess.rps) * 1000) / 1000,
      addedP50Ms: Math.round((childProcess.p50 - inProcess.p50) * 100) / 100,
    }),
  );
} finally {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}

/**
 * Coordinator throughput over gRPC against the raw engine, measured in the same run. Prints one JSON line:
 * the coordinator's rps / p50 / p95 / p99 / errors by code, the raw engine's, and their ratio.
 *   npx tsx perf/grpc-load.ts [--concurrency 100] [--duration 10000] [--max-tokens 8] [--address host:port] [--no-baseline]
 * Without --address it starts its own coordinator (zero config, demo model, 8 sequences) in a child process.
 */
import * as grpc from '@grpc/grpc-js';
import { modelOpsClient } from '../src/transports/grpc/proto.js';
import { arg, closedLoop } from './lib/closed-loop.js';
import { spawnServer } from './lib/spawn-server.js';
import { measureRawEngine, PERF_PROMPT } from './raw-engine.js';

const concurrency = Number(arg('concurrency', '100'));
const durationMs = Number(arg('duration', '10000'));
const maxTokens = Number(arg('max-tokens', '8'));
const model = arg('model', 'moc-demo');
const baseline = !process.argv.includes('--no-baseline');

// The raw engine first, alone on the machine, with the coordinator's 8 sequences.
const rawEngine = baseline ? await measureRawEngine({ concurrency: 8, durationMs, maxTokens, threads: 1 }) : null;

const server = process.argv.includes('--address') ? null : await spawnServer();
const address = server?.grpcAddress ?? arg('address', '127.0.0.1:7212');
const client = modelOpsClient(address);
const codeOf = (e: unknown) => {
  const err = e as grpc.ServiceError;
  return err.metadata?.get('moc-error-code')[0]?.toString() ?? grpc.status[err.code] ?? 'UNKNOWN';
};
try {
  const coordinator = await closedLoop(() => new Promise((resolve, reject) => {
    client.Infer({ model, prompt: PERF_PROMPT, max_tokens: maxTokens, temperature: 0 }, { deadline: Date.now() + 60_000 },
      (err: grpc.ServiceError | null, res: any) => (err ? reject(err) : resolve({ tokens: res.tokens_generated })));
  }), { concurrency, durationMs, warmupMs: 2000, codeOf });
  console.log(JSON.stringify({
    scenario: 'grpc-load', concurrency, durationMs, maxTokens, coordinator, rawEngine,
    ratio: rawEngine ? Math.round((coordinator.rps / rawEngine.rps) * 1000) / 1000 : null,
  }));
} finally {
  client.close();
  await server?.stop();
}

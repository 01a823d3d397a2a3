/**
 * Coordinator throughput over gRPC against the limit measured in the same run — the bare node-llama-cpp loop on the
 * same model, prompt, tokens and 8 sequences (perf/raw-engine.ts) — and against the project's EngineCore alone, for
 * the long and the short prompt. Prints one JSON line: per prompt, the coordinator's rps / p50 / p95 / p99 / errors by
 * code, the bare loop's and EngineCore's, and the ratios; the cores used during the coordinator's run by the load
 * generator, the coordinator without its engine, and the engine; and the bare loop once more beside a CPU load of the
 * first two (perf/lib/cpu-load.ts): the engine's ceiling on this machine with that much else running.
 *   npx tsx perf/grpc-load.ts [--concurrency 100] [--duration 10000] [--max-tokens 8] [--address host:port] [--no-baseline]
 * Without --address it starts its own coordinator (zero config, demo model, 8 sequences) in a child process.
 */
import type * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { modelOpsClient } from '../src/transports/grpc/proto.js';
import { arg, closedLoop } from './lib/closed-loop.js';
import { spawnServer } from './lib/spawn-server.js';
import { grpcCode } from './lib/grpc-code.js';
import { measureBareLoop, measureRawEngine, PERF_PROMPT, SHORT_PROMPT } from './raw-engine.js';
import { startCpuLoad } from './lib/cpu-load.js';
import { cpuMs, ownCpuMs } from './lib/proc.js';

const concurrency = Number(arg('concurrency', '100'));
const durationMs = Number(arg('duration', '10000'));
const maxTokens = Number(arg('max-tokens', '8'));
const model = arg('model', 'moc-demo');
const baseline = !process.argv.includes('--no-baseline');

const server = process.argv.includes('--address') ? null : await spawnServer();
const address = server?.grpcAddress ?? arg('address', '127.0.0.1:7212');
const client = modelOpsClient(address);
/** ListModels on the coordinator against a bare grpc-js server answering the same message (perf/lib/grpc-bare-server.ts). */
async function listModels(): Promise<Record<string, unknown>> {
  const answer = await new Promise((resolve, reject) =>
    client.ListModels({}, { deadline: Date.now() + 10_000 }, (e: Error | null, r: unknown) =>
      e ? reject(e) : resolve(r),
    ),
  );
  const bare = spawn(
    process.execPath,
    [
      `--import=${import.meta.resolve('tsx')}`,
      fileURLToPath(new URL('./lib/grpc-bare-server.ts', import.meta.url)),
      '--answer',
      JSON.stringify(answer),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: bare.stdout! }).once('line', (l) => resolve(JSON.parse(l).port));
      bare.once('exit', (c) => reject(new Error(`bare grpc-js exited (${c})`)));
    });
    const loop = (c: grpc.Client & Record<string, any>) =>
      closedLoop(
        () =>
          new Promise((resolve, reject) => {
            c.ListModels({}, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null) =>
              err ? reject(err) : resolve({ tokens: 0 }),
            );
          }),
        { concurrency: 50, durationMs, warmupMs: 1000, codeOf: grpcCode },
      );
    const bareClient = modelOpsClient(`127.0.0.1:${port}`);
    try {
      const coordinator = await loop(client);
      const bareGrpc = await loop(bareClient);
      return {
        concurrency: 50,
        coordinator,
        bare_grpc_js: bareGrpc,
        ratio_vs_bare: ratio(coordinator.rps, bareGrpc.rps),
      };
    } finally {
      bareClient.close();
    }
  } finally {
    bare.stdin!.end();
    bare.kill();
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const ratio = (a: number, b: number | undefined) => (b ? Math.round((a / b) * 1000) / 1000 : null);
const out: Record<string, unknown> = { scenario: 'grpc-load', concurrency, durationMs, maxTokens };
try {
  for (const [name, prompt] of [
    ['long_prompt', PERF_PROMPT],
    ['short_prompt', SHORT_PROMPT],
  ] as const) {
    // The baselines alone on the machine (the idle server beside them costs nothing measurable), then the server.
    const bare = baseline ? await measureBareLoop({ concurrency: 8, durationMs, maxTokens, threads: 1, prompt }) : null;
    const core = baseline
      ? await measureRawEngine({ concurrency: 8, durationMs, maxTokens, threads: 1, prompt })
      : null;
    // CPU of everything but the engine while the coordinator serves: this load generator and the server's own threads
    // (its main process without the engine child). The warm-up is inside the window on both sides, so the rates hold.
    const pid = server?.proc.pid;
    const before = {
      client: process.cpuUsage(),
      server: pid ? ownCpuMs(pid) : 0,
      engine: pid ? cpuMs(pid) - ownCpuMs(pid) : 0,
      at: performance.now(),
    };
    const coordinator = await closedLoop(
      () =>
        new Promise((resolve, reject) => {
          client.Infer(
            { model, prompt, max_tokens: maxTokens, temperature: 0 },
            { deadline: Date.now() + 60_000 },
            (err: grpc.ServiceError | null, res: any) =>
              err ? reject(err) : resolve({ tokens: res.tokens_generated }),
          );
        }),
      { concurrency, durationMs, warmupMs: 2000, codeOf: grpcCode },
    );
    const wall = performance.now() - before.at;
    const clientCpu = process.cpuUsage(before.client);
    const cores = {
      load_generator: round3((clientCpu.user + clientCpu.system) / 1000 / wall),
      coordinator_without_engine: pid ? round3((ownCpuMs(pid) - before.server) / wall) : null,
      engine: pid ? round3((cpuMs(pid) - ownCpuMs(pid) - before.engine) / wall) : null,
    };
    // The bare loop again, beside that much CPU burnt in other processes: what the engine alone does on this machine
    // when the rest is as busy as it was (a ceiling, not a target: see docs/performance.md).
    let besideSameLoad = null;
    if (baseline && cores.coordinator_without_engine !== null) {
      const load = startCpuLoad(cores.load_generator + cores.coordinator_without_engine);
      const r = await measureBareLoop({ concurrency: 8, durationMs, maxTokens, threads: 1, prompt });
      besideSameLoad = { ...r, cpu_load_cores: await load.stop() };
    }
    out[name] = {
      prompt,
      coordinator,
      cores,
      bareLoop: bare,
      engineCore: core,
      bareLoopBesideSameCpuLoad: besideSameLoad,
      ratio_vs_bare_loop: ratio(coordinator.rps, bare?.rps),
      ratio_vs_engine_core: ratio(coordinator.rps, core?.rps),
      ratio_vs_bare_loop_beside_same_cpu_load: ratio(coordinator.rps, besideSameLoad?.rps),
    };
  }
  out.list_models = await listModels();
  console.log(JSON.stringify(out));
} finally {
  client.close();
  await server?.stop();
}

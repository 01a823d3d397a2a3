/**
 * Coordinator throughput over gRPC against the limit measured in the same run — the bare node-llama-cpp loop on the
 * same model, prompt, tokens and 8 sequences (perf/raw-engine.ts) — and against the project's EngineCore alone, for
 * the long and the short prompt. Prints one JSON line: per prompt, the coordinator's rps / p50 / p95 / p99 / errors by
 * code, the bare loop's and EngineCore's, and the ratios; the cores used during the coordinator's run by the load
 * generator, the coordinator without its engine, and the engine; and the bare loop once more beside a CPU load of the
 * first two (perf/lib/cpu-load.ts): the engine's ceiling on this machine with that much else running.
 * Also the coordinator's own CPU per Infer (main and device threads, not the engine child; read from /proc over the
 * measured window) beside a bare grpc-js server's CPU per Infer call answering the coordinator's own InferResponse
 * (perf/lib/grpc-bare-server.ts), and their ratio; and per thread of the server, CPU ms and times it slept per request.
 * Each server (the coordinator, the bare one) first serves --warmup ms unmeasured: V8's optimising compiles of the
 * hot paths run on its helper threads and, measured, made a 2 s warm-up's figure twice the steady one.
 *   npx tsx perf/grpc-load.ts [--concurrency 100] [--duration 10000] [--max-tokens 8] [--address host:port] [--no-baseline]
 *                             [--prompts long,short] [--warmup 10000] [--cpu-prof-dir DIR] [--server-node-args '--flag …']
 * Without --address it starts its own coordinator (zero config, demo model, 8 sequences) in a child process;
 * --cpu-prof-dir starts it with `--cpu-prof` (one .cpuprofile per thread and for the engine, written at its exit) and
 * skips the bare server and ListModels, so the profiles hold the Infer runs only.
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
import { cpuMs, ownCpuMs, threads } from './lib/proc.js';

const concurrency = Number(arg('concurrency', '100'));
const durationMs = Number(arg('duration', '10000'));
const maxTokens = Number(arg('max-tokens', '8'));
// Before the first measured window on each server: load long enough for V8 to have compiled the hot paths (its
// optimising compiles run on helper threads of the same process; after 2 s they were still a third of the CPU).
const warmupMs = Number(arg('warmup', '10000'));
let firstWindow = true;
const model = arg('model', 'moc-demo');
const baseline = !process.argv.includes('--no-baseline');
const prompts = arg('prompts', 'long,short').split(',');
const profDir = arg('cpu-prof-dir', '');

const server = process.argv.includes('--address')
  ? null
  : await spawnServer({
      nodeArgs: [
        ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
        ...arg('server-node-args', '').split(' ').filter(Boolean),
      ],
    });
const address = server?.grpcAddress ?? arg('address', '127.0.0.1:7212');
const client = modelOpsClient(address);
/**
 * Against a bare grpc-js server answering the same messages (perf/lib/grpc-bare-server.ts): its CPU per Infer call
 * (the coordinator's own InferResponse `inferAnswer`, `concurrency` in flight), then ListModels on both.
 */
async function againstBare(inferAnswer: unknown): Promise<Record<string, unknown>> {
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
      '--infer',
      JSON.stringify(inferAnswer ?? {}),
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
      const window: number[] = [];
      const infer = await closedLoop(
        () =>
          new Promise((resolve, reject) => {
            bareClient.Infer({ model, prompt: SHORT_PROMPT, max_tokens: maxTokens, temperature: 0 }, (err) =>
              err ? reject(err) : resolve({ tokens: 0 }),
            );
          }),
        {
          concurrency,
          durationMs,
          warmupMs,
          codeOf: grpcCode,
          onWindow: () => window.push(ownCpuMs(bare.pid!)),
        },
      );
      const coordinator = await loop(client);
      const bareGrpc = await loop(bareClient);
      return {
        infer: { rps: infer.rps, cpu_ms_per_call: round3((window[1]! - window[0]!) / infer.ok) },
        list_models: {
          concurrency: 50,
          coordinator,
          bare_grpc_js: bareGrpc,
          ratio_vs_bare: ratio(coordinator.rps, bareGrpc.rps),
        },
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
/** The coordinator's own CPU (main + device threads, not the engine) per Infer, by prompt; and one answer it gave. */
const cpuPerRequest: Record<string, number | null> = {};
let sampleAnswer: unknown;
try {
  for (const [name, prompt] of [
    ['long_prompt', PERF_PROMPT],
    ['short_prompt', SHORT_PROMPT],
  ] as const) {
    if (!prompts.includes(name.replace('_prompt', ''))) continue;
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
    const window: number[] = [];
    const perThreadAt: ReturnType<typeof threads>[] = [];
    const coordinator = await closedLoop(
      () =>
        new Promise((resolve, reject) => {
          client.Infer(
            { model, prompt, max_tokens: maxTokens, temperature: 0 },
            { deadline: Date.now() + 60_000 },
            (err: grpc.ServiceError | null, res: any) => {
              if (err) return reject(err);
              if (name === 'short_prompt' || sampleAnswer === undefined) sampleAnswer = res;
              resolve({ tokens: res.tokens_generated });
            },
          );
        }),
      {
        concurrency,
        durationMs,
        warmupMs: firstWindow ? warmupMs : 2000,
        codeOf: grpcCode,
        onWindow: () => {
          if (!pid) return;
          window.push(ownCpuMs(pid));
          perThreadAt.push(threads(pid));
        },
      },
    );
    firstWindow = false;
    cpuPerRequest[name] = pid ? round3((window[1]! - window[0]!) / coordinator.ok) : null;
    // Per request, by thread (main, and the others by id when they used 0.01 ms or slept 0.01 times a request):
    // CPU ms and the times it slept, and so was woken (see threads() in perf/lib/proc.ts).
    const perThread = pid
      ? Object.fromEntries(
          Object.entries(perThreadAt[1]!)
            .map(([t, v]) => {
              const b = perThreadAt[0]![t] ?? { cpuMs: 0, sleeps: 0 };
              const d = {
                cpu_ms: round3((v.cpuMs - b.cpuMs) / coordinator.ok),
                sleeps: round3((v.sleeps - b.sleeps) / coordinator.ok),
              };
              return [t, d] as const;
            })
            .filter(([, d]) => d.cpu_ms >= 0.01 || d.sleeps >= 0.01),
        )
      : null;
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
      coordinator_cpu_ms_per_request: cpuPerRequest[name],
      coordinator_per_thread_per_request: perThread,
      cores,
      bareLoop: bare,
      engineCore: core,
      bareLoopBesideSameCpuLoad: besideSameLoad,
      ratio_vs_bare_loop: ratio(coordinator.rps, bare?.rps),
      ratio_vs_engine_core: ratio(coordinator.rps, core?.rps),
      ratio_vs_bare_loop_beside_same_cpu_load: ratio(coordinator.rps, besideSameLoad?.rps),
    };
  }
  out.coordinator_cpu_ms_per_request = cpuPerRequest;
  if (!profDir) {
    const bare = await againstBare(sampleAnswer);
    const bareCpu = (bare.infer as { cpu_ms_per_call: number }).cpu_ms_per_call;
    out.bare_grpc_js_cpu_ms_per_infer = bareCpu;
    out.bare_grpc_js_infer_rps = (bare.infer as { rps: number }).rps;
    out.cpu_ratio_vs_bare_grpc_js = Object.fromEntries(
      Object.entries(cpuPerRequest).map(([k, v]) => [k, v === null ? null : ratio(v, bareCpu)]),
    );
    out.list_models = bare.list_models;
  }
  console.log(JSON.stringify(out));
} finally {
  client.close();
  await server?.stop();
}

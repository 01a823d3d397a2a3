/**
 * What metrics and request log lines cost, measured in one run: this checkout with its defaults ("after": metrics and
 * one request line per request), this checkout with `log.requests: false` ("after_no_lines": the metrics alone), and a
 * checkout of the commit before telemetry ("before", default b87ac49: neither) serve side by side, and the same loads
 * rotate between them so the machine's drift falls on all alike. For each scenario and server: requests per second,
 * and the server's CPU time per request (every thread of its process and its engine processes, from /proc: on this
 * shared 2-core machine throughput swings ±15 % between identical phases, CPU per request much less). Prints one JSON
 * line with each figure and the ratios to "before".
 *   npx tsx perf/telemetry-cost.ts [--before b87ac49] [--rounds 2] [--seconds 5] [--only rest_list_models]
 * Scenarios: REST GET /v1/models (cheap: where a per-request cost shows most), REST POST /v1/infer and gRPC Infer
 * (8 tokens of the demo model). Both servers log to a file (as under journald), not to a pipe this process reads.
 * The "before" checkout is a git worktree in a temp dir sharing this node_modules; it is removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import autocannon from 'autocannon';
import { modelOpsClient } from '../src/transports/grpc/proto.js';
import { packageRoot } from '../src/package-root.js';
import { arg, closedLoop } from './lib/closed-loop.js';
import { spawnServer, type SpawnedServer } from './lib/spawn-server.js';
import { cpuMs } from './lib/proc.js';
import { PERF_PROMPT } from './raw-engine.js';

const before = arg('before', 'b87ac49');
const rounds = Number(arg('rounds', '2'));
const seconds = Number(arg('seconds', '5'));
const only = arg('only', '');
const YAML = 'server:\n  grpcPort: 0\nrest:\n  port: 0\nzmq:\n  enabled: false\n';

function worktree(commit: string): { dir: string; remove(): void } {
  const root = packageRoot();
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'moc-before-')), 'moc');
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', dir, commit], { stdio: 'ignore' });
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return {
    dir,
    remove: () => {
      execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
      rmSync(path.dirname(dir), { recursive: true, force: true });
    },
  };
}

const restOf = (s: SpawnedServer) => String(s.logs.find((l) => l.event === 'server.listening')?.rest);

/** Requests answered in `seconds`. */
async function cannon(url: string, o: { connections: number; method?: 'POST'; body?: string }): Promise<number> {
  const r = await autocannon({
    url,
    connections: o.connections,
    duration: seconds,
    method: o.method ?? 'GET',
    ...(o.body ? { body: o.body, headers: { 'content-type': 'application/json' } } : {}),
  });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return r.requests.total;
}

async function grpcInfer(s: SpawnedServer): Promise<number> {
  const client = modelOpsClient(s.grpcAddress);
  try {
    const r = await closedLoop(
      () =>
        new Promise((resolve, reject) => {
          client.Infer(
            { model: 'moc-demo', prompt: PERF_PROMPT, max_tokens: 8, temperature: 0 },
            { deadline: Date.now() + 60_000 },
            (err: grpc.ServiceError | null, res: any) =>
              err ? reject(err) : resolve({ tokens: res.tokens_generated }),
          );
        }),
      {
        concurrency: 100,
        durationMs: seconds * 1000,
        warmupMs: 0,
        codeOf: (e) => (e as grpc.ServiceError).details ?? 'error',
      },
    );
    if (Object.keys(r.errors).length) throw new Error(`gRPC Infer failed: ${JSON.stringify(r.errors)}`);
    return r.ok;
  } finally {
    client.close();
  }
}

const scenarios: Record<string, (s: SpawnedServer) => Promise<number>> = {
  rest_list_models: (s) => cannon(`${restOf(s)}/v1/models`, { connections: 50 }),
  rest_infer: (s) =>
    cannon(`${restOf(s)}/v1/infer`, {
      connections: 32,
      method: 'POST',
      body: JSON.stringify({ model: 'moc-demo', prompt: PERF_PROMPT, max_tokens: 8, temperature: 0 }),
    }),
  grpc_infer: grpcInfer,
};

type Side = 'after' | 'after_no_lines' | 'before';
const SIDES: Side[] = ['after', 'after_no_lines', 'before'];
const old = worktree(before);
let out: Record<string, unknown> = {};
try {
  const servers: Record<Side, SpawnedServer> = {
    after: await spawnServer({ yaml: YAML, logFile: true }),
    after_no_lines: await spawnServer({ yaml: `${YAML}log:\n  requests: false\n`, logFile: true }),
    before: await spawnServer({ yaml: YAML, logFile: true, root: old.dir }),
  };
  try {
    const results: Record<string, unknown> = {};
    for (const [name, run] of Object.entries(scenarios).filter(([n]) => !only || n === only)) {
      for (const side of SIDES) await run(servers[side]); // warm-up: JIT, connections, the model's first calls
      const sums = Object.fromEntries(SIDES.map((k) => [k, { requests: 0, cpuMs: 0, rps: [] as number[] }])) as Record<
        Side,
        { requests: number; cpuMs: number; rps: number[] }
      >;
      for (let i = 0; i < rounds; i++) {
        // A different side first each round: a trend over the run weighs on every side alike.
        for (let j = 0; j < SIDES.length; j++) {
          const side = SIDES[(i + j) % SIDES.length]!;
          const pid = servers[side].proc.pid!;
          const cpu0 = cpuMs(pid);
          const n = await run(servers[side]);
          sums[side].cpuMs += cpuMs(pid) - cpu0;
          sums[side].requests += n;
          sums[side].rps.push(Math.round(n / seconds));
        }
      }
      const r = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
      const figures = Object.fromEntries(
        SIDES.map((k) => [
          k,
          {
            rps: sums[k].rps,
            cpu_us_per_request: Math.round((sums[k].cpuMs * 1000) / sums[k].requests),
          },
        ]),
      );
      const cpu = (k: Side) => sums[k].cpuMs / sums[k].requests;
      results[name] = {
        ...figures,
        rps_ratio: {
          after: r(sums.after.requests, sums.before.requests),
          after_no_lines: r(sums.after_no_lines.requests, sums.before.requests),
        },
        cpu_ratio: { after: r(cpu('after'), cpu('before')), after_no_lines: r(cpu('after_no_lines'), cpu('before')) },
      };
    }
    out = { script: 'perf/telemetry-cost', before, rounds, seconds, results };
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
} finally {
  old.remove();
}
console.log(JSON.stringify(out));

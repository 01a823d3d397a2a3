/**
 * Overload: gRPC Infer offered at 3× this machine's measured capacity for 60 s (open loop). What a production server
 * must do then: refuse what it cannot take, at once and with a coded Busy (never time out, never crash), keep the
 * latency of what it admitted bounded, and not grow. Prints one JSON line: capacity, the admitted calls' latency, the
 * refusals' codes and latency, the server's RSS (main process and engine) at start, end and peak, and the checks:
 * RSS growth < 10 %, every refusal MOC_ERR_BUSY, refusals answered within 5 ms (p99) — as the load generator saw them
 * (from each call's scheduled arrival, so its own lag at ~1,000 calls/s is in the figure) and inside the server (the
 * `ms` of the server's own `request` lines: from the operation's start to its answer).
 *   npx tsx perf/overload.ts [--factor 3] [--seconds 60] [--max-tokens 8]
 * Capacity: a closed loop of 32 calls in flight for 10 s against the same server, just before.
 */
import type * as grpc from '@grpc/grpc-js';
import { modelOpsClient } from '../src/transports/grpc/proto.js';
import { arg, closedLoop } from './lib/closed-loop.js';
import { openLoop } from './lib/open-loop.js';
import { spawnServer } from './lib/spawn-server.js';
import { rssMiB } from './lib/proc.js';
import { grpcCode } from './lib/grpc-code.js';
import { PERF_PROMPT } from './raw-engine.js';
import { percentile } from './lib/closed-loop.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const factor = Number(arg('factor', '3'));
const seconds = Number(arg('seconds', '60'));
const maxTokens = Number(arg('max-tokens', '8'));

const server = await spawnServer({
  yaml: 'server:\n  grpcPort: 0\nrest:\n  enabled: false\nzmq:\n  enabled: false\n',
  logFile: true,
});
const client = modelOpsClient(server.grpcAddress);
const infer = () =>
  new Promise((resolve, reject) => {
    client.Infer(
      { model: 'moc-demo', prompt: PERF_PROMPT, max_tokens: maxTokens, temperature: 0 },
      { deadline: Date.now() + 30_000 },
      (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)),
    );
  });
try {
  const capacity = await closedLoop(() => infer().then(() => ({ tokens: maxTokens })), {
    concurrency: 32,
    durationMs: 10_000,
    warmupMs: 2000,
    codeOf: grpcCode,
  });
  const pid = server.proc.pid!;
  const rssStart = rssMiB(pid);
  let peak = rssStart.main;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid).main);
  }, 1000);
  const run = await openLoop(infer, {
    rps: Math.round(capacity.rps * factor),
    durationMs: seconds * 1000,
    codeOf: grpcCode,
    maxInFlight: 20_000,
  });
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 2000)); // let the last answers' garbage go
  const rssEnd = rssMiB(pid);
  const growth = Math.round(((rssEnd.main - rssStart.main) / rssStart.main) * 1000) / 1000;
  const refusals = Object.entries(run.errors);
  // The server's own time for each refusal, from its request lines (logged to a file, as under journald).
  const busyMs = readFileSync(path.join(server.dir, 'stderr.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"request"') && l.includes('"code":"MOC_ERR_BUSY"'))
    .map((l) => JSON.parse(l).ms as number)
    .sort((a, b) => a - b);
  const inServer = {
    count: busyMs.length,
    p50: percentile(busyMs, 50),
    p99: percentile(busyMs, 99),
    max: busyMs.at(-1) ?? 0,
  };
  console.log(
    JSON.stringify({
      scenario: 'overload',
      factor,
      seconds,
      maxTokens,
      capacity_rps: capacity.rps,
      offered_rps: run.offeredRps,
      admitted_rps: run.achievedRps,
      admitted: run.ok,
      refused: run.sent - run.ok,
      skipped: run.skipped,
      admitted_ms: run.okMs,
      refused_ms: run.refusedMs,
      refused_in_server_ms: inServer,
      errors: run.errors,
      rss_mib: { start: rssStart, end: rssEnd, peak_main: peak, growth_main: growth },
      checks: {
        rss_growth_below_10pct: growth < 0.1,
        every_refusal_busy: refusals.every(([code]) => code === 'MOC_ERR_BUSY'),
        refusal_p99_below_5ms: run.refusedMs.p99 < 5,
        refusal_p99_in_server_below_5ms: inServer.count > 0 && inServer.p99 < 5,
      },
    }),
  );
} finally {
  client.close();
  await server.stop();
}

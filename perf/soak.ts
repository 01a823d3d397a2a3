/**
 * Soak: gRPC Infer at 70 % of this machine's measured capacity (open loop) for 10 minutes, while models are loaded
 * and unloaded in turn over REST. What must not happen over time: memory creeping up, mailboxes filling, handles or
 * timers leaking. Every 10 s it samples the server's RSS (main process and engine) and, from its own /metrics, the
 * JS heap, the active handles, and the depth of every actor's mailbox; it compares the first minute with the last.
 * Prints one JSON line with the samples' summary and the checks: RSS drift < 5 %, mailboxes back to their idle depth, handles and
 * heap not growing (last minute ≤ first minute + 5 %).
 *   npx tsx perf/soak.ts [--minutes 10] [--load 0.7]
 */
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { writeTinyLlamaGguf } from '../src/model/demo-model.js';
import { modelOpsClient } from '../src/transports/grpc/proto.js';
import { arg, closedLoop } from './lib/closed-loop.js';
import { openLoop } from './lib/open-loop.js';
import { spawnServer } from './lib/spawn-server.js';
import { rssMiB } from './lib/proc.js';
import { grpcCode } from './lib/grpc-code.js';
import { PERF_PROMPT } from './raw-engine.js';

const minutes = Number(arg('minutes', '10'));
const load = Number(arg('load', '0.7'));

const server = await spawnServer({
  logFile: true,
  yaml: 'server:\n  grpcPort: 0\nrest:\n  port: 0\nzmq:\n  enabled: false\nmodelsRoot: ${DIR}/models\ndataDir: ${DIR}/data\n',
});
const rest = String(server.logs.find((l) => l.event === 'server.listening')?.rest);
const client = modelOpsClient(server.grpcAddress);
const infer = () =>
  new Promise((resolve, reject) => {
    client.Infer(
      { model: 'moc-demo', prompt: PERF_PROMPT, max_tokens: 8, temperature: 0 },
      { deadline: Date.now() + 30_000 },
      (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)),
    );
  });
const post = (url: string, body: unknown) =>
  fetch(`${rest}${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** The server's own gauges: heap, handles, mailboxes (summed). */
async function gauges(): Promise<{ heapMiB: number; handles: number; mailboxes: number }> {
  const text = await (await fetch(`${rest}/metrics`)).text();
  const value = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return {
    heapMiB: value('nodejs_heap_size_used_bytes') / 2 ** 20,
    handles: value('nodejs_active_handles_total'),
    mailboxes: value('moc_actor_mailbox_depth'),
  };
}

try {
  for (let i = 0; i < 3; i++) {
    await writeTinyLlamaGguf(path.join(server.dir, 'models', `soak-${i}.gguf`), { seed: 200 + i, name: `soak-${i}` });
    await post('/v1/models', { name: `soak-${i}`, path: `soak-${i}.gguf`, sequences: 1 });
  }
  const capacity = await closedLoop(() => infer().then(() => ({ tokens: 8 })), {
    concurrency: 32,
    durationMs: 10_000,
    warmupMs: 2000,
    codeOf: grpcCode,
  });
  const pid = server.proc.pid!;
  const samples: Array<{ t: number; rssMiB: number; heapMiB: number; handles: number; mailboxes: number }> = [];
  const start = performance.now();
  const sample = async () => {
    samples.push({ t: Math.round((performance.now() - start) / 1000), rssMiB: rssMiB(pid).main, ...(await gauges()) });
  };
  await sample();
  const sampler = setInterval(() => void sample(), 10_000);
  let stop = false;
  const churn = (async () => {
    for (let i = 0; !stop; i++) {
      const name = `soak-${i % 3}`;
      await post(`/v1/models/${name}/load`, {}).catch(() => {});
      await new Promise((r) => setTimeout(r, 5000));
      await post(`/v1/models/${name}/unload`, {}).catch(() => {});
    }
  })();
  const run = await openLoop(infer, {
    rps: Math.round(capacity.rps * load),
    durationMs: minutes * 60_000,
    codeOf: grpcCode,
  });
  stop = true;
  await churn;
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 3000));
  await sample();
  const minute = (from: number, to: number) => samples.filter((s) => s.t >= from && s.t < to);
  const avg = (xs: typeof samples, k: 'rssMiB' | 'heapMiB' | 'handles') =>
    xs.reduce((a, s) => a + s[k], 0) / Math.max(1, xs.length);
  const first = minute(0, 60);
  const last = minute(minutes * 60 - 60, minutes * 60 + 60);
  const drift = (k: 'rssMiB' | 'heapMiB' | 'handles') =>
    Math.round(((avg(last, k) - avg(first, k)) / avg(first, k)) * 1000) / 1000;
  const end = samples.at(-1)!;
  console.log(
    JSON.stringify({
      scenario: 'soak',
      minutes,
      load,
      capacity_rps: capacity.rps,
      offered_rps: run.offeredRps,
      achieved_rps: run.achievedRps,
      infer_ms: run.okMs,
      errors: run.errors,
      drift: { rss: drift('rssMiB'), heap: drift('heapMiB'), handles: drift('handles') },
      end,
      samples,
      // The scrape's own read of the devices sits in the router's mailbox while it is counted: 1 when idle.
      checks: {
        rss_drift_below_5pct: drift('rssMiB') < 0.05,
        mailboxes_back_to_idle: end.mailboxes <= samples[0]!.mailboxes,
        handles_not_growing: drift('handles') <= 0.05,
        heap_not_growing: drift('heapMiB') <= 0.05,
      },
    }),
  );
} finally {
  client.close();
  await server.stop();
}

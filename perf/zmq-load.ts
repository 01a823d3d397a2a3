/**
 * The coordinator's ZeroMQ (legacy protocol) listener under load, against a bare ZeroMQ ROUTER measured in the same
 * run. N REQ clients, each a closed loop (send, await the reply, repeat). Prints one JSON line with, for each of
 *   health.bare         `health`-sized request against a bare ROUTER echoing a fixed JSON (the transport ceiling),
 *   health.coordinator  the `health` action against the coordinator (no inference: its transport overhead),
 *   infer.coordinator   `infer` (max_tokens 8, temperature 0, demo model) against the coordinator,
 *   list_models         `list_models` against the coordinator, and a bare ROUTER answering the same bytes,
 * {rps, p50, p95, p99 (ms), errors by code}, plus health.ratio and list_models.ratio (coordinator / bare).
 *   npx tsx perf/zmq-load.ts [--clients 50] [--seconds S (default 10 for health, 15 for infer)] [--max-tokens 8]
 * Both servers run in their own child process (started here, one after the other), never in the load generator's.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import { closedLoop, type LoadResult } from './lib/closed-loop.js';
import { spawnServer } from './lib/spawn-server.js';
import { PERF_PROMPT } from './raw-engine.js';

const { values: flags } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    seconds: { type: 'string' },
    'max-tokens': { type: 'string', default: '8' },
    model: { type: 'string', default: 'moc-demo' },
  },
});
const clients = Number(flags.clients);
const healthMs = Number(flags.seconds ?? 10) * 1000;
const inferMs = Number(flags.seconds ?? 15) * 1000;
const maxTokens = Number(flags['max-tokens']);
const model = flags.model!;
if (!Number.isInteger(clients) || clients <= 0) throw new Error('--clients: a positive integer is required');
if (!(healthMs > 0)) throw new Error('--seconds: a positive number is required');
if (!Number.isInteger(maxTokens) || maxTokens <= 0) throw new Error('--max-tokens: a positive integer is required');

/** A failed call: its ZMQ `code` (BUSY, NOT_FOUND, …), or TIMEOUT when no reply came within the receive timeout. */
class CallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
const codeOf = (e: unknown) => (e instanceof CallError ? e.code : ((e as { code?: string }).code ?? 'UNKNOWN'));

/**
 * `clients` REQ sockets and a closed loop over them: each worker of closedLoop takes a free socket for its call,
 * so every socket has exactly one request in flight, as a legacy agent's REQ socket does.
 */
async function load(
  endpoint: string,
  request: () => Record<string, unknown>,
  durationMs: number,
  warmupMs: number,
): Promise<LoadResult> {
  const socks = Array.from({ length: clients }, () => {
    // relaxed + correlate: after a receive timeout the socket can send again (Lazy Pirate without reconnecting).
    const s = new zmq.Request({ receiveTimeout: 30_000, relaxed: true, correlate: true, linger: 0 });
    s.connect(endpoint);
    return s;
  });
  const free = [...socks];
  try {
    return await closedLoop(
      async () => {
        const sock = free.pop()!;
        try {
          await sock.send(JSON.stringify(request()));
          let frame: Buffer;
          try {
            [frame] = (await sock.receive()) as [Buffer];
          } catch (err) {
            throw new CallError(
              (err as { code?: string }).code === 'EAGAIN' ? 'TIMEOUT' : 'RECEIVE_FAILED',
              (err as Error).message,
            );
          }
          const reply = JSON.parse(frame.toString('utf8')) as Record<string, unknown>;
          if (reply.status !== 'ok') throw new CallError(String(reply.code ?? 'UNKNOWN'), String(reply.message));
          return { tokens: typeof reply.tokens_generated === 'number' ? reply.tokens_generated : 0 };
        } finally {
          free.push(sock);
        }
      },
      { concurrency: clients, durationMs, warmupMs, codeOf },
    );
  } finally {
    for (const s of socks) s.close();
  }
}

/** The transport-level figures (no tokens) of a health run. */
const brief = (r: LoadResult) => ({
  calls: r.calls,
  ok: r.ok,
  rps: r.rps,
  p50: r.p50,
  p95: r.p95,
  p99: r.p99,
  errors: r.errors,
});
const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);

/** A bare ROUTER (perf/lib/zmq-bare-router.ts) in its own process, answering `reply`, under the same load. */
async function bareRouter(
  request: () => Record<string, unknown>,
  durationMs: number,
  reply?: string,
): Promise<LoadResult> {
  const barePath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'zmq-bare-router.ts');
  const bareProc = spawn(
    process.execPath,
    [`--import=${import.meta.resolve('tsx')}`, barePath, ...(reply ? ['--reply', reply] : [])],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the bare ROUTER did not start in time')), 30_000);
      createInterface({ input: bareProc.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line).endpoint);
      });
      bareProc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the bare ROUTER exited: ${code ?? signal}`));
      });
    });
    return await load(endpoint, request, durationMs, 1000);
  } finally {
    if (bareProc.exitCode === null && bareProc.signalCode === null) {
      bareProc.kill('SIGTERM');
      await once(bareProc, 'exit');
    }
  }
}

// 1. The bare ROUTER, alone on the machine.
const bare = await bareRouter(() => ({ action: 'health' }), healthMs);

// 2. The coordinator (zero config apart from free ports: demo model, 8 sequences, 1 thread, open on loopback).
const server = await spawnServer({ yaml: 'server:\n  grpcPort: 0\nrest:\n  port: 0\nzmq:\n  port: 0\n' });
try {
  const zmqEndpoint = server.logs.find((l) => l.event === 'server.listening')?.zmq as string | undefined;
  if (!zmqEndpoint) throw new Error('the coordinator reported no ZMQ endpoint (zmq.enabled?)');
  const health = await load(zmqEndpoint, () => ({ action: 'health' }), healthMs, 1000);
  let n = 0;
  const infer = await load(
    zmqEndpoint,
    () => ({
      action: 'infer',
      request_id: `r${++n}`,
      model,
      prompt: PERF_PROMPT,
      max_tokens: maxTokens,
      temperature: 0,
    }),
    inferMs,
    2000,
  );
  // The list, then a bare ROUTER sending the very bytes the coordinator answered (the coordinator idles meanwhile).
  const listAnswer = await new Promise<string>((resolve, reject) => {
    const sock = new zmq.Request({ receiveTimeout: 10_000, linger: 0 });
    sock.connect(zmqEndpoint);
    sock
      .send(JSON.stringify({ action: 'list_models' }))
      .then(() => sock.receive())
      .then(([f]) => resolve(f!.toString('utf8')), reject)
      .finally(() => sock.close());
  });
  const list = await load(zmqEndpoint, () => ({ action: 'list_models' }), healthMs, 1000);
  const bareList = await bareRouter(() => ({ action: 'list_models' }), healthMs, listAnswer);
  console.log(
    JSON.stringify({
      scenario: 'zmq-load',
      clients,
      healthSeconds: healthMs / 1000,
      inferSeconds: inferMs / 1000,
      maxTokens,
      health: {
        bare: brief(bare),
        coordinator: brief(health),
        ratio: { rps: ratio(health.rps, bare.rps), p50: ratio(health.p50, bare.p50), p99: ratio(health.p99, bare.p99) },
      },
      infer: { coordinator: infer },
      list_models: {
        reply_bytes: Buffer.byteLength(listAnswer),
        bare: brief(bareList),
        coordinator: brief(list),
        ratio: {
          rps: ratio(list.rps, bareList.rps),
          p50: ratio(list.p50, bareList.p50),
          p99: ratio(list.p99, bareList.p99),
        },
      },
    }),
  );
} finally {
  await server.stop();
}

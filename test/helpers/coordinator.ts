/**
 * Test harness: a real Coordinator (device worker threads, engine child processes, gRPC on port 0) in a temp dir,
 * with the demo model, plus a promisified grpc-js client. Everything is closed in teardown.
 */
import type * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import type { Test } from 'tap';
import { resolveConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import type { Clock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/log.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { untrackChildren } from './untracked-children.js';

export interface Harness {
  coordinator: Coordinator;
  client: grpc.Client & Record<string, any>;
  dir: string;
  modelsRoot: string;
  /** http://127.0.0.1:<port> of the REST listener. */
  restUrl: string;
  /** tcp://127.0.0.1:<port> of the ZMQ ROUTER listener. */
  zmqUrl: string;
  close(): Promise<void>;
  unary<T = any>(method: string, req: object, o?: { deadlineMs?: number }): Promise<T>;
  /** Collects the streamed chunks; resolves at 'end', rejects on error. */
  stream(
    req: object,
    o?: { deadlineMs?: number; onChunk?: (c: any, call: grpc.ClientReadableStream<any>) => void },
  ): Promise<any[]>;
}

/**
 * o.dir: reuse a directory (data + models) to restart a coordinator on the same state. o.clock: what keep-alive
 * expiries, per-key budgets and remembered JWTs count time on (a ManualClock the test advances instead of sleeping).
 */
export async function startHarness(
  t: Test,
  config: Record<string, unknown> = {},
  o: { dir?: string; clock?: Clock } = {},
): Promise<Harness> {
  // Its engines and trainers (and every later child of this test process) without tap's process tracking: ~2 s of
  // CPU less for each coordinator started (test/helpers/untracked-children.ts).
  untrackChildren();
  const dir = o.dir ?? t.testdir();
  const cfg = resolveConfig(
    {
      ...config,
      server: { grpcPort: 0, ...((config.server as object) ?? {}) },
      rest: { port: 0, ...((config.rest as object) ?? {}) },
      zmq: { port: 0, ...((config.zmq as object) ?? {}) },
    },
    { baseDir: dir },
  );
  const coordinator = await Coordinator.start(cfg, { log: silentLogger, clock: o.clock });
  const client = modelOpsClient(`127.0.0.1:${coordinator.grpcPort}`);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    client.close();
    await coordinator.close(2000);
  };
  t.teardown(close);
  const deadline = (ms = 30_000) => new Date(Date.now() + ms);
  return {
    coordinator,
    client,
    dir,
    modelsRoot: cfg.modelsRoot,
    close,
    restUrl: `http://127.0.0.1:${coordinator.restPort}`,
    zmqUrl: `tcp://127.0.0.1:${coordinator.zmqPort}`,
    unary: (method, req, o = {}) =>
      new Promise((resolve, reject) => {
        client[method](req, { deadline: deadline(o.deadlineMs) }, (err: grpc.ServiceError | null, res: any) =>
          err ? reject(err) : resolve(res),
        );
      }),
    stream: (req, o = {}) =>
      new Promise((resolve, reject) => {
        const chunks: any[] = [];
        const call = client.InferStream(req, { deadline: deadline(o.deadlineMs) }) as grpc.ClientReadableStream<any>;
        call.on('data', (c) => {
          chunks.push(c);
          o.onChunk?.(c, call);
        });
        call.on('error', reject);
        call.on('end', () => resolve(chunks));
      }),
  };
}

export function errorCode(err: unknown): string | undefined {
  return (err as grpc.ServiceError).metadata?.get('moc-error-code')[0]?.toString();
}

/**
 * Polls `fn` every `everyMs` until it returns something truthy, and returns that. Bounded twice: by `timeoutMs` and by
 * the number of polls that fit in it (so a clock that does not move, or an fn that never settles quickly, still ends);
 * then it throws saying what it waited for, how long, how many times it looked, and fn's last error if it threw.
 */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<T> {
  const start = Date.now();
  const maxPolls = Math.ceil(timeoutMs / everyMs) + 1;
  let lastError: unknown;
  for (let polls = 1; ; polls++) {
    const v = await fn().catch((err: unknown) => {
      lastError = err;
      return undefined;
    });
    if (v) return v;
    const waited = Date.now() - start;
    if (waited > timeoutMs || polls >= maxPolls) {
      const why = lastError === undefined ? '' : `; last error: ${(lastError as Error)?.message ?? String(lastError)}`;
      throw new Error(`timed out waiting for ${what} (${waited} ms, ${polls} polls, limit ${timeoutMs} ms)${why}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const demoPath = (h: Harness) => path.join(h.modelsRoot, 'moc-demo.gguf');

/**
 * Acknowledged-durable job submits per second, against the limit measured in the same run: raw lmdb-js puts of the
 * same records into a fresh environment, as many in flight (lmdb-js batches concurrent writes into one commit, which
 * is what both sides rely on). Prints one JSON line.
 *
 *   coordinator: SubmitJob through the router and the Jobs actor of a running Coordinator (validation, idempotency
 *                key, record + event in one write transaction, answered after the commit). The jobs it accepts also
 *                run meanwhile (evaluations of a missing dataset: they fail fast), as on a live server.
 *   grpc:        the same through a gRPC client on loopback (transport included), for reference.
 *   raw:         lmdb-js `put` of the same records, awaited, same concurrency.
 *
 *   npx tsx perf/jobs-load.ts [--concurrency 64] [--duration 5000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import * as grpc from '@grpc/grpc-js';
import { resolveConfig } from '../src/config.js';
import { Coordinator } from '../src/coordinator.js';
import { silentLogger } from '../src/log.js';
import { modelOpsClient } from '../src/transports/grpc/proto.js';
import type { Job } from '../schemas/jobs.js';
import { arg, closedLoop } from './lib/closed-loop.js';

const concurrency = Number(arg('concurrency', '64'));
const durationMs = Number(arg('duration', '5000'));
const loop = { concurrency, durationMs, warmupMs: 500, codeOf: (e: unknown) => (e as { code?: string }).code ?? String(e) };

const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-jobs-perf-'));
try {
  // Raw: the same record shape, one put per submit.
  const env = open({ path: path.join(dir, 'raw.lmdb') });
  const db = env.openDB<Job, string>({ name: 'jobs' });
  let n = 0;
  const record = (id: string): Job => ({
    id, type: 'evaluate', spec: { model: 'moc-demo', dataset: 'missing.jsonl' }, priority: 0, owner: 'open', memoryBytes: 0,
    state: 'queued', attempts: 0, maxAttempts: 3, progress: { fraction: 0, message: 'queued' }, createdAt: Date.now(),
    queuedAt: Date.now(), startedAt: 0, endedAt: 0, updatedAt: Date.now(), logTail: [], outputs: { files: [], metrics: {}, models: [] },
    cancelRequested: false, notBefore: 0, requestId: id,
  });
  const raw = await closedLoop(async () => { const id = `raw-${n++}`; await db.put(id, record(id)); return { tokens: 0 }; }, loop);
  await env.close();

  const config = resolveConfig({ server: { grpcPort: 0 }, rest: { enabled: false }, zmq: { enabled: false }, jobs: { pollMs: 1000 } }, { baseDir: dir });
  const c = await Coordinator.start(config, { log: silentLogger });
  let m = 0;
  const request = () => ({ type: 'evaluate', spec: { model: 'moc-demo', dataset: 'missing.jsonl' }, request_id: `c-${m++}` });
  const coordinator = await closedLoop(async () => {
    await c.router.ask({ kind: 'submit-job', request: request(), owner: 'open' }, { timeoutMs: 30_000 });
    return { tokens: 0 };
  }, loop);
  const client = modelOpsClient(`127.0.0.1:${c.grpcPort}`) as grpc.Client & Record<string, any>;
  const viaGrpc = await closedLoop(() => new Promise((resolve, reject) => {
    const r = request();
    client.SubmitJob({ type: r.type, spec_json: JSON.stringify(r.spec), request_id: r.request_id }, { deadline: Date.now() + 30_000 },
      (err: grpc.ServiceError | null) => (err ? reject(err) : resolve({ tokens: 0 })));
  }), loop);
  client.close();
  const stored = c.store.listJobs().length;
  await c.close(5000);
  const pick = (r: typeof raw) => ({ rps: r.rps, p50: r.p50, p99: r.p99, ok: r.ok, errors: r.errors });
  console.log(JSON.stringify({
    script: 'perf/jobs-load', concurrency, durationMs, stored,
    coordinator: pick(coordinator), grpc: pick(viaGrpc), raw_lmdb: pick(raw),
    ratio_vs_raw: Number((coordinator.rps / raw.rps).toFixed(3)), grpc_ratio_vs_raw: Number((viaGrpc.rps / raw.rps).toFixed(3)),
  }));
} finally {
  await rm(dir, { recursive: true, force: true });
}

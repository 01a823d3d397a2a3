/**
 * Acknowledged-durable job submits per second, against the limit measured in the same run: raw lmdb-js writes of the
 * same records into a fresh environment, as many in flight (lmdb-js batches concurrent writes into one commit, which
 * is what both sides rely on). Prints one JSON line.
 *
 *   coordinator: SubmitJob through the router and the Jobs actor of a running Coordinator (validation, idempotency
 *                key, record + event in one write transaction, answered after the commit), while it runs a job: a
 *                fine-tune whose (demo) trainer is slow, with parallelism 1, so the submits queue behind it as they
 *                would on a busy server and the figure is the submit path's, not the runs'.
 *   grpc:        the same through a gRPC client on loopback (transport included), for reference.
 *   raw_lmdb:    what a submit must make durable, written bare: the job record, its idempotency key, its active-index
 *                entry and its event-log record, in one lmdb-js transaction each, awaited, same concurrency.
 *   raw_put:     one plain `put` of the job record alone, for scale (less than a submit must write).
 *
 *   npx tsx perf/jobs-load.ts [--concurrency 64] [--duration 5000]
 *   npx tsx perf/jobs-load.ts --store postgres [--concurrency 64] [--duration 5000]   (perf/lib/jobs-postgres.ts)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import type * as grpc from '@grpc/grpc-js';
import { resolveConfig } from '../src/config.js';
import { Coordinator } from '../src/coordinator.js';
import { silentLogger } from '../src/log.js';
import { modelOpsClient } from '../src/transports/grpc/proto.js';
import type { Job } from '../schemas/jobs.js';
import { arg, closedLoop } from './lib/closed-loop.js';
import { postgresArm } from './lib/jobs-postgres.js';

const concurrency = Number(arg('concurrency', '64'));
const durationMs = Number(arg('duration', '5000'));
const loop = {
  concurrency,
  durationMs,
  warmupMs: 500,
  codeOf: (e: unknown) => (e as { code?: string }).code ?? String(e),
};

if (arg('store', 'lmdb') === 'postgres') console.log(JSON.stringify(await postgresArm({ concurrency, durationMs })));
else await lmdbArm();

async function lmdbArm(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-jobs-perf-'));
  try {
    // Raw: the same record shape, one put per submit.
    const env = open({ path: path.join(dir, 'raw.lmdb'), maxDbs: 8 });
    const db = env.openDB<Job, string>({ name: 'jobs' });
    const keys = env.openDB<string, string>({ name: 'keys' });
    const active = env.openDB<object, string>({ name: 'active' });
    const events = env.openDB<object, number>({ name: 'events' });
    let seq = 0;
    let n = 0;
    const record = (id: string): Job => ({
      id,
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'missing.jsonl' },
      priority: 0,
      owner: 'open',
      memoryBytes: 0,
      state: 'queued',
      attempts: 0,
      maxAttempts: 3,
      progress: { fraction: 0, message: 'queued' },
      createdAt: Date.now(),
      queuedAt: Date.now(),
      startedAt: 0,
      endedAt: 0,
      updatedAt: Date.now(),
      logTail: [],
      outputs: { files: [], metrics: {}, models: [] },
      cancelRequested: false,
      notBefore: 0,
      requestId: id,
    });
    const raw = await closedLoop(async () => {
      const id = `raw-${n++}`;
      const job = record(id);
      await env.transaction(() => {
        db.put(id, job);
        keys.put(`open\u0000${id}`, id);
        active.put(id, {
          state: job.state,
          priority: job.priority,
          queuedAt: job.queuedAt,
          notBefore: 0,
          leaseExpiresAt: 0,
        });
        events.put(++seq, { type: 'job.submitted', at: job.createdAt, job });
      });
      return { tokens: 0 };
    }, loop);
    const rawPut = await closedLoop(async () => {
      const id = `put-${n++}`;
      await db.put(id, record(id));
      return { tokens: 0 };
    }, loop);
    await env.close();

    const config = resolveConfig(
      {
        server: { grpcPort: 0 },
        rest: { enabled: false },
        zmq: { enabled: false },
        jobs: { pollMs: 1000, parallelism: 1 },
      },
      { baseDir: dir },
    );
    await mkdir(config.jobs.datasetsRoot, { recursive: true });
    await writeFile(path.join(config.jobs.datasetsRoot, 'train.jsonl'), '{"text":"one example"}\n');
    const c = await Coordinator.start(config, { log: silentLogger });
    let m = 0;
    const spec = {
      base_model: 'moc-demo',
      dataset: 'train.jsonl',
      output_name: 'perf:out',
      params: { step_ms: 600_000 },
    };
    const request = () => ({ type: 'fine-tune', spec, request_id: `c-${m++}` });
    const coordinator = await closedLoop(async () => {
      await c.router.ask({ kind: 'submit-job', request: request(), owner: 'open' }, { timeoutMs: 30_000 });
      return { tokens: 0 };
    }, loop);
    const client = modelOpsClient(`127.0.0.1:${c.grpcPort}`) as grpc.Client & Record<string, any>;
    const viaGrpc = await closedLoop(
      () =>
        new Promise((resolve, reject) => {
          const r = request();
          client.SubmitJob(
            { type: r.type, spec_json: JSON.stringify(r.spec), request_id: r.request_id },
            { deadline: Date.now() + 30_000 },
            (err: grpc.ServiceError | null) => (err ? reject(err) : resolve({ tokens: 0 })),
          );
        }),
      loop,
    );
    client.close();
    const stored = c.store.listJobs().length;
    await c.close(5000);
    const pick = (r: typeof raw) => ({ rps: r.rps, p50: r.p50, p99: r.p99, ok: r.ok, errors: r.errors });
    console.log(
      JSON.stringify({
        script: 'perf/jobs-load',
        concurrency,
        durationMs,
        stored,
        coordinator: pick(coordinator),
        grpc: pick(viaGrpc),
        raw_lmdb: pick(raw),
        raw_put: pick(rawPut),
        ratio_vs_raw: Number((coordinator.rps / raw.rps).toFixed(3)),
        grpc_ratio_vs_raw: Number((viaGrpc.rps / raw.rps).toFixed(3)),
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

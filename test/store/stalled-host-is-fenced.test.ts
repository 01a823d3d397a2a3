/**
 * Fencing, with two coordinator processes on one PostgreSQL: host A runs a fine-tune and is stopped (SIGSTOP) past its
 * lease; host B takes the job over as attempt 2 (epoch 2) and finishes it. When A wakes (SIGCONT) it finds it was
 * fenced: it logs job.fenced, stops its run, and nothing of attempt 1 lands after the takeover — no write to the job,
 * no model registered on A. The artifacts of the two attempts are apart (trained/<job>/a1, a2).
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnServer, type SpawnedServer } from '../../perf/lib/spawn-server.js';
import type { Job } from '../../schemas/jobs.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { until } from '../helpers/coordinator.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { TEXTS } from '../jobs/helpers.js';

const call = (client: any, method: string, req: object) =>
  new Promise<any>((resolve, reject) =>
    client[method](req, { deadline: Date.now() + 30_000 }, (err: grpc.ServiceError | null, res: any) =>
      err ? reject(err) : resolve(res),
    ),
  );

t.test('a host stopped past its lease wakes fenced: its writes change nothing', { skip: postgresSkip }, async (t) => {
  const cluster = await startPostgres(t);
  const datasets = path.join(t.testdir(), 'datasets');
  mkdirSync(datasets, { recursive: true });
  writeFileSync(path.join(datasets, 'train.jsonl'), TEXTS.map((x) => JSON.stringify(x)).join('\n'));
  const yaml = [
    'server: { grpcPort: 0 }',
    'rest: { enabled: false }',
    'zmq: { enabled: false }',
    'dataDir: ${DIR}/data',
    'modelsRoot: ${DIR}/models',
    `store: { kind: postgres, url: "${cluster.url}", pollMs: 100 }`,
    `jobs: { parallelism: 1, pollMs: 50, leaseMs: 1500, datasetsRoot: ${datasets} }`,
  ].join('\n');
  const servers: SpawnedServer[] = [];
  t.teardown(async () => {
    for (const s of servers) s.proc.kill('SIGCONT');
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  });
  const clients: any[] = [];
  t.teardown(() => {
    for (const c of clients) c.close();
  });
  const start = async () => {
    const s = await spawnServer({ yaml });
    servers.push(s);
    clients.push(modelOpsClient(s.grpcAddress));
    return { s, c: clients.at(-1) };
  };
  const job = async (id: string): Promise<Job> =>
    (await cluster.psql<{ body: Job }>('SELECT body FROM moc_jobs WHERE id = $1', [id]))[0]!.body;

  // Both hosts up before the job exists (a host starting under load can take longer than the job runs), started
  // together; A is then whichever claims it (a lease's owner begins with its process id).
  const [first_, second_] = await Promise.all([start(), start()]);
  const submitted = await call(first_.c, 'SubmitJob', {
    type: 'fine-tune',
    // 4 texts × 3 epochs × 250 ms: long enough to be stopped and taken over mid-run (A is stopped as soon as it runs),
    // and for B's attempt 2 to be running still when A, continued, is fenced (~2 s after the takeover, under load).
    spec_json: JSON.stringify({
      base_model: 'moc-demo',
      dataset: 'train.jsonl',
      output_name: 'fenced-out',
      trainer: 'demo',
      params: { epochs: 3, step_ms: 250 },
    }),
    max_attempts: 3,
  });
  const id = submitted.id as string;
  const first = await until(
    'A runs attempt 1',
    async () => {
      const j = await job(id);
      return j.state === 'running' && j.process !== undefined && j;
    },
    30_000,
    100,
  );
  t.equal(first.lease?.epoch, 1, 'the claim gave the lease epoch 1');
  const ownerA = first.lease!.owner;
  const [a, b] = ownerA.startsWith(`${first_.s.proc.pid}-`) ? [first_, second_] : [second_, first_];
  t.ok(ownerA.startsWith(`${a.s.proc.pid}-`), 'the lease names the host that runs it');
  a.s.proc.kill('SIGSTOP');
  await until(
    'B takes the job over as attempt 2',
    async () => {
      const j = await job(id);
      return j.lease !== undefined && j.lease.owner !== ownerA && j.lease.epoch === 2 && j;
    },
    30_000,
    100,
  );
  const takeover = await cluster.psql<{ rev: string }>('SELECT rev::text FROM moc_jobs WHERE id = $1', [id]);
  a.s.proc.kill('SIGCONT');

  await until(
    'A logs that it was fenced',
    async () => a.s.logs.some((l) => l.event === 'job.fenced' && l.job === id),
    20_000,
    100,
  );
  const fenced = a.s.logs.find((l) => l.event === 'job.fenced')!;
  t.match(fenced, { job: id, epoch: 1, holder: /attempt 2/ });

  const done = await until(
    'B finishes the job',
    async () => {
      const j = await job(id);
      return j.state === 'succeeded' && j;
    },
    60_000,
    200,
  );
  t.equal(done.attempts, 2);
  t.match(done.outputs.files, [/^trained\/job-[^/]+\/a2\/fenced-out\.gguf$/], "attempt 2's artifact, under its epoch");

  const events = await cluster.psql<{ rev: string; body: Job }>(
    `SELECT rev::text, body FROM moc_events WHERE kind = 'job' AND id = $1 AND rev > $2 ORDER BY rev`,
    [id, takeover[0]!.rev],
  );
  t.ok(events.length > 0);
  t.same(
    events.filter((e) => e.body.lease?.owner === ownerA),
    [],
    'no write of A after the takeover (its renewals and its end were fenced)',
  );
  const modelsA = await call(a.c, 'ListModels', {});
  const modelsB = await call(b.c, 'ListModels', {});
  const names = (r: any) => (r.models as { name: string }[]).map((m) => m.name);
  t.notOk(names(modelsA).includes('fenced-out'), 'A registered nothing');
  t.ok(names(modelsB).includes('fenced-out'), 'B registered its output');
  t.equal(a.s.proc.exitCode, null, 'A goes on serving');
});

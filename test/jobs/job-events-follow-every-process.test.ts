/**
 * Following jobs: REST `GET /v1/jobs/{id}/events` (Server-Sent Events) streams a job from now to its end as gRPC
 * WatchJob does; an unknown job is a JSON 404; a shutdown ends a follow with a retryable in-band error. And a job run
 * by another process on the same data directory is followed live: this process's event stream sees its progress and
 * end, and a goal here linking it is achieved when it ends there (read from the store's event log, not only at start).
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import { spawnServer } from '../../perf/lib/spawn-server.js';
import { modelOpsClient } from '../../src/transports/grpc/proto.js';
import { startHarness, until, type Harness } from '../helpers/coordinator.js';
import { jobWhere, rest, TEXTS, writeDataset } from './helpers.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // engines, a server, trainers: no tap hook on each module they load

interface SseEvent {
  event: string;
  data: any;
}

/** Reads an SSE response to its end (or until `stopAfter` says so), as a browser's EventSource would parse it. */
async function readEvents(res: Response, stopAfter?: (e: SseEvent) => boolean): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    buf += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const lines = block.split('\n').filter((l) => !l.startsWith(':'));
      if (lines.length === 0) continue;
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = JSON.parse(
        lines
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n'),
      );
      out.push({ event, data });
      if (stopAfter?.(out.at(-1)!)) {
        await reader.cancel();
        return out;
      }
    }
  }
}

const follow = (h: Harness, id: string) => fetch(`${h.restUrl}/v1/jobs/${id}/events`);

/**
 * One coordinator for the first subtest and the last (its start costs seconds of CPU), with the last one's config: the
 * first runs one job and is done with it before the last begins (parallelism 1 and a 3 s lease change nothing for it).
 * The shutdown subtest has its own, which it closes. Closed when the file ends.
 */
let shared: Promise<Harness> | undefined;
const sharedHarness = () => (shared ??= startHarness(t, { jobs: { pollMs: 100, parallelism: 1, leaseMs: 3000 } }));

t.test(
  'REST job events: now, each change, then done with the final state; unknown job 404; ended job done at once',
  async (t) => {
    const h = await sharedHarness();
    writeDataset(h, 'train.jsonl', TEXTS);
    const job = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: { base_model: 'moc-demo', dataset: 'train.jsonl', output_name: 'sse:v1', params: { step_ms: 150 } },
    });
    t.equal(job.status, 201);
    const res = await follow(h, job.body.id);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = await readEvents(res);
    t.equal(events[0]!.data.id, job.body.id, 'the first event is the job as it is now');
    t.same(
      events.slice(0, -1).map((e) => e.event),
      events.slice(0, -1).map(() => 'job'),
      'changes are `job` events',
    );
    t.equal(events.at(-1)!.event, 'done', 'the stream ends with done');
    t.equal(events.at(-1)!.data.state, 'succeeded');
    t.ok(
      events.some((e) => e.data.state === 'running' && e.data.progress.fraction > 0 && e.data.progress.fraction < 1),
      'progress while running was streamed',
    );

    await until(
      "the ended job has left the scheduler's queue",
      async () => h.coordinator.jobsView!.candidateCount === 0,
      5000,
    );
    const metrics = (await h.coordinator.metrics.text()).body;
    t.match(
      metrics,
      /^moc_job_run_duration_seconds_count\{type="fine-tune",state="succeeded"\} 1$/m,
      'the run is timed in the metrics',
    );
    const again = await readEvents(await follow(h, job.body.id));
    t.same(
      again.map((e) => e.event),
      ['done'],
      'a job that has ended: done at once',
    );

    const missing = await follow(h, 'job-nope');
    t.equal(missing.status, 404);
    t.equal(
      ((await missing.json()) as any).error.code,
      'MOC_ERR_JOB_NOT_FOUND',
      'an unknown job is a JSON error before any stream',
    );
  },
);

t.test('REST job events: a shutdown ends a follow with a retryable error event', async (t) => {
  const h = await startHarness(t);
  writeDataset(h, 'train.jsonl', TEXTS);
  const job = await rest(h, 'POST', '/v1/jobs', {
    type: 'fine-tune',
    spec: { base_model: 'moc-demo', dataset: 'train.jsonl', output_name: 'sse:v2', params: { step_ms: 60_000 } },
  });
  const res = await follow(h, job.body.id);
  const reading = readEvents(res);
  await jobWhere(h, job.body.id, (j) => j.state === 'running', 'running');
  const closing = h.close();
  const events = await reading;
  await closing;
  const last = events.at(-1)!;
  t.equal(last.event, 'error', 'the follow ends in-band');
  t.equal(last.data.error.code, 'MOC_ERR_UNAVAILABLE', 'retryable: follow again after the restart or elsewhere');
});

t.test('a job run by another process is followed live: its event stream and a goal linking it here', async (t) => {
  // A (this process) runs one long job, so with parallelism 1 the next job is claimed by B (a separate process).
  const h = await sharedHarness(); // jobs: { pollMs: 100, parallelism: 1, leaseMs: 3000 }
  writeDataset(h, 'train.jsonl', TEXTS);
  const blocker = await rest(h, 'POST', '/v1/jobs', {
    type: 'fine-tune',
    spec: { base_model: 'moc-demo', dataset: 'train.jsonl', output_name: 'x:block', params: { step_ms: 600_000 } },
  });
  await jobWhere(h, blocker.body.id, (j) => j.state === 'running', 'the blocker runs here');
  const cfg = h.coordinator.config;
  const b = await spawnServer({
    yaml: [
      'server: { grpcPort: 0 }',
      'rest: { enabled: false }',
      'zmq: { enabled: false }',
      `dataDir: ${cfg.dataDir}`,
      `modelsRoot: ${cfg.modelsRoot}`,
      'jobs: { pollMs: 100, parallelism: 1, leaseMs: 3000 }',
    ].join('\n'),
  });
  t.teardown(() => b.stop().then(() => {}));
  const client = modelOpsClient(b.grpcAddress) as grpc.Client & Record<string, any>;
  t.teardown(() => client.close());
  const submitted = await new Promise<any>((resolve, reject) =>
    client.SubmitJob(
      {
        type: 'fine-tune',
        spec_json: JSON.stringify({
          base_model: 'moc-demo',
          dataset: 'train.jsonl',
          output_name: 'x:there',
          params: { epochs: 2, step_ms: 400 },
        }),
      },
      { deadline: Date.now() + 30_000 },
      (err: grpc.ServiceError | null, r: any) => (err ? reject(err) : resolve(r)),
    ),
  );
  const id: string = submitted.id;

  const goal = await rest(h, 'POST', '/v1/goals', { title: 'train it there', jobs: [id] });
  t.equal(goal.status, 201, JSON.stringify(goal.body));
  const events = await readEvents(await follow(h, id));
  const done = events.at(-1)!;
  t.equal(done.event, 'done');
  t.equal(done.data.state, 'succeeded', JSON.stringify(done.data.error ?? ''));
  t.ok(
    events.some((e) => e.data.state === 'running'),
    'its run in the other process was seen here',
  );
  const claims = h.coordinator.store
    .readEvents()
    .flatMap(({ event: e }) =>
      e.type === 'job.updated' && e.job.id === id && e.job.state === 'running' ? [e.job.lease!.owner] : [],
    );
  t.ok(
    claims.length > 0 && claims.every((o) => o !== h.coordinator.jobsView!.owner),
    `run by the other process only (${[...new Set(claims)]})`,
  );
  t.equal(h.coordinator.store.getJob(id)!.attempts, 1, 'in one attempt');

  const achieved = await until(
    'the goal follows the job run elsewhere',
    async () => {
      const g = await rest(h, 'GET', `/v1/goals/${goal.body.id}`);
      return g.body.state === 'achieved' ? g.body : undefined;
    },
    10_000,
  );
  t.match(achieved.reason, id, 'achieved by the job the other process ran');
  await rest(h, 'POST', `/v1/jobs/${blocker.body.id}/cancel`);
});

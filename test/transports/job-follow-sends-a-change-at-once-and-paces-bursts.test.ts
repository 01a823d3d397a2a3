/**
 * followJob (src/transports/job-follow.ts, behind gRPC WatchJob and REST's job events): the job now; its first change
 * at once (a client waiting for `running` sees it when this process does, not an interval later); changes that follow
 * a sent change within minIntervalMs coalesced into the latest, sent when the interval ends; the end at once.
 */
import t from 'tap';
import type { Job } from '../../schemas/jobs.js';
import type { JobResource } from '../../schemas/rest.js';
import { followJob } from '../../src/transports/job-follow.js';
import { jobResource } from '../../src/transports/views.js';
import { jobRecord } from '../helpers/records.js';

const INTERVAL = 200;
const base = jobRecord({ id: 'job-1', createdAt: 1, queuedAt: 1, updatedAt: 1 });

function harness() {
  let listener: ((j: Job) => void) | null = null;
  const sent: { state: string; fraction: number; at: number }[] = [];
  const t0 = performance.now();
  let resolveRead!: (j: JobResource) => void;
  const stop = followJob(
    base.id,
    {
      read: () => new Promise<JobResource>((r) => (resolveRead = r)),
      jobs: {
        watch: (l) => {
          listener = l;
          return () => (listener = null);
        },
      },
      minIntervalMs: INTERVAL,
    },
    {
      send: (j) => sent.push({ state: j.state, fraction: j.progress.fraction, at: performance.now() - t0 }),
      fail: (err) => {
        throw err;
      },
    },
  );
  const change = (n: number, patch: Partial<Job>) =>
    listener?.({ ...base, updatedAt: 1 + n, progress: { fraction: n / 10, message: `step ${n}` }, ...patch });
  return { sent, change, read: (j: Job) => resolveRead(jobResource(j)), stop, t0 };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('the snapshot, then the first change at once; a burst after it paced; the end at once', async (t) => {
  const h = harness();
  t.teardown(h.stop);
  h.read(base);
  await tick(0);
  t.same(
    h.sent.map((s) => s.state),
    ['queued'],
    'the job now',
  );
  h.change(1, { state: 'running' });
  t.same(h.sent.at(-1)?.state, 'running', 'the first change at once, not after the interval');
  for (let n = 2; n <= 5; n++) h.change(n, { state: 'running' });
  t.equal(h.sent.length, 2, 'changes right after a sent one wait');
  await tick(INTERVAL + 100);
  t.same(
    h.sent.map((s) => s.fraction),
    [0, 0.1, 0.5],
    'the burst went as its latest, once',
  );
  t.ok(h.sent[2]!.at - h.sent[1]!.at >= INTERVAL - 5, 'no sooner than the interval after the last send');
  await tick(INTERVAL + 50);
  h.change(6, { state: 'running' });
  t.equal(h.sent.at(-1)?.fraction, 0.6, 'after a quiet spell: at once again');
  h.change(7, { state: 'running' });
  h.change(8, { state: 'succeeded' });
  t.same(h.sent.at(-1)?.state, 'succeeded', 'the end at once, even inside the interval');
  t.equal(h.sent.length, 5);
});

t.test('a change before the first read is not sent ahead of it; the newer of the two goes', async (t) => {
  const h = harness();
  t.teardown(h.stop);
  h.change(3, { state: 'running' });
  t.same(h.sent, [], 'nothing before the read');
  h.read(base); // older than the change
  await tick(0);
  t.same(
    h.sent.map((s) => s.state),
    ['running'],
    'the change, the newer; the older read never after it',
  );
});

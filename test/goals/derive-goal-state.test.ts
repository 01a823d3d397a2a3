/**
 * deriveGoal: a goal's state from its linked jobs and the clock, as a pure function: every rule, its precedence, and
 * the one-line reason each state gives.
 */
import t from 'tap';
import { deriveGoal, describeCriterion, meets } from '../../actors/goals/derive.js';
import type { Goal } from '../../schemas/goals.js';
import type { Job, JobState } from '../../schemas/jobs.js';

const NOW = 1_700_000_000_000;

const goal = (o: Partial<Goal> = {}): Goal => ({
  id: 'goal-1',
  title: 't',
  description: '',
  priority: 0,
  owner: 'open',
  state: 'pending',
  jobs: [],
  deadlineMs: 0,
  createdAt: NOW - 10_000,
  updatedAt: NOW - 10_000,
  endedAt: 0,
  reason: '',
  ...o,
});

const job = (id: string, state: JobState, o: { metrics?: Record<string, number>; endedAt?: number } = {}): Job => ({
  id,
  type: 'evaluate',
  spec: {},
  priority: 0,
  owner: 'open',
  memoryBytes: 0,
  state,
  attempts: 1,
  maxAttempts: 1,
  progress: { fraction: 0, message: '' },
  createdAt: NOW - 9000,
  queuedAt: NOW - 9000,
  startedAt: NOW - 8000,
  endedAt: o.endedAt ?? (['succeeded', 'failed', 'cancelled'].includes(state) ? NOW - 1000 : 0),
  updatedAt: NOW - 1000,
  logTail: [],
  outputs: { files: [], metrics: o.metrics ?? {}, models: [] },
  cancelRequested: false,
  notBefore: 0,
});

const ppl = { metric: 'perplexity', op: 'lte' as const, value: 20 };
const acc = { metric: 'accuracy', op: 'gte' as const, value: 0.9 };

t.test('criterion text and the meets rule', async (t) => {
  t.equal(describeCriterion(ppl), 'perplexity ≤ 20');
  t.equal(describeCriterion(acc), 'accuracy ≥ 0.9');
  t.ok(meets(job('job-a', 'succeeded', { metrics: { perplexity: 20 } }), ppl), 'lte is inclusive');
  t.notOk(meets(job('job-a', 'succeeded', { metrics: { perplexity: 20.01 } }), ppl));
  t.ok(meets(job('job-a', 'succeeded', { metrics: { accuracy: 0.9 } }), acc), 'gte is inclusive');
  t.notOk(meets(job('job-a', 'succeeded', { metrics: { accuracy: 0.89 } }), acc));
  t.notOk(meets(job('job-a', 'running', { metrics: { perplexity: 1 } }), ppl), 'only a succeeded job meets');
  t.notOk(
    meets(job('job-a', 'failed', { metrics: { perplexity: 1 } }), ppl),
    'a failed job with a good metric does not meet',
  );
  t.notOk(meets(job('job-a', 'succeeded', { metrics: {} }), ppl), 'no metric: not met');
  t.notOk(meets(job('job-a', 'succeeded', { metrics: { perplexity: NaN } }), ppl), 'NaN is not a value');
});

t.test('pending: no jobs, or linked ids the store does not know', async (t) => {
  const none = deriveGoal(goal(), [], NOW);
  t.same(none, { state: 'pending', endedAt: 0, reason: 'no jobs linked yet' });
  t.notOk('achievedBy' in none);
  const unknown = deriveGoal(goal({ jobs: ['job-x', 'job-y'] }), [undefined, undefined], NOW);
  t.equal(unknown.state, 'pending');
  t.match(unknown.reason, /job-x, job-y/);
  t.match(unknown.reason, /not in the store/);
  const someKnownEnded = deriveGoal(goal({ jobs: ['job-a', 'job-x'] }), [job('job-a', 'failed'), undefined], NOW);
  t.equal(someKnownEnded.state, 'pending', 'an unknown job may still come: not failed');
  t.match(someKnownEnded.reason, /job-x/);
});

t.test('active while any linked job is queued, running or retrying', async (t) => {
  for (const s of ['queued', 'running', 'retrying'] as const) {
    const d = deriveGoal(goal({ jobs: ['job-a'], criterion: ppl }), [job('job-a', s)], NOW);
    t.equal(d.state, 'active', s);
    t.equal(d.reason, `under way: job-a ${s}`);
    t.equal(d.endedAt, 0);
  }
  const mixed = deriveGoal(
    goal({ jobs: ['job-a', 'job-b', 'job-c'] }),
    [job('job-a', 'failed'), job('job-b', 'running'), undefined],
    NOW,
  );
  t.equal(mixed.state, 'active', 'one running, one ended, one unknown');
  t.equal(mixed.reason, 'under way: job-b running');
  const bad = deriveGoal(
    goal({ jobs: ['job-a', 'job-b'], criterion: ppl }),
    [job('job-a', 'succeeded', { metrics: { perplexity: 30 } }), job('job-b', 'queued')],
    NOW,
  );
  t.equal(bad.state, 'active', 'a succeeded job that misses the criterion leaves the goal waiting for the others');
});

t.test('achieved by the criterion: first meeting job by endedAt', async (t) => {
  const jobs = [
    job('job-late', 'succeeded', { metrics: { perplexity: 5 }, endedAt: NOW - 100 }),
    job('job-miss', 'succeeded', { metrics: { perplexity: 25 }, endedAt: NOW - 3000 }),
    job('job-first', 'succeeded', { metrics: { perplexity: 19.5 }, endedAt: NOW - 2000 }),
    job('job-run', 'running'),
  ];
  const d = deriveGoal(goal({ jobs: jobs.map((j) => j.id), criterion: ppl }), jobs, NOW);
  t.equal(d.state, 'achieved', 'achieved although another job still runs');
  t.same(d.achievedBy, { job: 'job-first', metric: 'perplexity', value: 19.5 });
  t.equal(d.reason, 'job job-first met perplexity ≤ 20 with perplexity 19.5');
  t.equal(d.endedAt, NOW);
  const up = deriveGoal(
    goal({ jobs: ['job-a'], criterion: acc }),
    [job('job-a', 'succeeded', { metrics: { accuracy: 0.95 } })],
    NOW,
  );
  t.equal(up.state, 'achieved', 'gte');
  t.same(up.achievedBy, { job: 'job-a', metric: 'accuracy', value: 0.95 });
  const withUnknown = deriveGoal(
    goal({ jobs: ['job-a', 'job-x'], criterion: ppl }),
    [job('job-a', 'succeeded', { metrics: { perplexity: 3 } }), undefined],
    NOW,
  );
  t.equal(withUnknown.state, 'achieved', 'one meeting job is enough, whatever the others');
});

t.test('achieved without a criterion: at least one job and all succeeded', async (t) => {
  const one = deriveGoal(goal({ jobs: ['job-a'] }), [job('job-a', 'succeeded')], NOW);
  t.same(one, { state: 'achieved', endedAt: NOW, reason: 'linked job job-a succeeded' });
  t.notOk('achievedBy' in one, 'no metric, no achievedBy');
  const two = deriveGoal(
    goal({ jobs: ['job-a', 'job-b'] }),
    [job('job-a', 'succeeded'), job('job-b', 'succeeded')],
    NOW,
  );
  t.equal(two.state, 'achieved');
  t.equal(two.reason, 'all 2 linked jobs succeeded');
  t.equal(
    deriveGoal(goal({ jobs: ['job-a', 'job-b'] }), [job('job-a', 'succeeded'), job('job-b', 'running')], NOW).state,
    'active',
  );
  t.equal(
    deriveGoal(goal({ jobs: ['job-a', 'job-x'] }), [job('job-a', 'succeeded'), undefined], NOW).state,
    'pending',
    'an unknown linked job is not a succeeded one',
  );
});

t.test('failed when every linked job ended and none met; the reason says how each ended', async (t) => {
  const jobs = [
    job('job-a', 'succeeded', { metrics: { perplexity: 25.5 } }),
    job('job-b', 'failed'),
    job('job-c', 'succeeded', { metrics: {} }),
    job('job-d', 'cancelled'),
  ];
  const d = deriveGoal(goal({ jobs: jobs.map((j) => j.id), criterion: ppl }), jobs, NOW);
  t.equal(d.state, 'failed');
  t.equal(d.endedAt, NOW);
  t.notOk(d.achievedBy);
  t.equal(
    d.reason,
    'all 4 linked jobs ended without meeting perplexity ≤ 20 (job-a perplexity 25.5, job-b failed, job-c reported no perplexity and 1 more)',
  );
  t.notMatch(d.reason, /\n/, 'one line');
  const single = deriveGoal(
    goal({ jobs: ['job-a'], criterion: ppl }),
    [job('job-a', 'succeeded', { metrics: { perplexity: 21 } })],
    NOW,
  );
  t.equal(single.reason, 'the linked job ended without meeting perplexity ≤ 20 (job-a perplexity 21)');
  const noCrit = deriveGoal(
    goal({ jobs: ['job-a', 'job-b'] }),
    [job('job-a', 'succeeded'), job('job-b', 'cancelled')],
    NOW,
  );
  t.equal(noCrit.state, 'failed');
  t.equal(noCrit.reason, 'all 2 linked jobs ended but not all succeeded (job-b cancelled)');
});

t.test('deadline: failed once passed unless achieved in time; a job meeting it late does not count', async (t) => {
  const deadline = NOW - 500;
  const running = deriveGoal(
    goal({ jobs: ['job-a'], criterion: ppl, deadlineMs: deadline }),
    [job('job-a', 'running')],
    NOW,
  );
  t.equal(running.state, 'failed', 'a running job does not hold off the deadline');
  t.equal(
    running.reason,
    `the deadline ${new Date(deadline).toISOString()} passed before a linked job met perplexity ≤ 20`,
  );
  t.equal(running.endedAt, NOW);

  t.equal(
    deriveGoal(goal({ jobs: ['job-a'], criterion: ppl, deadlineMs: NOW + 1 }), [job('job-a', 'running')], NOW).state,
    'active',
    'not yet',
  );
  t.equal(
    deriveGoal(goal({ jobs: ['job-a'], criterion: ppl, deadlineMs: NOW }), [job('job-a', 'running')], NOW).state,
    'failed',
    'the deadline itself counts as passed',
  );

  const inTime = deriveGoal(
    goal({ jobs: ['job-a'], criterion: ppl, deadlineMs: deadline }),
    [job('job-a', 'succeeded', { metrics: { perplexity: 10 }, endedAt: deadline - 1 })],
    NOW,
  );
  t.equal(inTime.state, 'achieved', 'met before the deadline, seen after it: achieved');

  const late = deriveGoal(
    goal({ jobs: ['job-a'], criterion: ppl, deadlineMs: deadline }),
    [job('job-a', 'succeeded', { metrics: { perplexity: 10 }, endedAt: deadline + 1 })],
    NOW,
  );
  t.equal(late.state, 'failed');
  t.match(late.reason, /job-a met it after the deadline/);

  const noJobs = deriveGoal(goal({ deadlineMs: deadline }), [], NOW);
  t.equal(noJobs.state, 'failed');
  t.match(noJobs.reason, /before any job was linked/);

  const allLate = deriveGoal(
    goal({ jobs: ['job-a'], deadlineMs: deadline }),
    [job('job-a', 'succeeded', { endedAt: deadline + 5 })],
    NOW,
  );
  t.equal(allLate.state, 'failed', 'without a criterion too: the last success came after the deadline');
  t.match(allLate.reason, /before all linked jobs succeeded/);

  t.equal(
    deriveGoal(goal({ jobs: ['job-a'], deadlineMs: 0 }), [job('job-a', 'running')], NOW + 10 ** 12).state,
    'active',
    'deadline 0: none',
  );
});

t.test('terminal goals stay as they are', async (t) => {
  const cancelled = goal({
    state: 'cancelled',
    reason: 'cancelled',
    endedAt: NOW - 5,
    jobs: ['job-a'],
    criterion: ppl,
  });
  t.same(deriveGoal(cancelled, [job('job-a', 'succeeded', { metrics: { perplexity: 1 } })], NOW), {
    state: 'cancelled',
    reason: 'cancelled',
    endedAt: NOW - 5,
  });
  const achievedBy = { job: 'job-a', metric: 'perplexity', value: 1 };
  const achieved = goal({
    state: 'achieved',
    reason: 'r',
    endedAt: NOW - 5,
    achievedBy,
    jobs: ['job-a'],
    criterion: ppl,
    deadlineMs: NOW - 1,
  });
  t.same(
    deriveGoal(achieved, [job('job-a', 'failed')], NOW),
    { state: 'achieved', reason: 'r', endedAt: NOW - 5, achievedBy },
    'an achieved goal does not fail at its deadline',
  );
  const failed = goal({ state: 'failed', reason: 'r', endedAt: NOW - 5, jobs: ['job-a'], criterion: ppl });
  t.equal(deriveGoal(failed, [job('job-a', 'succeeded', { metrics: { perplexity: 1 } })], NOW).state, 'failed');
});

t.test('only linked jobs count, each once; the records may come in any order', async (t) => {
  const stranger = job('job-z', 'succeeded', { metrics: { perplexity: 1 } });
  t.equal(
    deriveGoal(goal({ jobs: ['job-a'], criterion: ppl }), [stranger, job('job-a', 'running')], NOW).state,
    'active',
    'a record of a job the goal does not link is ignored',
  );
  const a = job('job-a', 'succeeded');
  t.equal(
    deriveGoal(goal({ jobs: ['job-a', 'job-b'] }), [job('job-b', 'succeeded'), a, a], NOW).reason,
    'all 2 linked jobs succeeded',
  );
});

t.test('pure: same inputs, same answer; the goal is not modified', async (t) => {
  const g = goal({ jobs: ['job-a'], criterion: ppl });
  const frozen = JSON.stringify(g);
  const jobs = [job('job-a', 'succeeded', { metrics: { perplexity: 3 } })];
  t.same(deriveGoal(g, jobs, NOW), deriveGoal(g, jobs, NOW));
  t.equal(JSON.stringify(g), frozen);
});

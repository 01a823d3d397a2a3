/**
 * A plan's decisions as pure functions of the goal, its jobs, the feedback count and the clock (actors/goals/plan.ts):
 * each trigger, the budget, a step's end, the keyed request of a step, and a stale decision that writes nothing.
 */
import t from 'tap';
import { applyPlan, initialPlanState, planAction, stepRequest } from '../../actors/goals/plan.js';
import { deriveGoal } from '../../actors/goals/derive.js';
import type { Goal, GoalPlan } from '../../schemas/goals.js';
import type { Job } from '../../schemas/jobs.js';

const T0 = Date.UTC(2026, 0, 1);

function goalWith(plan: GoalPlan, feedback = 0): Goal {
  return {
    id: 'goal-test',
    title: 't',
    description: '',
    priority: 2,
    owner: 'ops',
    state: 'pending',
    jobs: [],
    deadlineMs: 0,
    createdAt: T0,
    updatedAt: T0,
    endedAt: 0,
    reason: '',
    plan,
    planState: initialPlanState(plan, feedback, T0),
  };
}

const job = (id: string, state: Job['state'], error?: Job['error']) =>
  ({ id, state, ...(error ? { error } : {}) }) as Job;
const steps: GoalPlan['steps'] = [
  { type: 'export-feedback', spec: { format: 'trl-preference', output: 'fb-{goal}-{attempt}.jsonl' } },
  { type: 'evaluate', spec: { model: 'm-{attempt}', dataset: 'd.jsonl' }, memory_bytes: 5 },
];

t.test('triggers: demand at once, feedback after N records, schedule after every_ms', async (t) => {
  const none = () => undefined;
  t.same(planAction(goalWith({ steps, trigger: { on: 'demand' } }), none, 0, T0), { kind: 'start', attempt: 1 });
  const fb = goalWith({ steps, trigger: { on: 'feedback', every: 3 } }, 10);
  t.same(planAction(fb, none, 12, T0), { kind: 'wait' }, '2 new records of 3');
  t.same(planAction(fb, none, 13, T0), { kind: 'start', attempt: 1 });
  const sched = goalWith({ steps, trigger: { on: 'schedule', every_ms: 60_000 } });
  t.same(planAction(sched, none, 0, T0 + 59_999), { kind: 'wait' });
  t.same(planAction(sched, none, 0, T0 + 60_000), { kind: 'start', attempt: 1 });
  t.match(deriveGoal(sched, [], T0), {
    state: 'pending',
    reason: 'attempt 1 of 3 starts at 2026-01-01T00:01:00.000Z',
  });
});

t.test('an attempt: submit, wait, next step, end; then the budget', async (t) => {
  const plan: GoalPlan = { steps, trigger: { on: 'demand' }, max_attempts: 1 };
  const jobs = new Map<string, Job>();
  const at = (now: number) => ({ now, feedbackCount: 0, getJob: (id: string) => jobs.get(id) });
  let g = goalWith(plan);
  g = applyPlan(g, { kind: 'start', attempt: 1 }, at(T0 + 1))!;
  t.match(g.planState, {
    runRequested: false,
    markAt: T0 + 1,
    attempts: [{ attempt: 1, step: 0, outcome: 'running' }],
  });
  t.same(planAction(g, at(0).getJob, 0, T0), { kind: 'submit', attempt: 1, step: 0 }, 'step 1 not recorded yet');

  const req = stepRequest(g, 1, 0);
  t.same(req, {
    type: 'export-feedback',
    spec: { format: 'trl-preference', output: 'fb-goal-test-1.jsonl' },
    priority: 2,
    request_id: 'plan:goal-test:1:0',
  });
  t.same(stepRequest(g, 4, 1).spec, { model: 'm-4', dataset: 'd.jsonl' });
  t.equal(stepRequest(g, 4, 1).memory_bytes, 5);

  g = applyPlan(g, { kind: 'submit', attempt: 1, step: 0 }, at(T0 + 2), { jobId: 'job-a' })!;
  t.same(g.jobs, ['job-a'], 'the step is linked to the goal');
  jobs.set('job-a', job('job-a', 'running'));
  t.same(planAction(g, at(0).getJob, 0, T0), { kind: 'wait' });
  t.match(deriveGoal(g, [jobs.get('job-a')], T0), {
    state: 'active',
    reason: 'attempt 1 of 1: step 1 of 2 (export-feedback job job-a)',
  });
  jobs.set('job-a', job('job-a', 'succeeded'));
  t.same(planAction(g, at(0).getJob, 0, T0), { kind: 'next', attempt: 1, step: 0 });
  // A stale decision (another process moved the plan on) writes nothing.
  t.equal(applyPlan(g, { kind: 'submit', attempt: 1, step: 0 }, at(T0), { jobId: 'job-x' }), null);
  g = applyPlan(g, { kind: 'next', attempt: 1, step: 0 }, at(T0 + 3))!;
  g = applyPlan(g, { kind: 'submit', attempt: 1, step: 1 }, at(T0 + 4), { jobId: 'job-b' })!;
  jobs.set('job-b', job('job-b', 'failed', { code: 'MOC_ERR_MODEL_NOT_FOUND', message: "no model 'm-1'" }));
  const end = planAction(g, at(0).getJob, 0, T0);
  t.same(end, {
    kind: 'end',
    attempt: 1,
    outcome: 'failed',
    reason: "step 2 (evaluate) job job-b failed: MOC_ERR_MODEL_NOT_FOUND: no model 'm-1'",
  });
  g = applyPlan(g, end as Exclude<typeof end, { kind: 'wait' }>, at(T0 + 5))!;
  t.same(
    planAction({ ...g, planState: { ...g.planState!, runRequested: true } }, at(0).getJob, 0, T0),
    {
      kind: 'wait',
    },
    'no attempt is left, even when asked',
  );
  t.match(deriveGoal(g, [...jobs.values()], T0 + 6), {
    state: 'failed',
    reason:
      /^its plan ended before an attempt of its plan succeeded \(attempt 1 failed: step 2 .*no attempt is left of 1\)$/,
  });
});

t.test('without a criterion, a goal with a plan is achieved by an attempt that succeeded', async (t) => {
  const g = goalWith({ steps: [steps[0]!], trigger: { on: 'demand' } });
  g.planState!.attempts.push({
    attempt: 1,
    startedAt: T0,
    endedAt: T0 + 1,
    jobs: ['job-a'],
    step: 0,
    outcome: 'succeeded',
    reason: 'its 1 step succeeded',
  });
  g.jobs = ['job-a'];
  t.match(deriveGoal(g, [job('job-a', 'succeeded')], T0 + 2), {
    state: 'achieved',
    reason: 'attempt 1 of its plan succeeded',
  });
});

t.test("a criterion's op may be spelt as promote_if spells it: >= is gte, <= is lte", async (t) => {
  const g = goalWith({ steps: [steps[1]!], trigger: { on: 'demand' } });
  const j = { ...job('job-e', 'succeeded'), endedAt: T0, outputs: { files: [], models: [], metrics: { acc: 0.9 } } };
  g.jobs = ['job-e'];
  for (const [op, value, state] of [
    ['>=', 0.8, 'achieved'],
    ['<=', 0.8, 'pending'],
    ['<=', 0.95, 'achieved'],
  ] as const) {
    const d = deriveGoal({ ...g, criterion: { metric: 'acc', op, value } }, [j], T0 + 1);
    t.equal(d.state, state, `acc 0.9 ${op} ${value}: ${d.reason}`);
  }
});

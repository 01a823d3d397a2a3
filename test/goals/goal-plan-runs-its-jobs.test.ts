/**
 * Goals that act: a goal with a plan runs its job chain itself — started by its trigger (new feedback records, a
 * demand), each step a job linked to the goal and keyed `plan:<goal>:<attempt>:<step>`, attempts recorded in the goal,
 * within a budget of attempts — and stops when its criterion is met. A restart resumes the plan where the goal's
 * record says, and a step submitted but not recorded before a stop is found again by its key, not run twice.
 * Real coordinator, real jobs on the demo model, the built-in demo trainer.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Store } from '../../src/store/store.js';
import { startHarness, type Harness } from '../helpers/coordinator.js';
import { goalWhere } from '../helpers/goals.js';
import { runMoc } from '../helpers/cli.js';
import { rest, writeDataset } from './../jobs/helpers.js';

const PAIRS = [1, 2, 3, 4].map((i) => ({ prompt: `question ${i}?`, chosen: ' yes.', rejected: ' no.' }));

const jobsKeyed = (h: Harness, prefix: string) =>
  h.coordinator.store.listJobs().filter((j) => j.requestId?.startsWith(prefix));

t.test('a feedback trigger starts the plan; its steps run as linked jobs until the criterion is met', async (t) => {
  const h = await startHarness(t);
  const created = await rest(h, 'POST', '/v1/goals', {
    title: 'learn from feedback',
    // Only the evaluate step reports it (a log-probability is never above 0).
    criterion: { metric: 'chosen_log_prob', op: 'lte', value: 0 },
    plan: {
      trigger: { on: 'feedback', every: 3 },
      max_attempts: 2,
      steps: [
        { type: 'export-feedback', spec: { format: 'trl-preference', output: 'fb-{goal}-{attempt}.jsonl' } },
        {
          type: 'fine-tune',
          spec: {
            base_model: 'moc-demo',
            dataset: 'fb-{goal}-{attempt}.jsonl',
            output_name: 'tuned-{attempt}',
            trainer: 'demo',
          },
        },
        { type: 'evaluate', spec: { model: 'tuned-{attempt}', dataset: 'fb-{goal}-{attempt}.jsonl' } },
      ],
    },
  });
  t.equal(created.status, 201, JSON.stringify(created.body));
  const g = created.body;
  t.equal(g.state, 'pending');
  t.match(g.reason, /attempt 1 of 2 starts after 3 new feedback records \(counted from 0\)/);
  t.same(g.plan_state.attempts, [], 'no attempt before the trigger');

  for (const p of PAIRS.slice(0, 2)) t.equal((await rest(h, 'POST', '/v1/feedback', p)).status, 201);
  // Two of three records: the plan's tick (every second) sees them and starts nothing.
  await new Promise((r) => setTimeout(r, 1500));
  const waiting = (await rest(h, 'GET', `/v1/goals/${g.id}`)).body;
  t.same(waiting.jobs, [], 'two records of three start nothing');
  t.equal(waiting.state, 'pending');

  t.equal((await rest(h, 'POST', '/v1/feedback', PAIRS[2])).status, 201);
  const done = await goalWhere(h, g.id, (x) => x.state === 'achieved', 'achieved');
  t.equal(done.jobs.length, 3, 'one job per step, linked to the goal');
  const jobs = done.jobs.map((id: string) => h.coordinator.store.getJob(id)!);
  t.same(
    jobs.map((j: any) => [j.type, j.state, j.requestId, j.owner]),
    [0, 1, 2].map((i) => [
      ['export-feedback', 'fine-tune', 'evaluate'][i],
      'succeeded',
      `plan:${g.id}:1:${i}`,
      g.owner,
    ]),
    'the steps ran in order, keyed by goal, attempt and step, as the goal owner',
  );
  t.same(jobs[1].spec.dataset, `fb-${g.id}-1.jsonl`, '{goal} and {attempt} were filled in');
  t.ok(existsSync(path.join(h.coordinator.config.jobs.datasetsRoot, `fb-${g.id}-1.jsonl`)));
  t.match(done.achieved_by, { job: jobs[2].id, metric: 'chosen_log_prob' }, 'achieved by the evaluate step');
  t.equal(done.plan_state.attempts.length, 1);
  t.match(done.plan_state.attempts[0], { attempt: 1, outcome: 'succeeded', jobs: done.jobs });

  const history = (await rest(h, 'GET', `/v1/goals/${g.id}/history`)).body.goals;
  const states = history.map((v: any) => v.state);
  t.same([states[0], states.at(-1)], ['pending', 'achieved']);
  t.ok(states.includes('active'), `the attempt shows in its history: ${states.join(' → ')}`);
  t.ok(
    history.some((v: any) => /attempt 1 of 2: step 2 of 3 \(fine-tune job job-/.test(v.reason)),
    'each step is a version of the goal, saying which job runs',
  );
  t.equal(jobsKeyed(h, `plan:${g.id}:`).length, 3, 'nothing else was submitted');
});

t.test('a demand trigger runs when asked, within a budget of attempts; a refused step ends its attempt', async (t) => {
  const h = await startHarness(t);
  writeDataset(h, 'held.jsonl', PAIRS);

  const bad = await rest(h, 'POST', '/v1/goals', {
    title: 'bad step',
    plan: { trigger: { on: 'demand' }, steps: [{ type: 'evaluate', spec: { dataset: 'held.jsonl' } }] },
  });
  t.equal(bad.status, 400);
  t.match(bad.body.error, { code: 'MOC_ERR_INVALID_ARGUMENT', details: { field: /^plan\.steps\[0\]\.spec/ } });
  t.match(bad.body.error.message, /model/, bad.body.error.message);

  // Created with the CLI, as an operator would.
  const env = { MOC_URL: h.restUrl };
  const plan = {
    trigger: { on: 'demand' },
    max_attempts: 2,
    steps: [{ type: 'evaluate', spec: { model: 'moc-demo', dataset: 'held.jsonl' } }],
  };
  const created = await runMoc(
    t,
    [
      'goals',
      'create',
      'unreachable',
      '--criterion',
      JSON.stringify({ metric: 'preference_accuracy', op: 'gte', value: 2 }),
      '--plan',
      JSON.stringify(plan),
      '--json',
    ],
    env,
  );
  t.equal(created.code, 0, created.err);
  const id = JSON.parse(created.out).id as string;
  const after1 = await goalWhere(h, id, (g) => g.plan_state.attempts[0]?.outcome === 'succeeded', 'attempt 1 ended');
  t.equal(after1.state, 'pending', 'attempt 1 did not meet the criterion; one attempt is left');
  t.match(after1.reason, /attempt 1 succeeded: its 1 step succeeded; attempt 2 of 2 starts when asked/);
  const noPlan = await rest(h, 'POST', '/v1/goals', { title: 'no plan' });
  const refused = await rest(h, 'PUT', `/v1/goals/${noPlan.body.id}`, { run: true });
  t.equal(refused.status, 400, 'run: true on a goal without a plan is refused');

  const run = await runMoc(t, ['goals', 'run', id], env);
  t.equal(run.code, 0, run.err);
  t.match(run.out, new RegExp(`^${id}: (pending|active): `));
  const failed = await goalWhere(h, id, (g) => g.state === 'failed', 'failed');
  t.match(failed.reason, /its plan ended before a linked job met preference_accuracy ≥ 2 .*no attempt is left of 2/);
  t.same(
    failed.plan_state.attempts.map((a: any) => [a.attempt, a.outcome, a.jobs.length]),
    [
      [1, 'succeeded', 1],
      [2, 'succeeded', 1],
    ],
  );
  t.equal(jobsKeyed(h, `plan:${id}:`).length, 2);

  const refusedStep = await rest(h, 'POST', '/v1/goals', {
    title: 'no such trainer',
    plan: {
      trigger: { on: 'demand' },
      max_attempts: 1,
      steps: [
        {
          type: 'fine-tune',
          spec: { base_model: 'moc-demo', dataset: 'held.jsonl', output_name: 'x-{attempt}', trainer: 'nope' },
        },
      ],
    },
  });
  t.equal(refusedStep.status, 201);
  const ended = await goalWhere(h, refusedStep.body.id, (g) => g.state === 'failed', 'failed');
  t.match(ended.plan_state.attempts[0], {
    outcome: 'failed',
    reason:
      /step 1 \(fine-tune\) was refused: MOC_ERR_INVALID_ARGUMENT: spec\.trainer: 'nope' is not a configured trainer/,
  });
});

t.test(
  'a restart resumes the plan; a step submitted but not recorded is found by its key, not run twice',
  async (t) => {
    const dir = t.testdir();
    const h1 = await startHarness(t, {}, { dir });
    writeDataset(h1, 'texts.jsonl', PAIRS);
    const created = await rest(h1, 'POST', '/v1/goals', {
      title: 'survives a restart',
      plan: {
        trigger: { on: 'demand' },
        steps: [
          {
            type: 'fine-tune',
            spec: {
              base_model: 'moc-demo',
              dataset: 'texts.jsonl',
              output_name: 'resumed-{attempt}',
              trainer: 'demo',
              params: { step_ms: 400 },
            },
          },
          { type: 'evaluate', spec: { model: 'resumed-{attempt}', dataset: 'texts.jsonl' } },
        ],
      },
    });
    t.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const running = await goalWhere(h1, id, (g) => g.jobs.length === 1, 'step 1 submitted');
    const first = running.jobs[0];
    await h1.close();

    // What a kill -9 between the submit and the goal's write leaves: the job exists, the goal does not name it.
    const store = Store.open(h1.coordinator.config.dataDir);
    await store.updateGoal(id, (g) => {
      const ps = structuredClone(g.planState!);
      ps.attempts[0]!.jobs = [];
      return { ...g, jobs: [], planState: ps };
    });
    t.equal(store.getJob(first)?.requestId, `plan:${id}:1:0`);
    await store.close();

    const h2 = await startHarness(t, {}, { dir });
    const done = await goalWhere(h2, id, (g) => g.state === 'achieved', 'achieved after the restart');
    t.equal(done.jobs[0], first, 'the plan found the job its key names');
    t.same(
      jobsKeyed(h2, `plan:${id}:`).map((j) => [j.requestId, j.state]),
      [
        [`plan:${id}:1:0`, 'succeeded'],
        [`plan:${id}:1:1`, 'succeeded'],
      ].sort(),
      'one job per step',
    );
    t.match(done.reason, /attempt 1 of its plan succeeded/);
  },
);

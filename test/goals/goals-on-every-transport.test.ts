import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from '../jobs/helpers.js';

t.test(
  'a goal linked to an evaluation is achieved when the metric meets its criterion; every transport sees it',
  async (t) => {
    const h = await startHarness(t);
    writeDataset(h, 'eval.jsonl', TEXTS);
    const job = await rest(h, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'eval.jsonl' },
    });
    const easy = await h.unary('CreateGoal', {
      title: 'demo perplexity under a million',
      priority: 5,
      jobs: [job.body.id],
      criterion: { metric: 'perplexity', op: 'lte', value: 1e6 },
    });
    t.match(easy.state, /GOAL_STATE_(PENDING|ACTIVE)/);
    const hard = await rest(h, 'POST', '/v1/goals', {
      title: 'perplexity under 1',
      jobs: [job.body.id],
      criterion: { metric: 'perplexity', op: 'lte', value: 1 },
    });
    t.equal(hard.status, 201);
    await jobWhere(h, job.body.id, ended, 'evaluation ended');
    const settle = async (id: string, want: string) => {
      const end = Date.now() + 10_000;
      for (;;) {
        // the goal follows the job's end through its own mailbox; read it back over REST until it has
        const g = (await rest(h, 'GET', `/v1/goals/${id}`)).body;
        if (g.state === want || Date.now() > end) return g;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const a = await settle(easy.id, 'achieved');
    t.equal(a.state, 'achieved', a.reason);
    t.equal(a.achieved_by.job, job.body.id);
    t.ok(a.achieved_by.value > 1, 'the metric that met it is recorded');
    const f = await settle(hard.body.id, 'failed');
    t.equal(f.state, 'failed', f.reason);
    t.match(f.reason, /perplexity/);

    const list = await h.unary('ListGoals', {});
    t.same(
      list.goals.map((g: any) => g.id),
      [easy.id, hard.body.id],
      'by priority',
    );
    const history = await h.unary('GoalHistory', { id: easy.id });
    t.ok(
      history.goals.length >= 2 && history.goals.at(-1).state === 'GOAL_STATE_ACHIEVED',
      'its history ends achieved',
    );
    const cancelled = await h.unary('CancelGoal', { id: easy.id });
    t.equal(cancelled.state, 'GOAL_STATE_ACHIEVED', 'an achieved goal is never overwritten');
  },
);

t.test('bad input and unknown ids get coded errors on every transport; nothing is stored', async (t) => {
  const h = await startHarness(t);
  const before = h.coordinator.store.listGoals().length;
  const e1 = await h.unary('CreateGoal', { title: '' }).catch((e) => e);
  t.equal(e1.code, grpc.status.INVALID_ARGUMENT);
  const e2 = await h.unary('CreateGoal', { title: 'x', jobs: ['job-doesnotexist'] }).catch((e) => e);
  t.equal(errorCode(e2), 'MOC_ERR_INVALID_ARGUMENT');
  t.match(e2.details, /does not exist/);
  const e3 = await rest(h, 'POST', '/v1/goals', {
    title: 'x',
    criterion: { metric: 'perplexity', op: 'lt', value: 1 },
  });
  t.equal(e3.status, 400, 'an unknown operator is refused');
  const e4 = await rest(h, 'GET', '/v1/goals/goal-nope');
  t.equal(e4.status, 404);
  t.equal(e4.body.error.code, 'MOC_ERR_GOAL_NOT_FOUND');
  const e5 = await rest(h, 'POST', '/v1/goals', { title: 'late', deadline_ms: 1000 });
  t.equal(e5.status, 400, 'a deadline in the past is refused');
  t.equal(h.coordinator.store.listGoals().length, before, 'nothing refused was stored');
  const upd = await rest(h, 'PUT', '/v1/goals/goal-nope', { priority: 3 });
  t.equal(upd.status, 404);

  // A plan travels as JSON on gRPC (plan_json, as a job's spec_json), both ways.
  const e6 = await h.unary('CreateGoal', { title: 'x', plan_json: '{steps' }).catch((e) => e);
  t.equal(errorCode(e6), 'MOC_ERR_INVALID_ARGUMENT');
  t.match(e6.details, /plan_json: is not JSON/);
  const plan = {
    trigger: { on: 'schedule', every_ms: 3_600_000 },
    max_attempts: 2,
    steps: [{ type: 'evaluate', spec: { model: 'moc-demo', dataset: 'none-{attempt}.jsonl' } }],
  };
  const planned = await h.unary('CreateGoal', { title: 'hourly', plan_json: JSON.stringify(plan) });
  t.same(JSON.parse(planned.plan_json), plan);
  t.match(JSON.parse(planned.plan_state_json), { attempts: [], run_requested: false });
  t.match(planned.reason, /attempt 1 of 2 starts at /);
  const run = await h.unary('UpdateGoal', { id: planned.id, run: true });
  t.ok(JSON.parse(run.plan_state_json).run_requested || run.jobs.length === 1, 'run: true asks for an attempt');
  const plain = await h.unary('CreateGoal', { title: 'no plan' });
  t.same([plain.plan_json, plain.plan_state_json], ['', ''], 'no plan: empty strings');
});

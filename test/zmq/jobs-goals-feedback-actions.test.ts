/**
 * The legacy learning and goal agents' ZMQ actions: the same operations, validation and error table as gRPC and REST;
 * bad input gets a coded reply and stores nothing; a retried submit with the same request_id makes one job.
 */
import t from 'tap';
import { zmqRequest as req } from '../helpers/zmq.js';
import { startHarness } from '../helpers/coordinator.js';
import { ended, jobWhere, TEXTS, writeDataset } from '../jobs/helpers.js';

t.test('submit_job, get_job, list_jobs, cancel_job, goals and feedback over ZMQ', async (t) => {
  const h = await startHarness(t);
  writeDataset(h, 'eval.jsonl', TEXTS);
  const submit = {
    action: 'submit_job',
    request_id: 'legacy-1',
    type: 'evaluate',
    spec: { model: 'moc-demo', dataset: 'eval.jsonl' },
  };
  const a = await req(h.zmqUrl, submit);
  t.equal(a.status, 'ok', JSON.stringify(a));
  const again = await req(h.zmqUrl, submit);
  t.equal(again.job.id, a.job.id, 'a retried submit (same request_id) is the same job');
  const done = await jobWhere(h, a.job.id, ended, 'evaluation');
  t.equal(done.state, 'succeeded');
  const got = await req(h.zmqUrl, { action: 'get_job', id: a.job.id });
  t.equal(got.job.outputs.metrics.perplexity, done.outputs.metrics.perplexity);
  t.equal((await req(h.zmqUrl, { action: 'list_jobs', state: 'succeeded' })).jobs.length, 1);
  t.equal(
    (await req(h.zmqUrl, { action: 'cancel_job', id: a.job.id })).job.state,
    'succeeded',
    'an ended job stays as it is',
  );

  const goal = await req(h.zmqUrl, { action: 'create_goal', title: 'legacy goal', jobs: [a.job.id] });
  t.equal(goal.status, 'ok', JSON.stringify(goal));
  t.equal((await req(h.zmqUrl, { action: 'goal_status', id: goal.goal.id })).goal.title, 'legacy goal');
  t.equal((await req(h.zmqUrl, { action: 'list_goals' })).goals.length, 1);
  const fb = await req(h.zmqUrl, { action: 'record_feedback', prompt: 'p', chosen: 'good', rejected: 'bad' });
  t.equal(fb.feedback.kind, 'preference');

  const stored = () => [
    h.coordinator.store.listJobs().length,
    h.coordinator.store.listGoals().length,
    h.coordinator.store.listFeedback().length,
  ];
  const before = stored();
  const bad = [
    [{ action: 'submit_job', type: 'evaluate', spec: { model: 'moc-demo' } }, 'INVALID_ARGUMENT'],
    [{ action: 'submit_job', type: 'nope', spec: {} }, 'INVALID_ARGUMENT'],
    [{ action: 'get_job', id: 'job-nope' }, 'NOT_FOUND'],
    [{ action: 'cancel_job' }, 'INVALID_ARGUMENT'],
    [{ action: 'create_goal', title: '' }, 'INVALID_ARGUMENT'],
    [{ action: 'goal_status', id: 'goal-nope' }, 'NOT_FOUND'],
    [{ action: 'update_goal', id: goal.goal.id, priority: 1000 }, 'INVALID_ARGUMENT'],
    [{ action: 'record_feedback', rating: 5, prompt: 'p', chosen: 'c' }, 'INVALID_ARGUMENT'],
    [{ action: 'record_feedback', comment: 'neither' }, 'INVALID_ARGUMENT'],
  ] as const;
  for (const [msg, code] of bad) {
    const r = await req(h.zmqUrl, msg);
    t.equal(r.status, 'error', JSON.stringify(msg));
    t.equal(r.code, code, `${msg.action}: ${r.message}`);
  }
  t.same(stored(), before, 'nothing refused was stored');
});

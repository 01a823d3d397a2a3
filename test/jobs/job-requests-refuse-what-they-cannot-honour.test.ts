/**
 * Job and goal requests refuse, with a coded error naming the field, what they would otherwise answer wrongly:
 * an idempotency key (a job's or goal's request_id, feedback's idempotency_key) reused with other parameters (409,
 * not the first record with 201); a device no
 * configuration names; a body on a cancel route (its fields were dropped unread); a gRPC enum filter the proto does
 * not define (every job was listed); and evaluate reads a dataset's lines by prepare-dataset's rules (strict UTF-8).
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from './helpers.js';

t.test('job and goal requests refuse what they cannot honour', async (t) => {
  const h = await startHarness(t);
  writeDataset(h, 'eval.jsonl', TEXTS);
  const jobs = () => h.coordinator.store.listJobs().length;

  t.test('a request_id reused with other parameters is a conflict naming the first job', async (t) => {
    const first = { type: 'evaluate', spec: { model: 'moc-demo', dataset: 'eval.jsonl' }, request_id: 'key-1' };
    const a = await rest(h, 'POST', '/v1/jobs', first);
    t.equal(a.status, 201);
    const retry = await rest(h, 'POST', '/v1/jobs', { ...first, spec: { dataset: 'eval.jsonl', model: 'moc-demo' } });
    t.equal(retry.body.id, a.body.id, 'a retry (spec keys in another order) is the first job');
    const before = jobs();
    const other = await rest(h, 'POST', '/v1/jobs', {
      type: 'export-feedback',
      spec: { format: 'trl-preference', output: 'x.jsonl' },
      request_id: 'key-1',
    });
    t.equal(other.status, 409, 'another type under the same key is refused');
    t.equal(other.body.error.code, 'MOC_ERR_REQUEST_ID_REUSED');
    t.same(other.body.error.details.job, a.body.id, 'it names the existing job');
    t.same(other.body.error.details.fields, ['type', 'spec']);
    t.match(
      other.body.error.message,
      new RegExp(`request_id 'key-1' was used for job ${a.body.id}.*type, spec differ`),
    );
    const g = await h
      .unary('SubmitJob', { ...first, spec_json: JSON.stringify(first.spec), priority: 5 })
      .catch((e) => e);
    t.equal(g.code, grpc.status.ALREADY_EXISTS, 'gRPC: ALREADY_EXISTS');
    t.equal(errorCode(g), 'MOC_ERR_REQUEST_ID_REUSED');
    t.match(g.details, /priority differ/);
    // ZMQ: the envelope's request_id is the key; a re-send within the window is answered from memory, but only if
    // it says the same thing.
    const zSubmit = { action: 'submit_job', request_id: 'zkey-1', type: first.type, spec: first.spec };
    const z1 = await zmqRequest(h.zmqUrl, zSubmit);
    t.equal(z1.status, 'ok', JSON.stringify(z1));
    t.equal((await zmqRequest(h.zmqUrl, zSubmit)).job.id, z1.job.id, 'ZMQ: a re-send is the same job');
    const z2 = await zmqRequest(h.zmqUrl, { ...zSubmit, type: 'prepare-dataset' });
    t.equal(z2.code, 'REQUEST_ID_REUSED', `ZMQ: another type under the same request_id: ${z2.message}`);
    t.equal(z2.error_code, 'MOC_ERR_REQUEST_ID_REUSED');
    t.same(z2.details.fields, ['type']);
    t.equal(jobs(), before + 1, 'nothing new was stored but the first ZMQ job');
    await jobWhere(h, a.body.id, ended, 'the keyed evaluation');
    await jobWhere(h, z1.job.id, ended, 'the ZMQ keyed evaluation');
  });

  t.test(
    "goals' request_id and feedback's idempotency_key: a retry is the first record, other fields a conflict",
    async (t) => {
      const goals = () => h.coordinator.store.listGoals().length;
      const goalsBefore = goals();
      const create = { title: 'keyed goal', priority: 2, request_id: 'goal-key-1' };
      const a = await rest(h, 'POST', '/v1/goals', create);
      t.equal(a.status, 201);
      t.equal(a.body.request_id, 'goal-key-1', 'the goal names its key');
      await rest(h, 'PUT', `/v1/goals/${a.body.id}`, { title: 'renamed since' });
      const retry = await rest(h, 'POST', '/v1/goals', { priority: 2, request_id: 'goal-key-1', title: 'keyed goal' });
      t.equal(retry.body.id, a.body.id, 'a retry (after an update) is the first goal');
      t.equal(retry.body.title, 'renamed since', 'as it is now');
      const other = await rest(h, 'POST', '/v1/goals', { ...create, title: 'another goal' });
      t.equal(other.status, 409, 'another title under the same key is refused');
      t.equal(other.body.error.code, 'MOC_ERR_REQUEST_ID_REUSED');
      t.equal(other.body.error.details.goal, a.body.id, 'it names the existing goal');
      t.same(other.body.error.details.fields, ['title']);
      const g = await h.unary('CreateGoal', { ...create, priority: 3 }).catch((e) => e);
      t.equal(g.code, grpc.status.ALREADY_EXISTS, `gRPC: ALREADY_EXISTS (${g.details})`);
      t.match(g.details, /request_id 'goal-key-1' was used for goal .*priority differs/);
      t.match(await h.unary('CreateGoal', create), { id: a.body.id, request_id: 'goal-key-1' }, 'gRPC: the first goal');
      const z = await zmqRequest(h.zmqUrl, {
        action: 'create_goal',
        request_id: 'goal-key-1',
        title: 'keyed goal',
        priority: 2,
      });
      t.equal(z.goal?.id, a.body.id, `ZMQ: the envelope's request_id is the key: ${JSON.stringify(z)}`);
      t.equal(goals(), goalsBefore + 1, 'one goal stored');

      const count = () => h.coordinator.store.feedbackCount();
      const countBefore = count();
      const fb = { prompt: 'p', chosen: 'a', rejected: 'b', idempotency_key: 'fb-key-1' };
      const f = await rest(h, 'POST', '/v1/feedback', fb);
      t.equal(f.status, 201);
      t.equal(f.body.idempotency_key, 'fb-key-1', 'the record names its key');
      t.equal((await rest(h, 'POST', '/v1/feedback', fb)).body.id, f.body.id, 'a retry is the first record');
      const otherFb = await rest(h, 'POST', '/v1/feedback', { ...fb, chosen: 'c' });
      t.equal(otherFb.status, 409);
      t.equal(otherFb.body.error.code, 'MOC_ERR_REQUEST_ID_REUSED');
      t.match(otherFb.body.error.details, { field: 'idempotency_key', feedback: f.body.id, fields: ['chosen'] });
      t.match(otherFb.body.error.message, /idempotency_key 'fb-key-1' was used for feedback .*chosen differs/);
      t.match(await h.unary('RecordFeedback', fb), { id: f.body.id, idempotency_key: 'fb-key-1' }, 'gRPC: the first');
      const zf = await zmqRequest(h.zmqUrl, { action: 'record_feedback', request_id: 'message-7', ...fb });
      t.equal(zf.feedback?.id, f.body.id, `ZMQ: idempotency_key, not the envelope's request_id: ${JSON.stringify(zf)}`);
      t.equal(count(), countBefore + 1, 'one record stored');
    },
  );

  t.test('a device the configuration does not name is refused, with or without memory_bytes', async (t) => {
    const before = jobs();
    const r = await rest(h, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'eval.jsonl' },
      device: 'gpu9',
    });
    t.equal(r.status, 404);
    t.equal(r.body.error.code, 'MOC_ERR_DEVICE_NOT_FOUND');
    t.match(r.body.error.message, /device 'gpu9' does not exist; configured devices: cpu0/);
    t.equal(jobs(), before);
  });

  t.test('cancel routes take no body: unknown fields are refused by name', async (t) => {
    const job = await rest(h, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'eval.jsonl' },
    });
    const goal = await rest(h, 'POST', '/v1/goals', { title: 'cancel me' });
    for (const url of [`/v1/jobs/${job.body.id}/cancel`, `/v1/goals/${goal.body.id}/cancel`]) {
      const bad = await rest(h, 'POST', url, { force: true, reason: 'x' });
      t.equal(bad.status, 400, `${url} with fields`);
      t.equal(bad.body.error.details.field, 'force');
      t.match(
        bad.body.error.message,
        /force: is not a field of POST .*cancel, which takes no body \(unknown fields: force, reason\)/,
      );
      t.equal((await rest(h, 'POST', url, [1])).status, 400, `${url} with an array`);
      t.equal((await rest(h, 'POST', url, {})).status, 200, `${url} with {}`);
      t.equal((await rest(h, 'POST', url)).status, 200, `${url} with no body`);
    }
    t.equal(h.coordinator.store.getGoal(goal.body.id)?.state, 'cancelled', 'the goal was cancelled');
    // ZMQ: the same rule (docs/zmq-protocol.md: unknown fields are refused), for every job and goal action by id.
    for (const [action, id] of [
      ['cancel_job', job.body.id],
      ['get_job', job.body.id],
      ['cancel_goal', goal.body.id],
      ['goal_status', goal.body.id],
      ['goal_history', goal.body.id],
    ]) {
      const z = await zmqRequest(h.zmqUrl, { action, id, force: true });
      t.equal(z.code, 'INVALID_ARGUMENT', `ZMQ ${action} with an unknown field: ${z.message}`);
      t.equal(z.details?.field, 'force');
      t.equal((await zmqRequest(h.zmqUrl, { action, id })).status, 'ok', `ZMQ ${action} without it`);
    }
  });

  t.test('gRPC list filters refuse enum values the proto does not define', async (t) => {
    for (const [method, field, prefix] of [
      ['ListJobs', 99, 'JOB_STATE_'],
      ['ListGoals', 42, 'GOAL_STATE_'],
    ] as const) {
      const e = await h.unary(method, { state: field }).catch((err) => err);
      t.equal(e.code, grpc.status.INVALID_ARGUMENT, `${method}{state:${field}}: ${e.details}`);
      t.equal(e.metadata?.get('moc-error-field')[0]?.toString(), 'state');
      t.match(e.details, new RegExp(`^state: ${field} is not a value of the enum; send one of ${prefix}`));
    }
    const queued = await h.unary('ListJobs', { state: 'JOB_STATE_SUCCEEDED' });
    t.ok(
      queued.jobs.length > 0 && queued.jobs.every((j: { state: string }) => j.state === 'JOB_STATE_SUCCEEDED'),
      'a defined value still filters',
    );
    t.ok((await h.unary('ListJobs', {})).jobs.length >= queued.jobs.length, 'unset lists every job');
  });

  t.test('evaluate refuses a line that is not UTF-8, as prepare-dataset does', async (t) => {
    const root = h.coordinator.config.jobs.datasetsRoot;
    writeFileSync(
      path.join(root, 'latin1.jsonl'),
      Buffer.concat([
        Buffer.from('{"text":"a fine first line"}\n{"text":"caf'),
        Buffer.from([0xe9]), // Latin-1 é: not UTF-8
        Buffer.from('"}\n'),
      ]),
    );
    const ev = await rest(h, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'latin1.jsonl' },
    });
    const done = await jobWhere(h, ev.body.id, ended, 'evaluate of a Latin-1 line');
    t.equal(done.state, 'failed', 'not scored as U+FFFD');
    t.match(done.error?.message, /dataset line 2 is not valid UTF-8/);
    const prep = await rest(h, 'POST', '/v1/jobs', {
      type: 'prepare-dataset',
      spec: { model: 'moc-demo', dataset: 'latin1.jsonl' },
    });
    const p = await jobWhere(h, prep.body.id, ended, 'prepare of a Latin-1 line');
    t.equal(p.state, 'succeeded', JSON.stringify(p.error));
    t.same(
      [p.outputs.metrics.valid, p.outputs.metrics.invalid],
      [1, 1],
      'prepare-dataset counts the same line invalid',
    );
  });
});

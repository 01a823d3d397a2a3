import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { errorCode, startHarness, type Harness } from '../helpers/coordinator.js';
import { ended, jobWhere, rest, TEXTS, toyTrainer, writeDataset } from './helpers.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // two coordinators' engines and a dozen trainers: no tap hook on each module they load

/**
 * One coordinator for every subtest but the one that needs parallelism 1: a coordinator (its device worker and engine
 * process, the demo model loaded) costs seconds of CPU to start. Started by the first subtest, closed when the file
 * ends. The subtests' names (datasets, outputs, aliases) do not collide, and the first one lists every evaluate job.
 */
let shared: Promise<Harness> | undefined;
const sharedHarness = () =>
  (shared ??= startHarness(t, {
    jobs: {
      trainers: {
        failing: toyTrainer('--fail-at', '0.5'),
        broken: toyTrainer('--broken-output'),
        'broken-model': toyTrainer('--broken-output', '--full-model'),
        // A whole model said to be an adapter, and an adapter said to be a model.
        'model-as-lora': toyTrainer('--full-model', '--report-kind', 'lora'),
        'lora-as-model': toyTrainer('--report-kind', 'model'),
      },
    },
  }));

t.test('evaluate: the same dataset and model give the same perplexity twice, through gRPC and REST', async (t) => {
  const h = await sharedHarness();
  writeDataset(h, 'eval.jsonl', TEXTS);
  const a = await h.unary('SubmitJob', {
    type: 'evaluate',
    spec_json: JSON.stringify({ model: 'moc-demo', dataset: 'eval.jsonl' }),
  });
  t.equal(a.state, 'JOB_STATE_QUEUED', 'acknowledged queued');
  t.match(a.id, /^job-/);
  const b = await rest(h, 'POST', '/v1/jobs', { type: 'evaluate', spec: { model: 'moc-demo', dataset: 'eval.jsonl' } });
  t.equal(b.status, 201);
  const [ja, jb] = await Promise.all([jobWhere(h, a.id, ended, 'a ended'), jobWhere(h, b.body.id, ended, 'b ended')]);
  t.equal(ja.state, 'succeeded', JSON.stringify(ja.error ?? ''));
  t.equal(jb.state, 'succeeded');
  t.ok(
    ja.outputs.metrics.perplexity! > 1 && Number.isFinite(ja.outputs.metrics.perplexity),
    `perplexity ${ja.outputs.metrics.perplexity}`,
  );
  t.equal(ja.outputs.metrics.perplexity, jb.outputs.metrics.perplexity, 'same dataset, same model: same number');
  t.equal(ja.outputs.metrics.lines, TEXTS.length);
  t.equal(ja.progress.fraction, 1);
  const got = await h.unary('GetJob', { id: a.id });
  t.equal(got.state, 'JOB_STATE_SUCCEEDED');
  t.equal(got.outputs.metrics.perplexity, ja.outputs.metrics.perplexity, 'GetJob shows the metric');
  t.equal(JSON.parse(got.spec_json).dataset, 'eval.jsonl');
  const list = await rest(h, 'GET', '/v1/jobs?state=succeeded&type=evaluate');
  t.equal(list.status, 200);
  t.same(list.body.jobs.map((j: any) => j.id).sort(), [a.id, b.body.id].sort(), 'listed by state and type');
});

t.test(
  'fine-tune: trainer runs, output registered, evaluated and promoted; a failing metric leaves the alias',
  async (t) => {
    const h = await sharedHarness();
    writeDataset(h, 'train.jsonl', TEXTS);
    writeDataset(h, 'eval-half.jsonl', TEXTS.slice(0, 2));
    await h.unary('SetAlias', { alias: 'prod', target: 'moc-demo' });
    const ok = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: {
        base_model: 'moc-demo',
        dataset: 'train.jsonl',
        output_name: 'demo:ft1',
        promote_to: 'prod',
        eval_dataset: 'eval-half.jsonl',
        max_perplexity: 1e9,
      },
    });
    t.equal(ok.status, 201, JSON.stringify(ok.body));
    const done = await jobWhere(h, ok.body.id, ended, 'fine-tune ended', 120_000);
    t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? done.logTail));
    t.same(done.outputs.models, ['demo:ft1'], 'the trained output is registered');
    t.ok(existsSync(path.join(h.modelsRoot, done.outputs.files[0]!)), 'its file is under the models root');
    const ft1 = await rest(h, 'GET', '/v1/models/demo:ft1');
    t.equal(ft1.body.base, 'moc-demo', 'the built-in trainer wrote a LoRA adapter: registered on the base model');
    t.match(done.logTail.join('\n'), /registered demo:ft1 \(a LoRA adapter of moc-demo\)/);
    t.ok(done.outputs.metrics.train_loss !== undefined, "the trainer's metrics are recorded");
    t.equal(done.outputs.metrics.promoted, 1);
    const prod = await h.unary('GetModel', { name: 'prod' });
    t.equal(prod.name, 'demo:ft1', 'the alias now points at the trained model');
    const served = await h.unary('Infer', { model: 'prod', prompt: 'hello', max_tokens: 2, temperature: 0 });
    t.equal(served.model, 'demo:ft1', 'and serves');

    const strict = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: {
        base_model: 'moc-demo',
        dataset: 'train.jsonl',
        output_name: 'demo:ft2',
        promote_to: 'prod',
        eval_dataset: 'eval-half.jsonl',
        max_perplexity: 1.0001,
      },
    });
    const kept = await jobWhere(h, strict.body.id, ended, 'strict fine-tune ended', 120_000);
    t.equal(kept.state, 'succeeded');
    t.equal(kept.outputs.metrics.promoted, 0, 'the metric failed the threshold');
    t.equal((await h.unary('GetModel', { name: 'prod' })).name, 'demo:ft1', 'the alias was left alone');
    t.match(kept.logTail.join('\n'), /not promoted/);
  },
);

t.test(
  'a trainer that fails, writes a broken GGUF or misreports its kind is a recorded failure; the server keeps serving',
  async (t) => {
    const h = await sharedHarness(); // its trainers: failing, broken, broken-model, model-as-lora, lora-as-model
    writeDataset(h, 'train.jsonl', TEXTS);
    const submit = (name: string, trainerName: string) =>
      h.unary('SubmitJob', {
        type: 'fine-tune',
        spec_json: JSON.stringify({
          base_model: 'moc-demo',
          dataset: 'train.jsonl',
          output_name: name,
          trainer: trainerName,
        }),
        max_attempts: 1,
      });
    const kinds = ['failing', 'broken', 'broken-model', 'model-as-lora', 'lora-as-model'] as const;
    const jobs = await Promise.all(kinds.map((k) => submit(`x:${k}`, k)));
    const [jf, jb, jbm, jml, jlm] = await Promise.all(
      jobs.map((j, i) => jobWhere(h, j.id, ended, `${kinds[i]} ended`)),
    );
    for (const [i, j] of [jf, jb, jbm, jml, jlm].entries()) {
      t.equal(j!.state, 'failed', kinds[i]);
      t.equal(j!.error?.code, 'MOC_ERR_JOB_FAILED', kinds[i]);
    }
    t.match(jf!.error?.message ?? '', /exit(ed)? (with )?(code )?3/, jf!.error?.message ?? '');
    t.match(
      jb!.error?.message ?? '',
      /the trained LoRA adapter \(of moc-demo\) could not be registered: MOC_ERR_LOAD_FAILED: .*truncated/,
      `a truncated adapter: ${jb!.error?.message}`,
    );
    t.match(
      jbm!.error?.message ?? '',
      /the trained model could not be registered: MOC_ERR_LOAD_FAILED: .*truncated/,
      `a truncated model: ${jbm!.error?.message}`,
    );
    t.match(
      jml!.error?.message ?? '',
      /could not be registered: MOC_ERR_ADAPTER_REFUSED: .*general\.type is missing, not 'adapter'/,
      `a model reported as an adapter: ${jml!.error?.message}`,
    );
    t.match(
      jlm!.error?.message ?? '',
      /the trained model could not be registered: MOC_ERR_LOAD_FAILED: .*is a LoRA adapter \(general\.type adapter\), not a model/,
      `an adapter reported as a model: ${jlm!.error?.message}`,
    );
    const models = (await h.unary('ListModels', {})).models.map((m: any) => m.name);
    t.same(
      models.filter((m: string) => m.startsWith('x:')),
      [],
      'no broken or misreported output is ever in the catalog',
    );
    t.equal(
      (await h.unary('Infer', { model: 'moc-demo', prompt: 'hi', max_tokens: 2 })).model,
      'moc-demo',
      'still serving',
    );
  },
);

t.test('idempotent submit, cancel, and bad input on every transport', async (t) => {
  const h = await startHarness(t, { jobs: { parallelism: 1 } });
  writeDataset(h, 'train.jsonl', TEXTS);
  const slow = {
    base_model: 'moc-demo',
    dataset: 'train.jsonl',
    output_name: 'slow:v1',
    params: { step_ms: 2000, epochs: 20 },
  };
  const first = await h.unary('SubmitJob', { type: 'fine-tune', spec_json: JSON.stringify(slow), request_id: 'r-1' });
  const again = await h.unary('SubmitJob', { type: 'fine-tune', spec_json: JSON.stringify(slow), request_id: 'r-1' });
  t.equal(again.id, first.id, 'the same request_id returns the first job');
  const running = await jobWhere(
    h,
    first.id,
    (j) => j.state === 'running' && j.process !== undefined,
    'trainer started',
  );
  const queued = await h.unary('SubmitJob', {
    type: 'evaluate',
    spec_json: JSON.stringify({ model: 'moc-demo', dataset: 'train.jsonl' }),
  });
  t.equal(queued.state, 'JOB_STATE_QUEUED', 'parallelism 1: the second waits');
  const cq = await h.unary('CancelJob', { id: queued.id });
  t.equal(cq.state, 'JOB_STATE_CANCELLED', 'a queued job is cancelled at once');
  const cr = await rest(h, 'POST', `/v1/jobs/${first.id}/cancel`);
  t.equal(cr.status, 200);
  t.equal(cr.body.cancel_requested, true);
  const stopped = await jobWhere(h, first.id, ended, 'running job cancelled');
  t.equal(stopped.state, 'cancelled');
  t.throws(() => process.kill(-running.process!.pid, 0), { code: 'ESRCH' }, "the trainer's process group is gone");
  const twice = await h.unary('CancelJob', { id: first.id });
  t.equal(twice.state, 'JOB_STATE_CANCELLED', 'cancelling an ended job changes nothing');

  const bad = [
    { type: 'nope', spec_json: '{}' },
    { type: 'evaluate', spec_json: '{"dataset":"train.jsonl"}' },
    { type: 'evaluate', spec_json: 'not json' },
    { type: 'evaluate', spec_json: '{"model":"moc-demo","dataset":"../etc/passwd"}' },
    {
      type: 'fine-tune',
      spec_json: JSON.stringify({
        base_model: 'moc-demo',
        dataset: 'train.jsonl',
        output_name: 'z',
        trainer: 'missing',
      }),
    },
    {
      type: 'fine-tune',
      spec_json: JSON.stringify({
        base_model: 'moc-demo',
        dataset: 'train.jsonl',
        output_name: 'z',
        promote_to: 'prod',
      }),
    },
  ];
  const before = h.coordinator.store.listJobs().length;
  for (const req of bad) {
    const err = await h.unary('SubmitJob', req).catch((e) => e);
    t.equal(err.code, grpc.status.INVALID_ARGUMENT, `${req.spec_json.slice(0, 40)}: ${err.details}`);
    t.equal(errorCode(err), 'MOC_ERR_INVALID_ARGUMENT');
  }
  t.equal(h.coordinator.store.listJobs().length, before, 'nothing refused was stored');
  const missing = await h.unary('GetJob', { id: 'job-nope' }).catch((e) => e);
  t.equal(missing.code, grpc.status.NOT_FOUND);
  t.equal(errorCode(missing), 'MOC_ERR_JOB_NOT_FOUND');
  const r404 = await rest(h, 'GET', '/v1/jobs/job-nope');
  t.equal(r404.status, 404);
  t.equal(r404.body.error.code, 'MOC_ERR_JOB_NOT_FOUND');
  const badQuery = await rest(h, 'GET', '/v1/jobs?state=bogus');
  t.equal(badQuery.status, 400);
  t.equal((await rest(h, 'GET', '/v1/jobs?color=red')).status, 400, 'an unknown query parameter is refused by name');
});

t.test('prepare-dataset through the API: its split feeds a fine-tune', async (t) => {
  const h = await sharedHarness();
  writeDataset(h, 'raw.jsonl', [...TEXTS, ...TEXTS, { text: 'one more distinct line for the split' }, { nope: 1 }]);
  const prep = await rest(h, 'POST', '/v1/jobs', {
    type: 'prepare-dataset',
    spec: { model: 'moc-demo', dataset: 'raw.jsonl', eval_fraction: 0.3, seed: 7 },
  });
  t.equal(prep.status, 201, JSON.stringify(prep.body));
  const done = await jobWhere(h, prep.body.id, ended, 'prepare ended');
  t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? ''));
  t.equal(done.outputs.metrics.duplicates, TEXTS.length, 'the repeated lines were dropped');
  t.equal(done.outputs.metrics.invalid, 1, 'the line without a text was counted invalid');
  t.equal(done.outputs.metrics.train! + done.outputs.metrics.eval!, TEXTS.length + 1);
  t.ok(done.outputs.metrics.tokens! > 0);
  const train = done.outputs.files.find((f) => f.endsWith('.train.jsonl'))!;
  const ft = await rest(h, 'POST', '/v1/jobs', {
    type: 'fine-tune',
    spec: { base_model: 'moc-demo', dataset: train, output_name: 'prep:ft' },
  });
  t.equal(
    (await jobWhere(h, ft.body.id, ended, 'fine-tune on the prepared split', 120_000)).state,
    'succeeded',
    'the prepared split is a fine-tune dataset',
  );
});

t.test('WatchJob streams a job from queued to its end, progress included, then closes', async (t) => {
  const h = await sharedHarness();
  writeDataset(h, 'train.jsonl', TEXTS);
  const job = await h.unary('SubmitJob', {
    type: 'fine-tune',
    spec_json: JSON.stringify({
      base_model: 'moc-demo',
      dataset: 'train.jsonl',
      output_name: 'w:v1',
      params: { step_ms: 150 },
    }),
  });
  const seen: any[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = h.client.WatchJob({ id: job.id }, { deadline: Date.now() + 120_000 }) as grpc.ClientReadableStream<any>;
    s.on('data', (j) => seen.push(j));
    s.on('error', reject);
    s.on('end', () => resolve());
  });
  t.equal(seen[0].id, job.id);
  t.equal(seen.at(-1).state, 'JOB_STATE_SUCCEEDED', 'the last message is the end');
  t.ok(
    seen.some((j) => j.state === 'JOB_STATE_RUNNING' && j.progress.fraction > 0 && j.progress.fraction < 1),
    'progress while running was streamed',
  );
  const fractions = seen.map((j) => j.progress.fraction);
  t.ok(
    fractions.every((f, i) => i === 0 || f >= fractions[i - 1] || seen[i].state !== seen[i - 1].state),
    'progress never goes back',
  );
  const missing = await new Promise<any>((resolve) => {
    const s = h.client.WatchJob(
      { id: 'job-nope' },
      { deadline: Date.now() + 10_000 },
    ) as grpc.ClientReadableStream<any>;
    s.on('data', () => {});
    s.on('error', resolve);
    s.on('end', () => resolve(null));
  });
  t.equal(missing?.code, grpc.status.NOT_FOUND, 'an unknown job ends the stream with NOT_FOUND');
});

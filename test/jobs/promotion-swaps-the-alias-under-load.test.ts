/**
 * A fine-tune promoted to the alias clients are using fails none of their requests, whatever the trainer wrote: the
 * built-in trainer's LoRA adapter, promoted over its own base (the base stays loaded under it), and then a whole model
 * (--full-model), promoted over that adapter.
 */
import t from 'tap';
import { type Harness, startHarness, until } from '../helpers/coordinator.js';
import { ended, jobWhere, rest, TEXTS, toyTrainer, writeDataset } from './helpers.js';

/** The toy trainer writing a whole model rather than an adapter. */
const fullModel = toyTrainer('--full-model');

/** 8 clients sending to `prod` without pause until stopped: what served each answer, and every failure. */
function traffic(h: Harness) {
  let stop = false;
  const served: Record<string, number> = {};
  const failures: string[] = [];
  const client = async () => {
    while (!stop) {
      try {
        const r = await h.unary('Infer', { model: 'prod', prompt: 'steady traffic', max_tokens: 2, temperature: 0 });
        served[r.model] = (served[r.model] ?? 0) + 1;
      } catch (e) {
        failures.push(String((e as Error).message));
      }
    }
  };
  const clients = Array.from({ length: 8 }, client);
  return {
    served,
    failures,
    /** Keeps going until `model` has answered 20 more (or something failed), then stops every client. */
    async stopAfter(model: string) {
      const after = (served[model] ?? 0) + 20;
      await until(
        `20 more requests served by ${model} (or a failure)`,
        async () => (served[model] ?? 0) >= after || failures.length > 0,
        60_000,
        20,
      );
      stop = true;
      await Promise.all(clients);
    },
  };
}

/** An answer at temperature 0, text and per-token log-probabilities: what identifies the weights that wrote it. */
const answer = async (h: Harness, model: string) => {
  const r = await rest(h, 'POST', '/openai/v1/completions', {
    model,
    prompt: 'Once upon a time',
    max_tokens: 12,
    temperature: 0,
    logprobs: 1,
  });
  if (r.status !== 200) throw new Error(`${model}: ${r.status} ${JSON.stringify(r.body)}`);
  return { text: r.body.choices[0].text as string, logprobs: r.body.choices[0].logprobs.token_logprobs as number[] };
};

t.test('a fine-tune promoted to a serving alias under inference load fails no request', async (t) => {
  const h = await startHarness(t, { jobs: { trainers: { 'full-model': fullModel } } });
  writeDataset(h, 'train.jsonl', TEXTS);
  await h.unary('SetAlias', { alias: 'prod', target: 'moc-demo' });
  const fineTune = async (output: string, trainer?: string) => {
    const job = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: {
        base_model: 'moc-demo',
        dataset: 'train.jsonl',
        output_name: output,
        promote_to: 'prod',
        eval_dataset: 'train.jsonl',
        ...(trainer ? { trainer } : {}),
      },
    });
    t.equal(job.status, 201, JSON.stringify(job.body));
    return jobWhere(h, job.body.id, ended, `promotion of ${output}`, 120_000);
  };

  // The built-in trainer writes a LoRA adapter: registered on its base, promoted over that base.
  const load = traffic(h);
  const done = await fineTune('prod:v2');
  // Keep the traffic going a moment after the switch, so requests reach the new target too.
  await load.stopAfter('prod:v2');
  t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? done.logTail));
  t.same(done.outputs.models, ['prod:v2'], "the job's output names the adapter");
  t.equal(done.outputs.metrics.promoted, 1);
  t.same(load.failures, [], 'zero failed requests');
  t.ok(
    (load.served['moc-demo'] ?? 0) > 0 && (load.served['prod:v2'] ?? 0) > 0,
    `served before and after the swap (${JSON.stringify(load.served)})`,
  );
  const v2 = (await rest(h, 'GET', '/v1/models/prod:v2')).body;
  t.equal(v2.base, 'moc-demo', 'the output is a LoRA adapter of the base model');
  t.equal((await h.unary('GetModel', { name: 'prod' })).name, 'prod:v2', 'the alias resolves to the adapter');
  t.equal((await rest(h, 'GET', '/v1/models/moc-demo')).body.state, 'loaded', 'the base stayed loaded under it');
  const viaAlias = await answer(h, 'prod');
  t.same(viaAlias, await answer(h, 'prod:v2'), 'the alias answers as the adapter named directly, token for token');
  t.not(JSON.stringify(viaAlias), JSON.stringify(await answer(h, 'moc-demo')), 'not as the base does');

  // A trainer that writes a whole model: registered as a model, promoted over the adapter.
  const load3 = traffic(h);
  const v3done = await fineTune('prod:v3', 'full-model');
  await load3.stopAfter('prod:v3');
  t.equal(v3done.state, 'succeeded', JSON.stringify(v3done.error ?? v3done.logTail));
  t.same(load3.failures, [], 'zero failed requests swapping from the adapter to a model');
  t.ok(
    (load3.served['prod:v2'] ?? 0) > 0 && (load3.served['prod:v3'] ?? 0) > 0,
    `served before and after the swap (${JSON.stringify(load3.served)})`,
  );
  t.notOk((await rest(h, 'GET', '/v1/models/prod:v3')).body.base, 'a whole model has no base');
  t.same(await answer(h, 'prod'), await answer(h, 'prod:v3'), 'the alias answers as the new model');
});

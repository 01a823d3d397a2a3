import t from 'tap';
import { startHarness, until } from '../helpers/coordinator.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from './helpers.js';

t.test('a fine-tune promoted to a serving alias under inference load fails no request', async (t) => {
  const h = await startHarness(t);
  writeDataset(h, 'train.jsonl', TEXTS);
  await h.unary('SetAlias', { alias: 'prod', target: 'moc-demo' });
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
  const job = await rest(h, 'POST', '/v1/jobs', {
    type: 'fine-tune',
    spec: {
      base_model: 'moc-demo',
      dataset: 'train.jsonl',
      output_name: 'prod:v2',
      promote_to: 'prod',
      eval_dataset: 'train.jsonl',
    },
  });
  const done = await jobWhere(h, job.body.id, ended, 'promotion', 120_000);
  // Keep the traffic going a moment after the switch, so requests reach the new target too.
  const after = (served['prod:v2'] ?? 0) + 20;
  await until(
    `20 more requests served by prod:v2 (or a failure)`,
    async () => (served['prod:v2'] ?? 0) >= after || failures.length > 0,
    60_000,
    20,
  );
  stop = true;
  await Promise.all(clients);
  t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? ''));
  t.equal(done.outputs.metrics.promoted, 1);
  t.same(failures, [], 'zero failed requests');
  t.ok(
    (served['moc-demo'] ?? 0) > 0 && (served['prod:v2'] ?? 0) > 0,
    `served before and after the swap (${JSON.stringify(served)})`,
  );
});

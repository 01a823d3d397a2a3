/**
 * Two hosts on one PostgreSQL sharing a models root (a shared volume, common on GPU clusters): a fine-tune run by
 * either registers its LoRA adapter there, and the other host, seeing the job succeed, registers the same file as the
 * same adapter of the same base and points the same alias at it — promotion fleet-wide, with no other call.
 */
import t from 'tap';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startHarness, until } from '../helpers/coordinator.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from '../jobs/helpers.js';

t.test(
  'an output on a shared models root is registered and promoted on every host',
  { skip: postgresSkip },
  async (t) => {
    const cluster = await startPostgres(t);
    const models = path.join(t.testdir(), 'shared-models');
    const host = (name: string) => {
      const dir = path.join(t.testdir(), name);
      mkdirSync(dir, { recursive: true });
      return startHarness(
        t,
        { store: { kind: 'postgres', url: cluster.url, pollMs: 200 }, modelsRoot: models, jobs: { pollMs: 200 } },
        { dir },
      );
    };
    const a = await host('a');
    const b = await host('b');
    for (const h of [a, b]) writeDataset(h, 'texts.jsonl', TEXTS);

    const ft = await rest(a, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: {
        base_model: 'moc-demo',
        dataset: 'texts.jsonl',
        output_name: 'tuned-everywhere',
        trainer: 'demo',
        promote_to: 'assistant',
        eval_dataset: 'texts.jsonl',
      },
    });
    t.equal(ft.status, 201, JSON.stringify(ft.body));
    const done = await jobWhere(a, ft.body.id, ended, 'the fine-tune ended', 60_000);
    t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? done.logTail));
    t.equal(done.outputs.metrics.promoted, 1);

    for (const [name, h] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const m = await until(
        `host ${name} has the adapter`,
        async () => {
          const r = await rest(h, 'GET', '/v1/models/tuned-everywhere');
          return r.status === 200 && r.body;
        },
        15_000,
        100,
      );
      t.match(m, { name: 'tuned-everywhere', base: 'moc-demo' }, `host ${name}: a LoRA adapter of the same base`);
      const alias = await until(
        `host ${name}'s alias points at it`,
        async () => {
          const r = await rest(h, 'GET', '/v1/models/assistant');
          return r.status === 200 && r.body.name === 'tuned-everywhere' && r.body;
        },
        15_000,
        100,
      );
      t.equal(alias.name, 'tuned-everywhere', `host ${name}: assistant → tuned-everywhere`);
    }
    const answer = await b.unary('Infer', { model: 'assistant', prompt: 'hello', max_tokens: 2 });
    t.equal(answer.model, 'tuned-everywhere', 'and serves it');
  },
);

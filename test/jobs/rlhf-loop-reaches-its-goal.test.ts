/**
 * The RLHF loop, end to end, with one call to set it up: a goal whose plan is export-feedback → fine-tune (DPO with
 * the built-in lora trainer, promoted under the agents' alias if better than what it points to) → evaluate the alias
 * on held-out pairs, triggered by new feedback. Agents then only infer and rate: answers given over gRPC and the
 * OpenAI API rated by their ids, preferences sent as text over gRPC and REST. The goal reaches `achieved` with
 * preference_accuracy ≥ 0.8 (from the base's ≈ 0.5), measured by MOC's evaluate on the alias, while agents'
 * requests to the alias kept being answered through the promotion (none failed). Skipped without torch.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { LORA_PYTHON } from '../../actors/jobs/trainers.js';
import { startHarness, type Harness, until } from '../helpers/coordinator.js';
import { goalWhere } from '../helpers/goals.js';
import { rest, writeDataset } from './helpers.js';
import { preferencePairs } from './preference-pairs.js';

const torch =
  spawnSync(LORA_PYTHON, ['-B', '-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

/** Agents asking the alias over both APIs until stopped: what they got, by model that answered. */
function agents(h: Harness) {
  let stop = false;
  const seen = { ok: 0, failed: [] as string[], models: new Set<string>() };
  const openai = async () => {
    for (let i = 0; !stop && i < 10_000; i++) {
      const r = await fetch(`${h.restUrl}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'assistant',
          messages: [{ role: 'user', content: `hello ${i}` }],
          max_tokens: 3,
        }),
      }).catch((e: Error) => e);
      if (r instanceof Error || r.status !== 200) seen.failed.push(r instanceof Error ? r.message : `${r.status}`);
      else seen.ok++;
      await new Promise((res) => setTimeout(res, 300));
    }
  };
  const grpc = async () => {
    for (let i = 0; !stop && i < 10_000; i++) {
      try {
        const r = await h.unary('Infer', { model: 'assistant', prompt: `hi ${i}`, max_tokens: 3 });
        seen.ok++;
        seen.models.add(r.model);
      } catch (e) {
        seen.failed.push((e as Error).message);
      }
      await new Promise((res) => setTimeout(res, 300));
    }
  };
  const running = Promise.all([openai(), grpc()]);
  return {
    seen,
    stop: async () => {
      stop = true;
      await running;
    },
  };
}

t.test(
  'feedback → export → DPO → promoted → evaluated: the goal is achieved with preference_accuracy ≥ 0.8',
  { skip: !torch && 'no torch' },
  async (t) => {
    const h = await startHarness(t, { feedback: { recordInferences: true, maxRecords: 200 } });
    const { train, held } = preferencePairs();
    writeDataset(h, 'held.jsonl', held);
    t.equal((await rest(h, 'PUT', '/v1/aliases/assistant', { target: 'moc-demo' })).status, 200);

    // Records that will arrive: 4 ratings of OpenAI answers, 1 preference between two gRPC answers, 32 as text.
    const records = 4 + 1 + train.length;
    const goal = await rest(h, 'POST', '/v1/goals', {
      title: 'the assistant prefers what agents prefer',
      criterion: { metric: 'preference_accuracy', op: 'gte', value: 0.8 },
      plan: {
        trigger: { on: 'feedback', every: records },
        max_attempts: 1,
        steps: [
          { type: 'export-feedback', spec: { format: 'trl-preference', output: 'rlhf-{attempt}.jsonl' } },
          {
            type: 'fine-tune',
            spec: {
              base_model: 'moc-demo',
              dataset: 'rlhf-{attempt}.jsonl',
              output_name: 'assistant-dpo-{attempt}',
              trainer: 'lora',
              params: { method: 'dpo', beta: 0.1, epochs: 2, lr: 0.01, batch: 8 },
              promote_to: 'assistant',
              eval_dataset: 'held.jsonl',
              promote_if: { metric: 'preference_accuracy', op: '>', against: 'alias' },
            },
          },
          { type: 'evaluate', spec: { model: 'assistant', dataset: 'held.jsonl' } },
        ],
      },
    });
    t.equal(goal.status, 201, JSON.stringify(goal.body));
    const id = goal.body.id;

    const load = agents(h);
    t.teardown(load.stop);

    // Ratings of answers given on the OpenAI API, by the response's id: good and bad answers to one prompt.
    for (const prompt of ['tell me a word', 'another word']) {
      const ids: string[] = [];
      for (const seed of [1, 2]) {
        const r = await rest(h, 'POST', '/openai/v1/chat/completions', {
          model: 'assistant',
          messages: [{ role: 'user', content: prompt }],
          max_tokens: 3,
          seed,
          temperature: 1,
        });
        t.equal(r.status, 200);
        ids.push(r.body.id);
      }
      await h.unary('RecordFeedback', { answer_id: ids[0], rating: 1 });
      await h.unary('RecordFeedback', { answer_id: ids[1], rating: -1 });
    }
    // A preference between two answers gRPC gave, by their request ids.
    for (const request_id of ['agent-a', 'agent-b'])
      await h.unary('Infer', {
        model: 'assistant',
        prompt: 'pick one',
        max_tokens: 3,
        seed: request_id.length,
        request_id,
      });
    const byIds = await rest(h, 'POST', '/v1/feedback', { answer_id: 'agent-a', rejected_answer_id: 'agent-b' });
    t.equal(byIds.status, 201, JSON.stringify(byIds.body));
    // Preferences as text, half over gRPC, half over REST.
    for (const [i, p] of train.entries()) {
      if (i % 2 === 0) await h.unary('RecordFeedback', p);
      else t.equal((await rest(h, 'POST', '/v1/feedback', p)).status, 201);
    }

    const done = await goalWhere(h, id, (g) => g.state !== 'pending' && g.state !== 'active', 'ended', 150_000);
    // The alias moved before the plan's evaluate step, which can end before an agent's next request (one every
    // ~300 ms): wait for one answered by the adapter (asserted below), then stop the agents.
    await until('an agent answered by the adapter', async () => load.seen.models.has('assistant-dpo-1'), 10_000).catch(
      () => {},
    );
    await load.stop();
    t.equal(done.state, 'achieved', done.reason);
    const [exp, ft, ev] = done.jobs.map((j: string) => h.coordinator.store.getJob(j)!);
    t.same(
      [exp.type, ft.type, ev.type],
      ['export-feedback', 'fine-tune', 'evaluate'],
      'the plan ran its three steps, no other call',
    );
    t.equal(exp.outputs.metrics.pairs, train.length + 2 + 1, 'pairs: 32 as text, 2 from ratings, 1 by ids');
    const m = ft.outputs.metrics;
    t.equal(m.promoted, 1, ft.logTail.join('\n'));
    t.ok(m.train_check_base_relative! <= 1e-3, `the trainer checked its forward: ${m.train_check_base_relative}`);
    t.ok(m.train_check_adapter_relative! <= 1e-3, `and its adapter: ${m.train_check_adapter_relative}`);
    t.match(ft.logTail.join('\n'), /the adapter: torch matches llama\.cpp within/);
    t.ok(m.train_reward_accuracy !== undefined && m.train_reward_margin !== undefined, 'DPO figures per step');
    t.same(ft.outputs.models, ['assistant-dpo-1']);
    t.ok(m.baseline_preference_accuracy! < 0.8, `the base (the alias before) ${m.baseline_preference_accuracy}`);
    t.same(done.achieved_by.job, ev.id, 'achieved by the evaluate step of the plan');
    t.ok(done.achieved_by.value >= 0.8, `preference_accuracy of the alias ${done.achieved_by.value} ≥ 0.8`);
    const alias = await rest(h, 'GET', '/v1/models/assistant');
    t.equal(alias.body.name, 'assistant-dpo-1', 'the alias points at the adapter');
    t.equal(alias.body.base, 'moc-demo');

    t.same(load.seen.failed, [], 'no agent request failed');
    t.ok(load.seen.models.has('assistant-dpo-1'), `agents were answered by the adapter: ${[...load.seen.models]}`);
    t.comment(
      `preference_accuracy base ${m.baseline_preference_accuracy?.toFixed(3)} → alias after ` +
        `${done.achieved_by.value.toFixed(3)} (fine-tune's own ${m.eval_preference_accuracy?.toFixed(3)}); ` +
        `${load.seen.ok} agent requests answered during the loop, 0 failed; fine-tune ${((ft.endedAt - ft.startedAt) / 1000).toFixed(1)} s, ` +
        `last epoch loss ${m.train_epoch_loss?.toFixed(3)}, last batch reward accuracy ${m.train_reward_accuracy}`,
    );
  },
);

/**
 * DPO with the built-in `lora` trainer learns a preference: on generated pairs whose chosen answer is always " sure."
 * and rejected " nope." after varied prompts, a fine-tune with `params.method: "dpo"` registers a LoRA adapter whose
 * preference_accuracy on held-out pairs of the same pattern (MOC's `evaluate` job, which scores each answer after its
 * prompt as the trainer does) is ≥ 0.8, from the base's ≈ 0.5; the fine-tune promotes it under an alias by that
 * criterion. Skipped without torch (the SFT test covers the refusal at submit).
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { LORA_PYTHON } from '../../actors/jobs/trainers.js';
import { prng } from '../../src/model/demo-model.js';
import { startHarness, type Harness } from '../helpers/coordinator.js';
import { ended, jobWhere, rest, writeDataset } from './helpers.js';

interface PairLine {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** 32 pairs to train on, 24 held out: prompts of one small grammar, the same two answers (of one length) for all. */
function pairs(): { train: PairLine[]; held: PairLine[] } {
  const subjects = ['the cat', 'the dog', 'a bird', 'my friend', 'the old man', 'a child'];
  const verbs = ['sees', 'likes', 'finds', 'wants', 'takes'];
  const objects = ['the red ball', 'a green apple', 'the blue box', 'a small stone'];
  const all = subjects.flatMap((s) => verbs.flatMap((v) => objects.map((o) => `${s} ${v} ${o}?`)));
  const rand = prng(3);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const line = (prompt: string) => ({ prompt, chosen: ' sure.', rejected: ' nope.' });
  return { train: all.slice(0, 32).map(line), held: all.slice(32, 56).map(line) };
}

async function preferenceAccuracy(t: Test, h: Harness, model: string, dataset: string): Promise<number> {
  const r = await rest(h, 'POST', '/v1/jobs', { type: 'evaluate', spec: { model, dataset } });
  t.equal(r.status, 201, JSON.stringify(r.body));
  const done = await jobWhere(h, r.body.id, ended, `evaluate ${model}`);
  t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? ''));
  return done.outputs.metrics.preference_accuracy!;
}

const torch =
  spawnSync(LORA_PYTHON, ['-B', '-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

t.test(
  'DPO with the lora trainer raises held-out preference accuracy to 0.8 or more',
  { skip: !torch && 'no torch' },
  async (t) => {
    const h = await startHarness(t);
    const { train, held } = pairs();
    writeDataset(h, 'pairs.jsonl', train);
    writeDataset(h, 'held.jsonl', held);
    const before = await preferenceAccuracy(t, h, 'moc-demo', 'held.jsonl');

    const started = Date.now();
    const ft = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: {
        base_model: 'moc-demo',
        dataset: 'pairs.jsonl',
        output_name: 'demo:dpo',
        trainer: 'lora',
        params: { method: 'dpo', beta: 0.1, epochs: 2, lr: 0.01, batch: 8 },
        promote_to: 'prefs',
        eval_dataset: 'held.jsonl',
        promote_if: { metric: 'preference_accuracy', op: '>=', value: 0.8 },
      },
    });
    t.equal(ft.status, 201, JSON.stringify(ft.body));
    const done = await jobWhere(h, ft.body.id, ended, 'the fine-tune ended', 50_000);
    const seconds = (Date.now() - started) / 1000;
    t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? done.logTail));
    t.same(done.outputs.models, ['demo:dpo']);
    const model = await rest(h, 'GET', '/v1/models/demo:dpo');
    t.equal(model.body.base, 'moc-demo', 'registered as a LoRA adapter of the base');
    const m = done.outputs.metrics;
    t.ok(m.train_check_base_relative! <= 1e-3, `the trainer checked its forward: ${m.train_check_base_relative}`);
    t.ok(m.train_check_adapter_relative! <= 1e-3, `and its adapter: ${m.train_check_adapter_relative}`);
    t.ok(m.train_reward_accuracy !== undefined && m.train_reward_margin !== undefined, 'DPO figures per step');
    t.equal(m.promoted, 1, `promoted: ${done.logTail.join('\n')}`);

    const after = await preferenceAccuracy(t, h, 'prefs', 'held.jsonl');
    t.comment(
      `held-out preference_accuracy: base ${before.toFixed(3)}, after DPO ${after.toFixed(3)} (the fine-tune's own ` +
        `evaluation ${m.eval_preference_accuracy?.toFixed(3)}, reward_margin ${m.eval_reward_margin?.toFixed(3)}); ` +
        `fine-tune job ${seconds.toFixed(1)} s, last epoch loss ${m.train_epoch_loss?.toFixed(3)}, last batch reward ` +
        `accuracy ${m.train_reward_accuracy}, margin ${m.train_reward_margin?.toFixed(3)}`,
    );
    t.ok(before < 0.8, `the base does not already prefer the chosen answers (${before.toFixed(3)})`);
    t.ok(after >= 0.8, `preference_accuracy ${after.toFixed(3)} ≥ 0.8 through the alias`);
  },
);

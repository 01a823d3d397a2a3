import t from 'tap';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { ended, jobWhere, rest, TEXTS, writeDataset } from './helpers.js';
import type { Job } from '../../schemas/jobs.js';
import { vocabulary } from '../../src/model/demo-model.js';

const PROMPTS = ['The answer is', 'Once upon a time', 'def main():', 'Q: what is MOC?\nA:', 'agents ask, and'];

/** A deterministic string of the same length as `like`, of letters the demo model has no reason to prefer. */
const scrambled = (like: string, seed: number) =>
  Array.from({ length: like.length }, (_, i) => String.fromCharCode(97 + ((seed * 31 + i * 17) % 26))).join('');

t.test(
  'preference metrics: equal a direct computation from whole-text evaluations, and favour greedy answers',
  async (t) => {
    const h = await startHarness(t);
    const dev = h.coordinator.devices.get('cpu0')!;
    const evaluate = (texts: string[], prefixes?: string[]) =>
      dev.ask({ kind: 'evaluate', model: 'moc-demo', texts, ...(prefixes ? { prefixes } : {}) }, { timeoutMs: 60_000 });

    // Chosen: the model's own greedy continuation of the prompt (a raw completion, no chat template); rejected: letters.
    // Only the vocabulary's normal tokens (ASCII characters, with or without the space marker) may be generated: a byte
    // token or a lone space marker decodes to text that tokenizes otherwise, and the evaluation would score other tokens
    // than the ones generated. The end of generation is banned too, so each continuation has its 6 tokens.
    const { tokens, types } = vocabulary();
    const banned = Object.fromEntries(
      tokens.flatMap((tok, id) => (types[id] !== 1 || tok === '\u2581' ? [[id, -100]] : [])),
    );
    const pairs: Array<{ prompt: string; chosen: string; rejected: string }> = [];
    for (const [i, prompt] of PROMPTS.entries()) {
      const r = await h.unary('Infer', {
        model: 'moc-demo',
        prompt,
        max_tokens: 6,
        temperature: 0,
        logit_bias: banned,
      });
      if (r.text.trim() !== '') pairs.push({ prompt, chosen: r.text, rejected: scrambled(r.text, i + 1) });
    }
    t.ok(pairs.length >= 3, `${pairs.length} prompts have a non-blank greedy continuation`);
    writeDataset(h, 'pairs.jsonl', pairs);

    const job = await rest(h, 'POST', '/v1/jobs', {
      type: 'evaluate',
      spec: { model: 'moc-demo', dataset: 'pairs.jsonl' },
    });
    t.equal(job.status, 201, JSON.stringify(job.body));
    const done = await jobWhere(h, job.body.id, ended, 'evaluate on pairs ended');
    t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? done.logTail));
    const m = done.outputs.metrics;
    t.equal(m.pairs, pairs.length);
    t.equal(m.preference_accuracy, 1, 'every greedy continuation scores higher than a scrambled string');
    t.ok(m.reward_margin! > 0, `reward_margin ${m.reward_margin} > 0`);
    t.notOk('perplexity' in m, 'a pairs dataset gives preference metrics, not perplexity');

    // The direct computation: ln p(answer | prompt) = ln p(prompt + answer) − ln p(prompt), from whole-text evaluations
    // (the demo model's byte-level tokenizer makes the prompt's tokens a prefix of the whole's, checked by the counts).
    const whole = await evaluate(pairs.flatMap((p) => [p.prompt + p.chosen, p.prompt + p.rejected, p.prompt]));
    const prefixed = await evaluate(
      pairs.flatMap((p) => [p.chosen, p.rejected]),
      pairs.flatMap((p) => [p.prompt, p.prompt]),
    );
    let wins = 0;
    let margin = 0;
    for (const [i] of pairs.entries()) {
      const [c, r, p] = [whole.perText[3 * i]!, whole.perText[3 * i + 1]!, whole.perText[3 * i + 2]!];
      const lc = c.sumLogProb - p.sumLogProb;
      const lr = r.sumLogProb - p.sumLogProb;
      t.equal(
        prefixed.perText[2 * i]!.tokens,
        c.tokens - p.tokens,
        `pair ${i}: the chosen answer's tokens alone count`,
      );
      t.ok(Math.abs(prefixed.perText[2 * i]!.sumLogProb - lc) < 1e-3, `pair ${i}: chosen ${lc} by subtraction`);
      t.ok(Math.abs(prefixed.perText[2 * i + 1]!.sumLogProb - lr) < 1e-3, `pair ${i}: rejected ${lr} by subtraction`);
      if (lc > lr) wins++;
      margin += lc - lr;
    }
    t.equal(m.preference_accuracy, wins / pairs.length, 'accuracy as computed directly');
    t.ok(
      Math.abs(m.reward_margin! - margin / pairs.length) < 1e-3,
      `reward_margin ${m.reward_margin} as computed directly`,
    );
    t.same(
      prefixed.perText.filter((_, i) => i % 2 === 0).map((x) => x.tokens),
      pairs.map(() => 6),
      "the chosen answers' tokens are the 6 generated",
    );

    // Swapped pairs: the same margin negated, accuracy 0.
    writeDataset(
      h,
      'swapped.jsonl',
      pairs.map((p) => ({ prompt: p.prompt, chosen: p.rejected, rejected: p.chosen })),
    );
    // A file mixing shapes fails at the line that breaks the first line's shape.
    writeDataset(h, 'mixed.jsonl', [pairs[0]!, TEXTS[0]!]);
    const submit = (dataset: string) =>
      rest(h, 'POST', '/v1/jobs', { type: 'evaluate', spec: { model: 'moc-demo', dataset } }).then((r) =>
        jobWhere(h, r.body.id, ended, `evaluate ${dataset}`),
      );
    const [swapped, mixed] = await Promise.all([submit('swapped.jsonl'), submit('mixed.jsonl')]);
    t.equal(swapped.outputs.metrics.preference_accuracy, 0, 'swapped pairs: accuracy 0');
    t.ok(
      Math.abs(swapped.outputs.metrics.reward_margin! + m.reward_margin!) < 1e-9,
      'swapped pairs: the margin negated',
    );
    t.equal(mixed.state, 'failed');
    t.match(mixed.error?.message ?? '', /dataset line 2: expected \{"prompt"/, mixed.error?.message ?? '');

    // The boundary: a prompt ending in a space tokenizes with a lone space marker, which prompt + answer merges into the
    // answer's first token ('▁y'). The prompt's tokens are then not a prefix of the whole's; the answer is scored from the
    // first token that differs, i.e. after the prompt without its trailing space.
    const [spaced, trimmed, joined] = (await evaluate(['The answer is ', 'The answer is', 'The answer is yes']))
      .perText;
    const [after] = (await evaluate(['yes'], ['The answer is '])).perText;
    t.equal(spaced!.tokens, trimmed!.tokens + 1, "the trailing space is a token of the prompt's own");
    t.equal(after!.tokens, joined!.tokens - trimmed!.tokens, 'the merged token is scored with the answer');
    t.ok(
      Math.abs(after!.sumLogProb - (joined!.sumLogProb - trimmed!.sumLogProb)) < 1e-3,
      'and its log-probability too',
    );

    // prefixes must match the texts one for one.
    await t.rejects(evaluate(['a', 'b'], ['x']), { code: 'MOC_ERR_INVALID_ARGUMENT', message: /prefixes/ });
  },
);

t.test('promote_if: a value or the alias as the bar; validated at submit and before training', async (t) => {
  const h = await startHarness(t);
  writeDataset(h, 'train.jsonl', TEXTS);
  writeDataset(h, 'eval.jsonl', TEXTS.slice(0, 2));
  writeDataset(h, 'pairs.jsonl', [
    { prompt: 'The answer is', chosen: ' yes', rejected: ' no, not at all' },
    { prompt: 'Say hi:', chosen: ' hi', rejected: ' goodbye' },
  ]);
  await h.unary('SetAlias', { alias: 'prod', target: 'moc-demo' });
  // The demo trainer's adapter is seeded from the dataset's hash: every fine-tune below writes the same adapter.
  const fineTune = async (name: string, promoteIf: object, extra: object = {}): Promise<Job> => {
    const r = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: {
        base_model: 'moc-demo',
        dataset: 'train.jsonl',
        output_name: name,
        promote_to: 'prod',
        eval_dataset: 'pairs.jsonl',
        promote_if: promoteIf,
        ...extra,
      },
      max_attempts: 1,
    });
    t.equal(r.status, 201, JSON.stringify(r.body));
    return jobWhere(h, r.body.id, ended, `${name} ended`, 60_000);
  };
  const prod = async () => (await h.unary('GetModel', { name: 'prod' })).name;

  const high = await fineTune('pf:high', { metric: 'preference_accuracy', op: '>', value: 1 });
  t.equal(high.state, 'succeeded', JSON.stringify(high.error ?? high.logTail));
  t.equal(high.outputs.metrics.promoted, 0, 'accuracy > 1 never holds');
  t.equal(await prod(), 'moc-demo', 'the alias was left alone');
  t.match(high.logTail.join('\n'), /not promoted: preference_accuracy [\d.]+ not > 1/);
  t.ok(
    high.outputs.metrics.eval_preference_accuracy !== undefined &&
      high.outputs.metrics.eval_reward_margin !== undefined,
  );

  const low = await fineTune('pf:low', { metric: 'preference_accuracy', op: '>=', value: 0 });
  t.equal(low.outputs.metrics.promoted, 1, 'accuracy >= 0 always holds');
  t.equal(await prod(), 'pf:low', 'the alias moved');

  // Against the alias (now pf:low, the very same adapter): equal metrics, so '>' fails and '>=' holds.
  const gt = await fineTune('pf:gt', { metric: 'reward_margin', op: '>', against: 'alias' });
  t.equal(
    gt.outputs.metrics.baseline_reward_margin,
    gt.outputs.metrics.eval_reward_margin,
    'the same adapter scores the same',
  );
  t.equal(
    gt.outputs.metrics.baseline_reward_margin,
    low.outputs.metrics.eval_reward_margin,
    "the baseline is the alias's model",
  );
  t.equal(gt.outputs.metrics.promoted, 0, 'not better than what the alias serves');
  t.match(gt.logTail.join('\n'), /reward_margin -?[\d.]+ not > pf:low's/);
  t.equal(await prod(), 'pf:low');
  const ge = await fineTune('pf:ge', { metric: 'reward_margin', op: '>=', against: 'alias' });
  t.equal(ge.outputs.metrics.promoted, 1, 'as good as what the alias serves');
  t.equal(await prod(), 'pf:ge');

  // A criterion its eval_dataset cannot decide fails before training: nothing is registered.
  const wrongKind = await fineTune(
    'pf:wrong',
    { metric: 'preference_accuracy', op: '>=', value: 0.5 },
    { eval_dataset: 'eval.jsonl' },
  );
  t.equal(wrongKind.state, 'failed');
  t.equal(wrongKind.error?.code, 'MOC_ERR_INVALID_ARGUMENT');
  t.match(wrongKind.error?.message ?? '', /spec\.promote_if\.metric/);
  t.same(wrongKind.outputs.models, [], 'no model was trained or registered');
  const perplexityOnPairs = await fineTune('pf:ppl', { metric: 'perplexity', op: '<', value: 1e9 });
  t.equal(perplexityOnPairs.error?.code, 'MOC_ERR_INVALID_ARGUMENT');
  t.match(perplexityOnPairs.error?.message ?? '', /spec\.promote_if\.metric/);

  // Refused at submit, naming the field.
  const base = { base_model: 'moc-demo', dataset: 'train.jsonl', output_name: 'pf:bad', eval_dataset: 'pairs.jsonl' };
  const bad: Array<[object, RegExp]> = [
    [{ ...base, promote_if: { metric: 'preference_accuracy', op: '>', value: 0.5 } }, /spec\.promote_if: .*promote_to/],
    [
      {
        ...base,
        promote_to: 'prod',
        promote_if: { metric: 'preference_accuracy', op: '>', value: 0.5, against: 'alias' },
      },
      /spec\.promote_if: .*exactly one of value/,
    ],
    [
      { ...base, promote_to: 'prod', promote_if: { metric: 'preference_accuracy', op: '>' } },
      /spec\.promote_if: .*exactly one/,
    ],
    [
      { ...base, promote_to: 'prod', promote_if: { metric: 'preference_accuracy', op: '=>', value: 1 } },
      /spec\.promote_if\.op/,
    ],
    [
      { ...base, promote_to: 'prod', promote_if: { metric: 'accuracy', op: '>', value: 1 } },
      /spec\.promote_if\.metric/,
    ],
  ];
  for (const [spec, message] of bad) {
    const r = await rest(h, 'POST', '/v1/jobs', { type: 'fine-tune', spec });
    t.equal(r.status, 400, JSON.stringify(r.body));
    t.equal(r.body.error?.code, 'MOC_ERR_INVALID_ARGUMENT');
    t.match(r.body.error?.message, message, r.body.error?.message);
  }
  const grpcErr = await h
    .unary('SubmitJob', {
      type: 'fine-tune',
      spec_json: JSON.stringify({ ...base, promote_if: { metric: 'reward_margin', op: '>', against: 'base' } }),
    })
    .catch((e) => e);
  t.equal(errorCode(grpcErr), 'MOC_ERR_INVALID_ARGUMENT', 'the same over gRPC');
});

import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { ended, jobWhere, rest } from './helpers.js';

t.test(
  'ratings and preferences by request id (opt-in record) export as TRL and OpenAI preference data a fine-tune takes',
  async (t) => {
    const h = await startHarness(t, { feedback: { recordInferences: true, maxRecords: 100 } });
    const ask = (request_id: string, prompt: string) =>
      h.unary('Infer', {
        model: 'moc-demo',
        prompt,
        max_tokens: 4,
        temperature: 0.9,
        seed: request_id.length,
        request_id,
      });
    const good = await ask('ans-good', 'say hello');
    const bad = await ask('ans-bad-one', 'say hello');
    const _other = await ask('ans-other', 'something else');
    t.equal(good.request_id, 'ans-good');

    const up = await h.unary('RecordFeedback', { request_id: 'ans-good', rating: 1 });
    t.equal(up.kind, 'rating');
    t.equal(up.prompt, 'say hello', 'the prompt comes from the inference record');
    t.equal(up.chosen, good.text, 'so does the rated answer');
    await h.unary('RecordFeedback', { request_id: 'ans-bad-one', rating: -1 });
    const pref = await rest(h, 'POST', '/v1/feedback', {
      request_id: 'ans-good',
      rejected_request_id: 'ans-bad-one',
      comment: 'clearer',
    });
    t.equal(pref.status, 201);
    t.same([pref.body.chosen, pref.body.rejected], [good.text, bad.text]);
    await rest(h, 'POST', '/v1/feedback', {
      prompt: 'explicit prompt',
      chosen: 'explicit good',
      rejected: 'explicit bad',
    });

    const mixed = await h
      .unary('RecordFeedback', { request_id: 'ans-good', rejected_request_id: 'ans-other' })
      .catch((e) => e);
    t.equal(
      errorCode(mixed),
      'MOC_ERR_INVALID_ARGUMENT',
      'a preference between answers to two different prompts is refused',
    );
    const unknown = await h.unary('RecordFeedback', { request_id: 'never-seen', rating: 1 }).catch((e) => e);
    t.equal(unknown.code, grpc.status.INVALID_ARGUMENT);
    t.match(unknown.details, /not in the inference record/);
    const neither = await rest(h, 'POST', '/v1/feedback', { comment: 'nothing else' });
    t.equal(neither.status, 400, 'neither a rating nor a preference');
    t.equal(h.coordinator.store.listFeedback().length, 4, 'refused feedback stores nothing');

    const trl = await rest(h, 'POST', '/v1/jobs', {
      type: 'export-feedback',
      spec: { format: 'trl-preference', output: 'prefs/trl.jsonl' },
    });
    const oai = await rest(h, 'POST', '/v1/jobs', {
      type: 'export-feedback',
      spec: { format: 'openai-preference', output: 'prefs/openai.jsonl' },
    });
    const [jt, jo] = await Promise.all([
      jobWhere(h, trl.body.id, ended, 'trl export'),
      jobWhere(h, oai.body.id, ended, 'openai export'),
    ]);
    t.equal(jt.state, 'succeeded', JSON.stringify(jt.error ?? ''));
    t.same(
      jt.outputs.metrics,
      { pairs: 3, explicit: 2, from_ratings: 1 },
      'two explicit pairs, one from the good and bad ratings of one prompt',
    );
    const root = h.coordinator.config.jobs.datasetsRoot;
    const trlLines = readFileSync(path.join(root, 'prefs/trl.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.same(
      trlLines[0],
      { prompt: 'say hello', chosen: good.text, rejected: bad.text },
      'TRL: prompt, chosen, rejected',
    );
    const oaiLines = readFileSync(path.join(root, 'prefs/openai.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.same(
      oaiLines[1],
      {
        input: { messages: [{ role: 'user', content: 'explicit prompt' }] },
        preferred_output: [{ role: 'assistant', content: 'explicit good' }],
        non_preferred_output: [{ role: 'assistant', content: 'explicit bad' }],
      },
      'OpenAI preference fine-tuning format',
    );
    t.equal(jo.state, 'succeeded');

    // The round trip: the exported file is a fine-tune job's dataset (the demo trainer reads preference lines).
    const ft = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: { base_model: 'moc-demo', dataset: 'prefs/trl.jsonl', output_name: 'rlhf:v1' },
    });
    const done = await jobWhere(h, ft.body.id, ended, 'fine-tune on feedback', 120_000);
    t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? done.logTail));
    t.same(done.outputs.models, ['rlhf:v1']);
  },
);

t.test('without the opt-in record, feedback by request id says what to send instead', async (t) => {
  const h = await startHarness(t);
  await h.unary('Infer', { model: 'moc-demo', prompt: 'hi', max_tokens: 2, request_id: 'r1' });
  const e = await rest(h, 'POST', '/v1/feedback', { request_id: 'r1', rating: 1 });
  t.equal(e.status, 400);
  t.match(e.body.error.message, /recordInferences is off/);
  const none = await rest(h, 'POST', '/v1/jobs', {
    type: 'export-feedback',
    spec: { format: 'trl-preference', output: 'x.jsonl' },
  });
  const j = await jobWhere(h, none.body.id, ended, 'empty export');
  t.equal(j.state, 'failed');
  t.match(j.error?.message ?? '', /no preference pairs/);
});

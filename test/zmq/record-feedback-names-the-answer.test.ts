/**
 * A rating names the answer it rates by `answer_id` (the request_id its inference answered with) on ZMQ, REST and
 * gRPC alike. On ZMQ the envelope's `request_id` is the message's own id, so it can never be the rated answer; REST
 * and gRPC still take the old name `request_id` (one name or the other, not both).
 */
import t from 'tap';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { zmqRequest as req } from '../helpers/zmq.js';
import { rest } from '../jobs/helpers.js';

t.test('record_feedback rates the answer named by answer_id, on every transport', async (t) => {
  const h = await startHarness(t, { feedback: { recordInferences: true, maxRecords: 100 } });
  const infer = (request_id: string, prompt: string, seed: number) =>
    req(h.zmqUrl, { action: 'infer', request_id, model: 'moc-demo', prompt, max_tokens: 4, seed, temperature: 0.9 });
  const good = await infer('ans-good', 'say hello', 1);
  const bad = await infer('ans-bad', 'say hello', 2);
  t.equal(good.request_id, 'ans-good', 'the answer carries its id');

  // The envelope's request_id is this message's id; the rated answer is answer_id.
  const rated = await req(h.zmqUrl, {
    action: 'record_feedback',
    request_id: 'msg-1',
    answer_id: 'ans-good',
    rating: 1,
  });
  t.equal(rated.status, 'ok', JSON.stringify(rated));
  t.equal(rated.request_id, 'msg-1', 'the reply echoes the message id');
  t.equal(rated.feedback.answer_id, 'ans-good', 'the feedback names the rated answer');
  t.equal(rated.feedback.chosen, good.text, 'the rated text comes from the inference record');
  t.equal(rated.feedback.prompt, 'say hello');

  const pref = await req(h.zmqUrl, {
    action: 'record_feedback',
    request_id: 'msg-2',
    answer_id: 'ans-good',
    rejected_answer_id: 'ans-bad',
  });
  t.equal(pref.status, 'ok', JSON.stringify(pref));
  t.same([pref.feedback.kind, pref.feedback.chosen, pref.feedback.rejected], ['preference', good.text, bad.text]);

  const unnamed = await req(h.zmqUrl, { action: 'record_feedback', request_id: 'ans-good', rating: 1 });
  t.equal(unnamed.code, 'INVALID_ARGUMENT', 'the envelope request_id is never taken as the answer');
  t.match(unnamed.message, /answer_id/, `the refusal names the field to send: ${unnamed.message}`);

  // REST and gRPC: the same name, and the old one still works.
  const r1 = await rest(h, 'POST', '/v1/feedback', { answer_id: 'ans-bad', rating: -1 });
  t.equal(r1.status, 201, JSON.stringify(r1.body));
  t.equal(r1.body.chosen, bad.text);
  const r2 = await rest(h, 'POST', '/v1/feedback', { request_id: 'ans-bad', rating: -1 });
  t.equal(r2.status, 201, 'REST keeps the old name');
  t.equal(r2.body.answer_id, 'ans-bad');
  const both = await rest(h, 'POST', '/v1/feedback', { answer_id: 'ans-bad', request_id: 'ans-good', rating: 1 });
  t.equal(both.status, 400, 'both names at once are refused');
  t.match(both.body.error.message, /request_id: is the old name of answer_id/);
  const g1 = await h.unary('RecordFeedback', { answer_id: 'ans-good', rejected_answer_id: 'ans-bad' });
  t.same([g1.kind, g1.chosen, g1.rejected, g1.answer_id], ['preference', good.text, bad.text, 'ans-good']);
  const g2 = await h.unary('RecordFeedback', { request_id: 'ans-good', rating: 0 });
  t.equal(g2.answer_id, 'ans-good', 'gRPC keeps the old name');
  const gBoth = await h
    .unary('RecordFeedback', { answer_id: 'ans-good', request_id: 'ans-good', rating: 0 })
    .catch((e) => e);
  t.equal(errorCode(gBoth), 'MOC_ERR_INVALID_ARGUMENT');
  t.equal(h.coordinator.store.listFeedback().length, 6, 'what was refused stored nothing');
});

import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';

t.test('real inference over gRPC with the generated model', async (t) => {
  const h = await startHarness(t);

  t.test('unary Infer generates text and reports its timings', async (t) => {
    const r = await h.unary('Infer', {
      model: 'moc-demo',
      prompt: 'Hello',
      max_tokens: 16,
      temperature: 0,
      request_id: 'req-1',
    });
    t.equal(r.request_id, 'req-1', 'request id echoed');
    t.equal(r.model, 'moc-demo');
    t.equal(r.device, 'cpu0');
    t.ok(r.text.length > 0, `generated ${JSON.stringify(r.text)}`);
    t.ok(r.tokens_generated > 0 && r.tokens_generated <= 16, `${r.tokens_generated} tokens`);
    t.ok(r.prompt_tokens >= 1);
    t.ok(['FINISH_REASON_LENGTH', 'FINISH_REASON_EOS'].includes(r.finish_reason));
    t.ok(r.compute_ms > 0 && r.queue_ms >= 0);
  });

  t.test('greedy decoding is deterministic; a seed makes sampling reproducible', async (t) => {
    const a = await h.unary('Infer', { model: 'moc-demo', prompt: 'abc', max_tokens: 12, temperature: 0 });
    const b = await h.unary('Infer', { model: 'moc-demo', prompt: 'abc', max_tokens: 12, temperature: 0 });
    t.equal(a.text, b.text, 'same prompt, temperature 0: same text (sequences are cleared between requests)');
    const s1 = await h.unary('Infer', { model: 'moc-demo', prompt: 'abc', max_tokens: 12, temperature: 1, seed: 7 });
    const s2 = await h.unary('Infer', { model: 'moc-demo', prompt: 'abc', max_tokens: 12, temperature: 1, seed: 7 });
    t.equal(s1.text, s2.text, 'same seed: same sample');
  });

  t.test('InferStream sends text chunks, then one summary whose text is their concatenation', async (t) => {
    const chunks = await h.stream({ model: 'moc-demo', prompt: 'Hello', max_tokens: 16, temperature: 0 });
    const texts = chunks.filter((c) => c.chunk === 'text').map((c) => c.text);
    const done = chunks.filter((c) => c.chunk === 'done');
    t.ok(texts.length > 1, `${texts.length} text chunks`);
    t.equal(done.length, 1, 'one final summary');
    t.equal(chunks.at(-1).chunk, 'done', 'the summary comes last');
    t.equal(texts.join(''), done[0].done.text);
    const unary = await h.unary('Infer', { model: 'moc-demo', prompt: 'Hello', max_tokens: 16, temperature: 0 });
    t.equal(done[0].done.text, unary.text, 'streaming and unary agree');
  });

  t.test("200 concurrent calls all succeed (batched into the model's 8 sequences)", async (t) => {
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        h.unary(
          'Infer',
          { model: 'moc-demo', temperature: 0, prompt: `request ${i}`, max_tokens: 8, priority: i % 3 },
          { deadlineMs: 120_000 },
        ),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    t.equal(
      failed.length,
      0,
      failed.length ? `failures: ${(failed[0] as PromiseRejectedResult).reason}` : '200 of 200 succeeded',
    );
    const ok = results.filter((r): r is PromiseFulfilledResult<any> => r.status === 'fulfilled');
    t.ok(
      ok.every((r) => r.value.tokens_generated > 0),
      'each generated tokens',
    );
    t.ok(
      ok.some((r) => r.value.queue_ms > 1),
      'requests beyond 8 waited for a sequence',
    );
    const dev = (await h.unary('GetDevices', {})).devices[0];
    t.equal(dev.models[0].in_flight, 0, 'all sequences free afterwards');
    t.equal(dev.models[0].queued, 0);
  });
});

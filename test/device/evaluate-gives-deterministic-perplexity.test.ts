import t from 'tap';
import { startHarness, until } from '../helpers/coordinator.js';

const texts = [
  'The quick brown fox jumps over the lazy dog.',
  'a',
  'Perplexity is the exponential of the negative mean log-probability of the tokens of a text, one after another.',
];

const codeOf = (err: unknown) => (err as { code?: string }).code;

t.test(
  'evaluate scores texts deterministically on a sequence of the model, and refuses bad input with codes',
  async (t) => {
    const h = await startHarness(t);
    const dev = h.coordinator.devices.get('cpu0')!;
    const evaluate = (texts: string[], model = 'moc-demo', signal?: AbortSignal) =>
      dev.ask({ kind: 'evaluate', model, texts }, { timeoutMs: 60_000, ...(signal ? { signal } : {}) });

    const a = await evaluate(texts);
    const b = await evaluate(texts);
    t.same(b, a, 'the same texts twice give identical numbers');
    t.equal(a.model, 'moc-demo');
    t.equal(a.perText.length, texts.length, 'one result per text');
    t.equal(
      a.tokens,
      a.perText.reduce((n, x) => n + x.tokens, 0),
      'tokens is the sum of the per-text tokens',
    );
    t.ok(
      Math.abs(a.sumLogProb - a.perText.reduce((n, x) => n + x.sumLogProb, 0)) < 1e-9,
      'sumLogProb is the sum of the per-text sums',
    );
    t.ok(a.meanLogProb < 0, `meanLogProb ${a.meanLogProb} < 0`);
    t.ok(Math.abs(a.meanLogProb - a.sumLogProb / a.tokens) < 1e-12, 'meanLogProb = sumLogProb / tokens');
    t.ok(Number.isFinite(a.perplexity) && a.perplexity > 1, `perplexity ${a.perplexity} is finite and > 1`);
    t.ok(Math.abs(a.perplexity - Math.exp(-a.meanLogProb)) < 1e-9 * a.perplexity, 'perplexity = exp(-meanLogProb)');
    // The demo model's tokenizer prepends BOS: a one-character text has one scored token (after BOS).
    t.equal(a.perText[1]!.tokens, 1, 'a one-character text scores its one token after BOS');
    t.ok(a.perText[2]!.tokens > a.perText[0]!.tokens, 'a longer text has more tokens');
    for (const [i, x] of a.perText.entries())
      t.ok(x.sumLogProb < 0 && Number.isFinite(x.sumLogProb), `text ${i}: a finite negative sum`);

    // A text scored alone gives the same numbers as within a batch of texts (each starts on a cleared sequence).
    const alone = await evaluate([texts[2]!]);
    t.same(alone.perText[0], a.perText[2], 'a text scores the same alone as among others');

    // A random-weight model over a byte vocabulary is near uniform: its perplexity is of the order of its vocabulary.
    t.ok(a.perplexity < 10_000, `perplexity ${a.perplexity} is plausible for the demo model`);

    // Bad input: coded errors, nothing queued.
    await t.rejects(evaluate([]), { code: 'MOC_ERR_INVALID_ARGUMENT' }, 'no texts');
    await t.rejects(evaluate(['ok', '']), { code: 'MOC_ERR_INVALID_ARGUMENT' }, 'an empty text');
    await t.rejects(
      evaluate(Array.from({ length: 257 }, () => 'x')),
      { code: 'MOC_ERR_INVALID_ARGUMENT' },
      'more than 256 texts',
    );
    await t.rejects(evaluate(['hello'], 'no-such-model'), { code: 'MOC_ERR_MODEL_NOT_FOUND' }, 'an unknown model');
    // The demo model's context is 512 tokens and its tokenizer is byte-level: 600 characters are more than 512 tokens.
    const tooLong = await evaluate(['short', 'y'.repeat(600)]).then(
      () => undefined,
      (err) => err,
    );
    t.equal(codeOf(tooLong), 'MOC_ERR_INVALID_ARGUMENT', 'a text longer than the context is refused');
    t.match(tooLong?.message, /texts\[1\].*512 tokens/, 'the refusal names the text and the context limit');
    // Far past any tokenization: refused on the device, before it crosses to the engine.
    const huge = await evaluate(['z'.repeat(512 * 64 + 1)]).then(
      () => undefined,
      (err) => err,
    );
    t.equal(codeOf(huge), 'MOC_ERR_INVALID_ARGUMENT', 'a text far past the context is refused on the device');
    t.match(huge?.message, /512 tokens/, 'naming the context limit');
    // Exactly the context (BOS + 511 bytes) still fits.
    const full = await evaluate(['w'.repeat(511)]);
    t.equal(full.tokens, 511, 'a text filling the context exactly is scored');

    // Cancellation: an evaluation of many long texts (~70k tokens, seconds of work), aborted while it runs, answers
    // CANCELLED, and the engine stops it: its sequence is free again long before the work could have finished.
    const idle = async () =>
      (await dev.ask({ kind: 'status' }, { timeoutMs: 5000 })).models.find((m) => m.name === 'moc-demo')!.inFlight ===
      0;
    const ac = new AbortController();
    const long = Array.from({ length: 256 }, (_, i) => `${i} `.repeat(150).slice(0, 500));
    const cancelled = evaluate(long, 'moc-demo', ac.signal).then(
      () => undefined,
      (err) => err,
    );
    await new Promise((r) => setTimeout(r, 200));
    const abortedAt = Date.now();
    ac.abort();
    const err = await cancelled;
    t.equal(codeOf(err), 'MOC_ERR_CANCELLED', 'an aborted evaluation answers CANCELLED');
    await until('the engine to stop the evaluation (moc-demo in flight 0)', idle, 10_000, 20);
    const stoppedMs = Date.now() - abortedAt;
    t.ok(stoppedMs < 3000, `the engine stopped the evaluation ${stoppedMs} ms after the abort`);

    // The deadline: the same long evaluation with a short ask timeout answers DEADLINE_EXCEEDED and is stopped too.
    const late = await dev.ask({ kind: 'evaluate', model: 'moc-demo', texts: long }, { timeoutMs: 300 }).then(
      () => undefined,
      (e) => e,
    );
    t.equal(codeOf(late), 'MOC_ERR_DEADLINE_EXCEEDED', 'an evaluation past its deadline answers DEADLINE_EXCEEDED');
    const lateAt = Date.now();
    await until('the engine to stop the evaluation (moc-demo in flight 0)', idle, 10_000, 20);
    t.ok(Date.now() - lateAt < 3000, `the engine stopped it ${Date.now() - lateAt} ms after the deadline`);

    // Every sequence came back clean: an inference and an evaluation right after are served, with the same numbers.
    const r = await dev.ask(
      {
        kind: 'infer',
        requestId: 'after',
        model: 'moc-demo',
        prompt: 'hi',
        maxTokens: 4,
        temperature: 0,
        stop: [],
        priority: 0,
        stream: false,
      },
      { timeoutMs: 30_000 },
    );
    t.equal(r.model, 'moc-demo', 'an inference right after is served');
    t.same(await evaluate(texts), a, 'an evaluation after a cancel and an inference gives the same numbers');

    // Evaluations and inferences at once (more than the 8 sequences): all are served through the one queue.
    const many = await Promise.all([
      ...Array.from({ length: 10 }, () => evaluate([texts[0]!])),
      ...Array.from({ length: 4 }, (_, i) =>
        dev.ask(
          {
            kind: 'infer',
            requestId: `c${i}`,
            model: 'moc-demo',
            prompt: 'hello',
            maxTokens: 8,
            temperature: 0,
            stop: [],
            priority: 0,
            stream: false,
          },
          { timeoutMs: 30_000 },
        ),
      ),
    ]);
    t.equal(many.length, 14, 'concurrent evaluations and inferences all answered');
    for (const x of many.slice(0, 10) as Array<typeof a>) {
      t.ok(
        Math.abs(x.sumLogProb - a.perText[0]!.sumLogProb) < 1e-3 * Math.abs(a.perText[0]!.sumLogProb),
        'concurrent evaluations agree (to float rounding)',
      );
    }

    const s = await dev.ask({ kind: 'status' }, { timeoutMs: 5000 });
    const demo = s.models.find((m) => m.name === 'moc-demo')!;
    t.equal(demo.inFlight, 0, 'nothing left in flight');
    t.equal(demo.queued, 0, 'nothing left queued');
  },
);

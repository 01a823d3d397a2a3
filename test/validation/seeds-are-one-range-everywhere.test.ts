/**
 * Seeds are integers from 0 to 4294967295 on every transport. The OpenAI routes used to wrap a seed modulo 2^32
 * (0 and 4294967296 gave the same text) while /v1/infer refused it; now every route refuses a seed out of range, and
 * -1 (llama-server's "random") too, naming the range. Choice i of n is sampled with seed + i (docs/openai.md): it
 * gives the text a single request with that seed gives, and a seed whose last choice would pass the range is refused
 * rather than wrapped onto seed 0, 1, … Also: an n = 16 request prints no MaxListenersExceededWarning (each choice
 * has its own abort signal; 16 operations on one signal put 16 listeners on it).
 */
import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';

const post = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const RANGE = /seed: must be (an integer from 0 to 4294967295|at most \d+ with n \d+)/;

t.test('one seed range on every transport; choice i is seed + i and never wraps', async (t) => {
  const h = await startHarness(t);
  const C = `${h.restUrl}/openai/v1`;
  const completion = (extra: Record<string, unknown>) =>
    fetch(`${C}/completions`, post({ model: 'moc-demo', prompt: 'Hi', max_tokens: 6, temperature: 1, ...extra }));
  const chat = (extra: Record<string, unknown>) =>
    fetch(
      `${C}/chat/completions`,
      post({ model: 'moc-demo', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 6, ...extra }),
    );
  const infer = (extra: Record<string, unknown>) =>
    fetch(`${h.restUrl}/v1/infer`, post({ model: 'moc-demo', prompt: 'Hi', max_tokens: 6, temperature: 1, ...extra }));

  for (const seed of [4294967296, 2 ** 53, -1, -4294967296]) {
    for (const [route, send] of [
      ['OpenAI completions', completion],
      ['OpenAI chat', chat],
      ['REST /v1/infer', infer],
    ] as const) {
      const r = await send({ seed });
      const b = (await r.json()) as any;
      t.equal(r.status, 400, `${route} seed ${seed}: 400 (${b.error?.message ?? 'served'})`);
      t.match(b.error?.message, /^seed: must be an integer from 0 to 4294967295 \(got -?\d+\); leave seed out/);
    }
    const z = await zmqRequest(h.zmqUrl, { action: 'infer', model: 'moc-demo', prompt: 'Hi', max_tokens: 2, seed });
    t.match(z, { status: 'error', code: 'INVALID_ARGUMENT', message: RANGE }, `ZMQ seed ${seed}`);
  }
  const top = await h.unary('Infer', { model: 'moc-demo', prompt: 'Hi', max_tokens: 2, seed: 4294967295 });
  t.equal(top.tokens_generated, 2, 'gRPC: 4294967295 (uint32 max) is served');

  // 0 and 2^32 no longer give the same text silently: the second is refused (above), the first is served everywhere.
  const zero = (await (await completion({ seed: 0 })).json()) as any;
  const zeroInfer = (await (await infer({ seed: 0 })).json()) as any;
  t.equal(zero.choices[0].text, zeroInfer.text, 'seed 0: the same text on the OpenAI route and /v1/infer');

  // Choice i is sampled with seed + i: its text is what a single request with that seed gives.
  const three = (await (await completion({ seed: 7, n: 3 })).json()) as any;
  for (let i = 0; i < 3; i++) {
    const single = (await (await infer({ seed: 7 + i })).json()) as any;
    t.equal(three.choices[i].text, single.text, `choice ${i} of seed 7 is seed ${7 + i}`);
  }

  // The last choice's seed must be in range too: refused, not wrapped onto seed 0.
  for (const [route, send] of [
    ['completions', completion],
    ['chat', chat],
  ] as const) {
    const over = await send({ seed: 4294967295, n: 2 });
    const b = (await over.json()) as any;
    t.equal(over.status, 400, `${route} seed 4294967295, n 2: 400`);
    t.match(b.error, { param: 'seed', message: /^seed: must be at most 4294967294 with n 2 \(got 4294967295\)/ });
    const fits = await send({ seed: 4294967294, n: 2 });
    t.equal(fits.status, 200, `${route} seed 4294967294, n 2: served (seeds 4294967294 and 4294967295)`);
  }
});

t.test('an n = 16 request puts no more listeners on a signal than Node allows', async (t) => {
  const h = await startHarness(t);
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  for (const stream of [false, true]) {
    const r = await fetch(
      `${h.restUrl}/openai/v1/chat/completions`,
      post({ model: 'moc-demo', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, n: 16, seed: 1, stream }),
    );
    t.equal(r.status, 200, `n 16${stream ? ', streamed' : ''}: 200`);
    await r.text();
  }
  // Warnings are emitted on the next tick: let it pass.
  await new Promise((r) => setImmediate(r));
  t.same(
    warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
    [],
    'no MaxListenersExceededWarning',
  );
});

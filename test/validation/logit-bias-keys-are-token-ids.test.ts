/**
 * logit_bias keys are token ids written in decimal, on every transport. A key that is not one ("abc", "NaN", "",
 * "1.5", "0x10", "-1", "007") used to be accepted: some changed the answer to "" and "0x10" biased token 16. Now
 * each is refused at the edge, INVALID_ARGUMENT naming logit_bias and the key as sent (OpenAI: 400
 * invalid_request_error, param logit_bias). Values are finite numbers from -100 to 100. Whether an id is in the
 * vocabulary stays the engine's check (a large id still reaches it).
 */
import t from 'tap';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';

const post = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

const BAD_KEYS = ['abc', 'NaN', '', '1.5', '0x10', '-1', '007', '+5', ' 5', '1e3'];

t.test(
  'keys that are not decimal token ids, and values outside -100..100, are refused on every transport',
  async (t) => {
    const h = await startHarness(t);
    const C = `${h.restUrl}/openai/v1`;
    const chat = (logit_bias: unknown) =>
      fetch(
        `${C}/chat/completions`,
        post({ model: 'moc-demo', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, seed: 1, logit_bias }),
      );
    const completion = (logit_bias: unknown) =>
      fetch(`${C}/completions`, post({ model: 'moc-demo', prompt: 'Hi', max_tokens: 4, seed: 1, logit_bias }));
    const infer = (logit_bias: unknown) =>
      fetch(`${h.restUrl}/v1/infer`, post({ model: 'moc-demo', prompt: 'Hi', max_tokens: 4, seed: 1, logit_bias }));

    for (const key of BAD_KEYS) {
      const bias = { [key]: 100 };
      const quoted = JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const named = new RegExp(
        `^logit_bias: has the key ${quoted}, which is not allowed; keys are token ids in decimal`,
      );
      for (const [route, send] of [
        ['chat', chat],
        ['completions', completion],
      ] as const) {
        const r = await send(bias);
        const b = (await r.json()) as any;
        t.equal(
          r.status,
          400,
          `OpenAI ${route} {${JSON.stringify(key)}: 100}: 400 (${b.error?.message ?? 'accepted'})`,
        );
        t.match(b.error, { type: 'invalid_request_error', param: 'logit_bias', message: named });
      }
      const r = await infer(bias);
      const b = (await r.json()) as any;
      t.equal(r.status, 400, `REST /v1/infer {${JSON.stringify(key)}: 100}: 400`);
      t.match(b.error, { code: 'MOC_ERR_INVALID_ARGUMENT', message: named });
      const z = await zmqRequest(h.zmqUrl, { action: 'infer', model: 'moc-demo', prompt: 'Hi', logit_bias: bias });
      t.match(z, { status: 'error', code: 'INVALID_ARGUMENT', message: named }, `ZMQ {${JSON.stringify(key)}: 100}`);
    }

    // "0x10" used to bias token 16: the answer with {"16": 100} must not be what {"0x10": 100} gives now (a refusal).
    const sixteen = await chat({ '16': 100 });
    t.equal(sixteen.status, 200, 'a decimal id is served');
    // A decimal id past the vocabulary (any uint32, as gRPC's map keys are) reaches the engine's check, which names it.
    for (const id of ['99999', '4294967295']) {
      const far = await infer({ [id]: 1 });
      t.equal(far.status, 400, `id ${id}: 400`);
      t.match(
        ((await far.json()) as any).error.message,
        new RegExp(`^logit_bias\\.${id}: is not a token of this model`),
      );
    }
    const zero = await chat({ '0': -100 });
    t.equal(zero.status, 200, '"0" is a token id');

    // Values: finite numbers from -100 to 100.
    for (const v of ['101', '-100.5', '1e309', '"5"', 'null']) {
      const body = `{"model":"moc-demo","prompt":"Hi","max_tokens":2,"logit_bias":{"5":${v}}}`;
      for (const url of [`${h.restUrl}/openai/v1/completions`, `${h.restUrl}/v1/infer`]) {
        const r = await fetch(url, post(body));
        const b = (await r.json()) as any;
        t.equal(r.status, 400, `${url.replace(h.restUrl, '')} {"5": ${v}}: 400`);
        t.match(b.error.message, /^logit_bias\.5: must be a number from -100 to 100/, b.error.message);
      }
    }
    // gRPC's map<uint32, double> cannot carry a bad key, but can carry NaN and out-of-range values.
    for (const v of [Number.NaN, 101, -1000]) {
      const e = await h.unary('Infer', { model: 'moc-demo', prompt: 'Hi', max_tokens: 2, logit_bias: { 5: v } }).then(
        () => null,
        (err) => err,
      );
      t.equal(e ? errorCode(e) : 'accepted', 'MOC_ERR_INVALID_ARGUMENT', `gRPC {5: ${v}}: INVALID_ARGUMENT`);
      t.match(e?.details, /^logit_bias\.5: must be a number from -100 to 100/);
    }
    const ok = await h.unary('Infer', { model: 'moc-demo', prompt: 'Hi', max_tokens: 2, logit_bias: { 5: -100 } });
    t.equal(ok.tokens_generated, 2, 'gRPC {5: -100} is served');
  },
);

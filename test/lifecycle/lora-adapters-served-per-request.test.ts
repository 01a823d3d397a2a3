/**
 * LoRA adapters served per request, for real: generated adapters of the demo model are registered (REST, gRPC, ZMQ),
 * named in `model` on every transport, answered on their own contexts over the base's weights (at temperature 0 the
 * answer differs from the base's at scale 1 and equals it at scale 0), and the ledger follows what the engine holds:
 * an adapter's weights stay with its base after the adapter unloads (node-llama-cpp frees them with the model only),
 * and unloading the base unloads its adapters first. Broken adapters are refused at registration, naming the problem.
 */
import t from 'tap';
import path from 'node:path';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { writeLoraAdapterGguf } from '../../src/model/lora-adapter.js';
import { demoPath, errorCode, startHarness, type Harness } from '../helpers/coordinator.js';
import { zmqRequest } from '../helpers/zmq.js';
import { rest } from '../jobs/helpers.js';

const PROMPT = 'Once upon a time';
const completion = async (h: Harness, model: string) => {
  const r = await rest(h, 'POST', '/openai/v1/completions', {
    model,
    prompt: PROMPT,
    max_tokens: 12,
    temperature: 0,
    logprobs: 1,
  });
  if (r.status !== 200) throw new Error(`${model}: ${r.status} ${JSON.stringify(r.body)}`);
  return { text: r.body.choices[0].text as string, logprobs: r.body.choices[0].logprobs.token_logprobs as number[] };
};
const modelOf = async (h: Harness, name: string) => (await rest(h, 'GET', `/v1/models/${name}`)).body;
const reserved = async (h: Harness) => (await rest(h, 'GET', '/v1/devices')).body.devices[0].memory.reserved;

t.test('adapters per request on every transport, the ledger truthful, the base unloaded last', async (t) => {
  const h = await startHarness(t);
  const base = demoPath(h);
  const a1 = await writeLoraAdapterGguf(path.join(h.modelsRoot, 'support.gguf'), base, { seed: 1 });
  await writeLoraAdapterGguf(path.join(h.modelsRoot, 'legal.gguf'), base, { seed: 2 });

  const reg = await rest(h, 'POST', '/v1/models', { name: 'support', base: 'moc-demo', adapter: 'support.gguf' });
  t.equal(reg.status, 201, JSON.stringify(reg.body));
  t.equal(reg.body.base, 'moc-demo', 'the view names the base');
  t.equal(reg.body.scale, 1, 'scale 1 unless given');
  t.equal(reg.body.state, 'registered');
  await h.unary('RegisterModel', { name: 'legal', base: 'moc-demo', adapter: 'legal.gguf' });
  // The same file at scale 0 (ZMQ): the base's answers.
  const z = await zmqRequest(h.zmqUrl, {
    action: 'register_model',
    name: 'support-off',
    base: 'moc-demo',
    adapter: 'support.gguf',
    scale: 0,
  });
  t.equal(z.status, 'ok', JSON.stringify(z));

  const plain = await completion(h, 'moc-demo');
  const before = await reserved(h);
  const tuned = await completion(h, 'support');
  t.not(JSON.stringify(tuned), JSON.stringify(plain), 'the adapter changes the answer (text or logprobs)');
  t.same(await completion(h, 'support-off'), plain, "at scale 0 the answer is the base's, token for token");

  // The ledger: each adapter holds its context and its weights; the base is loaded once.
  const s = await modelOf(h, 'support');
  t.equal(s.state, 'loaded');
  t.equal(s.device, 'cpu0', "on its base's device");
  t.ok(s.reserved_bytes >= a1.bytes, `its entry counts its weights (${s.reserved_bytes} ≥ file ${a1.bytes})`);
  const baseBytes = (await modelOf(h, 'moc-demo')).reserved_bytes;
  const off = (await modelOf(h, 'support-off')).reserved_bytes;
  t.equal(await reserved(h), before + s.reserved_bytes + off, 'the device holds the base once, plus each adapter');
  t.ok(off < s.reserved_bytes, 'the same file at another scale shares its weights: counted once, on the first');

  // Other transports name the adapter as they name a model; two adapters run side by side.
  const [g, zm] = await Promise.all([
    h.unary('Infer', { model: 'support', prompt: PROMPT, max_tokens: 12, temperature: 0 }),
    zmqRequest(h.zmqUrl, { action: 'infer', model: 'legal', prompt: PROMPT, max_tokens: 12, temperature: 0 }),
  ]);
  t.equal(g.text, tuned.text, 'gRPC: the same answer as OpenAI for the same adapter');
  t.equal(zm.status, 'ok', JSON.stringify(zm));
  t.same(
    [zm.text, zm.tokens_generated],
    await completion(h, 'legal').then((c) => [c.text, c.logprobs.length]),
    'ZMQ: the same answer as OpenAI for the same adapter',
  );

  // Unloading an adapter frees its context; its weights stay held: charged to another loaded adapter of the same file
  // (support-off), else to the base, until the base goes.
  const u = await rest(h, 'POST', '/v1/models/support/unload', {});
  t.equal(u.status, 200, JSON.stringify(u.body));
  t.equal(u.body.freed_bytes, s.reserved_bytes - a1.bytes, 'freed: its context, not its weights');
  t.equal((await modelOf(h, 'support-off')).reserved_bytes, off + a1.bytes, 'the weights pass to support-off');
  const u2 = await rest(h, 'POST', '/v1/models/support-off/unload', {});
  t.equal(u2.body.freed_bytes, off, 'freed: its context');
  t.equal((await modelOf(h, 'moc-demo')).reserved_bytes, baseBytes + a1.bytes, "then they are the base's");
  // Loaded again: the weights are reused (nothing loaded twice) and move back to the adapter.
  t.same(await completion(h, 'support'), tuned, 'the same answer after a reload');
  t.equal((await modelOf(h, 'moc-demo')).reserved_bytes, baseBytes, 'the weights moved back to the adapter');
  t.equal((await modelOf(h, 'support')).reserved_bytes, s.reserved_bytes, 'which holds what it held before');

  const list = (await rest(h, 'GET', '/openai/v1/models')).body.data;
  const parent = Object.fromEntries(list.map((m: { id: string; parent: string | null }) => [m.id, m.parent]));
  t.same(
    { base: parent['moc-demo'], support: parent.support, legal: parent.legal },
    { base: null, support: 'moc-demo', legal: 'moc-demo' },
    "the OpenAI list names each adapter's parent",
  );

  // Unloading the base unloads its adapters first, and frees everything they held.
  const held = await reserved(h);
  const all = await h.unary('UnloadModel', { name: 'moc-demo' });
  for (const n of ['support', 'legal', 'support-off']) t.equal((await modelOf(h, n)).state, 'registered', `${n} left`);
  t.equal(Number(all.freed_bytes), held, 'everything the base and its adapters held is freed');
  t.equal(await reserved(h), 0, 'the device holds nothing');
  // Named again, an adapter loads its base on demand.
  t.same(await completion(h, 'support'), tuned, 'an adapter loads its base on demand');
  t.equal((await modelOf(h, 'moc-demo')).state, 'loaded');
});

t.test('broken adapters are refused at registration, naming what is wrong; the server keeps serving', async (t) => {
  const h = await startHarness(t);
  const wide = (await writeTinyLlamaGguf(path.join(h.modelsRoot, 'wide.gguf'), { dims: { embd: 128 } })).path;
  await writeLoraAdapterGguf(path.join(h.modelsRoot, 'wide-lora.gguf'), wide);
  await writeLoraAdapterGguf(path.join(h.modelsRoot, 'ok-lora.gguf'), demoPath(h));

  const refusals: [string, object, number, string, RegExp][] = [
    [
      'made for another base',
      { name: 'x', base: 'moc-demo', adapter: 'wide-lora.gguf' },
      422,
      'MOC_ERR_ADAPTER_REFUSED',
      /wide-lora\.gguf is refused: .*do not fit the base/,
    ],
    [
      'a model file as adapter',
      { name: 'x', base: 'moc-demo', adapter: 'moc-demo.gguf' },
      422,
      'MOC_ERR_ADAPTER_REFUSED',
      /general\.type/,
    ],
    [
      'an adapter file as model',
      { name: 'x', path: 'ok-lora.gguf' },
      422,
      'MOC_ERR_LOAD_FAILED',
      /is a LoRA adapter.*register it with adapter and base/,
    ],
    ['no base', { name: 'x', adapter: 'ok-lora.gguf' }, 400, 'MOC_ERR_INVALID_ARGUMENT', /base: is required/],
    [
      'both path and adapter',
      { name: 'x', path: 'moc-demo.gguf', base: 'moc-demo', adapter: 'ok-lora.gguf' },
      400,
      'MOC_ERR_INVALID_ARGUMENT',
      /not both/,
    ],
    [
      'an unregistered base',
      { name: 'x', base: 'nope', adapter: 'ok-lora.gguf' },
      404,
      'MOC_ERR_MODEL_NOT_FOUND',
      /register the base model first/,
    ],
  ];
  for (const [what, body, status, code, message] of refusals) {
    const r = await rest(h, 'POST', '/v1/models', body);
    t.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    t.equal(r.body.error?.code, code, what);
    t.match(r.body.error?.message, message, what);
  }
  await rest(h, 'POST', '/v1/models', { name: 'ok', base: 'moc-demo', adapter: 'ok-lora.gguf' });
  const adapterOfAdapter = await h
    .unary('RegisterModel', { name: 'y', base: 'ok', adapter: 'ok-lora.gguf' })
    .catch((e: unknown) => e);
  t.equal(errorCode(adapterOfAdapter), 'MOC_ERR_INVALID_ARGUMENT', 'an adapter is not a base');
  t.equal((await completion(h, 'ok')).text.length > 0, true, 'the server still serves, adapters included');
});

import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { writeFileSync, symlinkSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';

t.test('load / unload / list, and a ledger that never passes its limit', async (t) => {
  // Room for two demo-sized models (about 4 MiB each with 8 sequences of 512 tokens), not three.
  const h = await startHarness(t, { devices: [{ id: 'cpu0', memory: '10MiB' }] });
  const fail = (method: string, req: object) =>
    h.unary(method, req).then(
      () => null,
      (e) => e as grpc.ServiceError,
    );
  const ledger = async () => (await h.unary('GetDevices', {})).devices[0];

  const initial = await h.unary('ListModels', {});
  t.same(
    initial.models.map((m: any) => [m.name, m.state]),
    [['moc-demo', 'MODEL_STATE_LOADED']],
    'the demo model is preloaded',
  );

  const one = await h.unary('LoadModel', { name: 'copy1', path: 'moc-demo.gguf' });
  t.equal(one.state, 'MODEL_STATE_LOADED');
  t.equal(one.device, 'cpu0');
  t.ok(one.estimate_bytes > 0, `estimate ${one.estimate_bytes} bytes from the GGUF header`);
  t.ok(one.actual_bytes > 0, `engine reports ${one.actual_bytes} bytes after loading`);
  t.equal(one.reserved_bytes, one.actual_bytes, 'the reservation is reconciled to what the engine reports');
  const r = await h.unary('Infer', { model: 'copy1', temperature: 0, prompt: 'hi', max_tokens: 4 });
  t.equal(r.model, 'copy1', 'the new model serves');

  let dev = await ledger();
  const sum = dev.models.reduce((s: number, m: any) => s + m.reserved_bytes, 0);
  t.equal(dev.memory.reserved, sum, 'ledger total = sum of model reservations');
  t.ok(dev.memory.reserved <= dev.memory.hard_limit, 'ledger within the hard limit');

  // Both resident models pinned: nothing may be evicted, so the third load has nowhere to go.
  await h.unary('PinModel', { name: 'moc-demo', pinned: true });
  await h.unary('PinModel', { name: 'copy1', pinned: true });
  const refused = await fail('LoadModel', { name: 'copy2', path: 'moc-demo.gguf' });
  t.equal(refused?.code, grpc.status.RESOURCE_EXHAUSTED, 'a load that cannot fit is refused');
  t.equal(errorCode(refused), 'MOC_ERR_NO_MEMORY');
  t.match(
    refused?.details,
    /needs [\d.]+ MiB and nothing can be evicted to make room: .*copy1 on cpu0 [\d.]+ MiB \(pinned\).*; unload or unpin a model/,
    'the refusal says what holds the memory and what to free',
  );
  const after = await ledger();
  t.equal(after.memory.reserved, dev.memory.reserved, 'a refused load reserves nothing');
  t.notOk(
    after.models.some((m: any) => m.name === 'copy2'),
    'and leaves no model behind',
  );

  const un = await h.unary('UnloadModel', { name: 'copy1' });
  t.equal(un.freed_bytes, one.reserved_bytes, 'unload frees what the model held');
  dev = await ledger();
  t.same(
    dev.models.map((m: any) => m.name),
    ['moc-demo'],
  );
  const two = await h.unary('LoadModel', { name: 'copy2', path: 'moc-demo.gguf' });
  t.equal(two.state, 'MODEL_STATE_LOADED', 'after the unload the third model fits');
  t.equal(
    (await fail('Infer', { model: 'copy1', temperature: 0, prompt: 'x', require_loaded: true }))?.code,
    grpc.status.NOT_FOUND,
    'an unloaded model is not served when the caller asks for loaded models only',
  );
  t.equal((await fail('UnloadModel', { name: 'copy1' }))?.code, grpc.status.NOT_FOUND, 'unloading it again: NOT_FOUND');
  await h.unary('UnloadModel', { name: 'copy2' });
});

t.test('concurrent loads of one model share one load; a name cannot point at two files', async (t) => {
  const h = await startHarness(t);
  await writeTinyLlamaGguf(path.join(h.modelsRoot, 'wide.gguf'), { dims: { embd: 128, layers: 3 }, seed: 3 });
  const loads = await Promise.all(
    Array.from({ length: 16 }, () => h.unary('LoadModel', { name: 'wide', path: 'wide.gguf', sequences: 2 })),
  );
  t.ok(
    loads.every((m) => m.state === 'MODEL_STATE_LOADED' && m.loaded_at_ms === loads[0].loaded_at_ms),
    '16 loads, one model',
  );
  const demo = (await h.unary('ListModels', {})).models.find((m: any) => m.name === 'moc-demo');
  t.ok(
    loads[0].actual_bytes > 0 && loads[0].estimate_bytes !== demo.estimate_bytes,
    'a model of other dimensions has its own estimate',
  );
  const e = await h.unary('LoadModel', { name: 'wide', path: 'moc-demo.gguf' }).catch((err) => err);
  t.equal(e.code, grpc.status.ALREADY_EXISTS);
  t.match(e.details, /already loaded on cpu0 from .*wide\.gguf; unload it first/);
});

t.test('model paths: only files inside the models root', async (t) => {
  const h = await startHarness(t);
  const outside = path.join(h.dir, 'outside');
  mkdirSync(outside, { recursive: true });
  await writeTinyLlamaGguf(path.join(outside, 'x.gguf'));
  symlinkSync(path.join(outside, 'x.gguf'), path.join(h.modelsRoot, 'escape.gguf'));
  const cases: [object, number, RegExp][] = [
    [{ name: 'a', path: '../outside/x.gguf' }, grpc.status.INVALID_ARGUMENT, /contains '\.\.'/],
    [{ name: 'a', path: path.join(outside, 'x.gguf') }, grpc.status.INVALID_ARGUMENT, /is absolute/],
    [{ name: 'a', path: 'escape.gguf' }, grpc.status.INVALID_ARGUMENT, /resolves outside the models root/],
    [{ name: 'a', path: 'missing.gguf' }, grpc.status.NOT_FOUND, /no file 'missing.gguf' under the models root/],
    [{ name: 'bad/name', path: 'moc-demo.gguf' }, grpc.status.INVALID_ARGUMENT, /^name: /],
    [
      { name: 'a', path: 'moc-demo.gguf', device: 'gpu9' },
      grpc.status.NOT_FOUND,
      /device 'gpu9' does not exist; configured devices: cpu0/,
    ],
  ];
  for (const [req, code, msg] of cases) {
    const e = await h.unary('LoadModel', req).catch((err) => err);
    t.equal(e.code, code, `${JSON.stringify(req)} → ${grpc.status[code]}`);
    t.match(e.details, msg);
  }
  writeFileSync(path.join(h.modelsRoot, 'garbage.gguf'), Buffer.from('this is not a gguf file at all'));
  const bad = await h.unary('LoadModel', { name: 'garbage', path: 'garbage.gguf' }).catch((err) => err);
  t.equal(errorCode(bad), 'MOC_ERR_LOAD_FAILED', 'a broken file is refused before the engine loads it');
  t.match(bad.details, /is not a valid GGUF file/);
  const dev = (await h.unary('GetDevices', {})).devices[0];
  t.same(
    dev.models.map((m: any) => m.name),
    ['moc-demo'],
    'nothing left behind',
  );
  t.ok(
    (await h.unary('Infer', { model: 'moc-demo', temperature: 0, prompt: 'still here', max_tokens: 2 }))
      .tokens_generated > 0,
    'server still serves',
  );
});

import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import path from 'node:path';

t.test('the catalog lives in LMDB: a restarted coordinator has it intact and reloads its preload list', async (t) => {
  const dir = t.testdir();
  const first = await startHarness(t, {}, { dir });
  await writeTinyLlamaGguf(path.join(first.modelsRoot, 'other.gguf'), { seed: 9 });
  const reg = await first.unary('RegisterModel', { name: 'extra', path: 'other.gguf', preload: true, sequences: 2 });
  t.equal(reg.state, 'MODEL_STATE_REGISTERED', 'registered, not loaded');
  t.match(reg.sha256, /^[0-9a-f]{64}$/, 'sha256 computed at registration');
  t.equal(reg.architecture, 'llama');
  t.ok(reg.parameter_count > 0);
  t.equal(reg.quantization, 'F32');
  await first.unary('RegisterModel', { name: 'lazy', path: 'other.gguf' });
  await first.unary('SetAlias', { alias: 'prod', target: 'lazy' });
  await first.close();

  const second = await startHarness(t, {}, { dir });
  const models = Object.fromEntries((await second.unary('ListModels', {})).models.map((m: any) => [m.name, m]));
  t.same(Object.keys(models).sort(), ['extra', 'lazy', 'moc-demo'], 'every registered model is back');
  t.equal(models.extra.state, 'MODEL_STATE_LOADED', 'a preload-marked model was loaded at start');
  t.equal(models.extra.sequences, 2, 'with its registered settings');
  t.equal(models.extra.sha256, reg.sha256);
  t.equal(models.lazy.state, 'MODEL_STATE_REGISTERED', 'others stay registered until used');
  t.same(models.lazy.aliases, ['prod'], 'aliases survive');
  const r = await second.unary('Infer', { model: 'prod', prompt: 'hi', max_tokens: 2, temperature: 0 });
  t.equal(r.model, 'lazy', 'the alias resolves (and loads its target on demand)');
  const events = second.coordinator.store.readEvents().map((e) => e.event.type);
  t.ok(events.includes('model.registered') && events.includes('alias.set'), 'every change is in the event log');
});

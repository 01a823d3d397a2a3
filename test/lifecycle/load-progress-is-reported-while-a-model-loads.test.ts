/**
 * A loading model reports how far the engine has read its weights (node-llama-cpp's load progress): a WatchModels
 * watcher sees `load_progress` rise through the load, in steps, before the model is loaded; a loaded model has none.
 * The model is a generated 86 MB one (the demo model loads in a few ms, but its progress steps still arrive: each is
 * a device notice, not a sample).
 */
import t from 'tap';
import type * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { startHarness, until } from '../helpers/coordinator.js';
import { writeTinyLlamaGguf } from '../../src/model/demo-model.js';

t.test('load_progress rises while a model loads, and is gone once it is loaded', async (t) => {
  const h = await startHarness(t, { devices: [{ id: 'cpu0', memory: '2GiB' }] });
  const file = await writeTinyLlamaGguf(path.join(h.modelsRoot, 'big.gguf'), {
    dims: { embd: 512, layers: 8, heads: 8, ff: 1024 },
    seed: 5,
  });
  t.ok(file.bytes > 80e6, `a ${(file.bytes / 1e6).toFixed(0)} MB model`);

  const seen: { state: string; progress: number | null }[] = [];
  const watch = h.client.WatchModels({}) as grpc.ClientReadableStream<any>;
  watch.on('data', (m: any) => {
    if (m.name === 'big') seen.push({ state: m.state, progress: m.load_progress ?? null });
  });
  watch.on('error', () => {});
  t.teardown(() => watch.cancel());
  // The stream starts with the current models: once the demo model's view arrived, the watcher is subscribed.
  let open = false;
  watch.on('data', () => {
    open = true;
  });
  await until('the watcher is open', async () => open);

  const loaded = await h.unary('LoadModel', { name: 'big', path: 'big.gguf', context_size: 256, sequences: 1 });
  t.equal(loaded.state, 'MODEL_STATE_LOADED');
  await until('the watcher saw it loaded', async () => seen.some((s) => s.state === 'MODEL_STATE_LOADED'));

  const steps = seen.filter((s) => s.state === 'MODEL_STATE_LOADING' && s.progress !== null).map((s) => s.progress!);
  t.comment(`load_progress seen: ${steps.map((p) => p.toFixed(3)).join(', ')}`);
  t.ok(steps.length >= 3, `several steps while loading (${steps.length})`);
  t.ok(
    steps.every((p, i) => p > 0 && p < 1 && (i === 0 || p > steps[i - 1]!)),
    'each step between 0 and 1, rising',
  );
  t.ok(
    steps.every((p, i) => i === 0 || p - steps[i - 1]! >= 0.1 - 1e-9),
    'steps at least 10 % apart (LOAD_PROGRESS_STEP)',
  );
  const last = seen[seen.length - 1]!;
  t.same(last, { state: 'MODEL_STATE_LOADED', progress: null }, 'loaded: no load_progress');
  const rest = (await (await fetch(`${h.restUrl}/v1/models/big`)).json()) as Record<string, unknown>;
  t.equal(rest.state, 'loaded');
  t.notOk('load_progress' in rest, 'REST: no load_progress once loaded');
});

import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { errorCode, startHarness, type Harness } from '../helpers/coordinator.js';
import { longModel, startGeneration } from '../helpers/long-generation.js';
import { untrackChildren } from '../helpers/untracked-children.js';

untrackChildren(); // four engines: no tap hook on each module they load

// Demo-sized models take about 4.05 MiB each (8 sequences of 512 tokens); b has one sequence of 1536 tokens (3.8 MiB),
// room for a generation that runs over a second. Soft limit 9 MiB: two fit; a third needs an eviction; the hard limit
// (13 MiB) allows three only when nothing can be evicted.
const DEVICE = { id: 'cpu0', memory: '13MiB', softLimit: '9MiB' };
const state = async (h: any) =>
  Object.fromEntries((await h.unary('ListModels', {})).models.map((m: any) => [m.name, m]));

/**
 * One coordinator with the default config for the keep-alive and the load-on-demand subtests (its start costs seconds
 * of CPU): each uses models of its own (blink, lazy) and leaves the demo model as it found it. Closed when the file ends.
 */
let shared: Promise<Harness> | undefined;
const defaultHarness = () => (shared ??= startHarness(t));

/** The first WatchModels update (the current list comes first, then each change) for which `ok` holds. */
function watchFor(h: Harness, what: string, ok: (m: any) => boolean, timeoutMs = 10_000): Promise<any> {
  return new Promise((resolve, reject) => {
    const s = h.client.WatchModels({}, { deadline: new Date(Date.now() + timeoutMs) });
    s.on('data', (m: any) => {
      if (ok(m)) {
        resolve(m);
        s.cancel();
      }
    });
    s.on('error', (e: Error) => reject(new Error(`no update with ${what}: ${e.message}`)));
    s.on('end', () => reject(new Error(`WatchModels ended before ${what}`)));
  });
}

t.test('eviction by bytes: least recently used idle unpinned models go; pinned and busy ones stay', async (t) => {
  const h = await startHarness(t, { devices: [DEVICE], models: [] });
  for (const n of ['a', 'c', 'd']) await h.unary('RegisterModel', { name: n, path: 'moc-demo.gguf' });
  await h.unary('RegisterModel', longModel('b', 1, 1536));
  await h.unary('UnloadModel', { name: 'moc-demo' });
  await h.unary('LoadModel', { name: 'a' });
  await h.unary('LoadModel', { name: 'b' });
  await h.unary('Infer', { model: 'a', prompt: 'use a', max_tokens: 2, temperature: 0 }); // b is now the LRU
  await h.unary('LoadModel', { name: 'c' });
  let s = await state(h);
  t.equal(s.b.state, 'MODEL_STATE_REGISTERED', 'the least recently used model (b) was evicted');
  t.equal(s.a.state, 'MODEL_STATE_LOADED');
  t.equal(s.c.state, 'MODEL_STATE_LOADED');
  const dev = (await h.unary('GetDevices', {})).devices[0];
  t.equal(dev.memory.reserved, s.a.reserved_bytes + s.c.reserved_bytes, 'the ledger counts exactly the loaded models');
  t.ok(dev.memory.reserved <= dev.memory.soft_limit, 'back under the soft limit');

  await h.unary('PinModel', { name: 'a', pinned: true }); // a is older than c, but pinned
  await h.unary('LoadModel', { name: 'b' });
  s = await state(h);
  t.equal(s.a.state, 'MODEL_STATE_LOADED', 'the pinned model survived although it was the LRU');
  t.equal(s.c.state, 'MODEL_STATE_REGISTERED', 'the unpinned one went');

  // b busy with a long generation, a pinned: nothing to evict, d goes above the soft limit but under the hard one.
  const busy = startGeneration(h.client, { model: 'b', prompt: 'long', max_tokens: 1500, temperature: 0 });
  await busy.started; // a streamed token: b is generating, with a second or more to go
  await h.unary('LoadModel', { name: 'd' });
  s = await state(h);
  t.equal(s.b.state, 'MODEL_STATE_LOADED', 'the busy model was not evicted');
  const full = (await h.unary('GetDevices', {})).devices[0];
  t.ok(
    full.memory.reserved > full.memory.soft_limit && full.memory.reserved <= full.memory.hard_limit,
    'above soft, within hard',
  );
  // d is idle: a fourth model would evict it. Pinned, nothing is left to evict and a fourth cannot fit.
  await h.unary('PinModel', { name: 'd', pinned: true });
  const refused = await h.unary('LoadModel', { name: 'c' }).catch((e) => e as grpc.ServiceError);
  t.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED, 'a fourth cannot fit while the others are pinned or busy');
  t.equal(errorCode(refused), 'MOC_ERR_NO_MEMORY');
  t.match(
    refused.details,
    /a on cpu0 [\d.]+ MiB \(pinned\), b on cpu0 [\d.]+ MiB \(busy\), d on cpu0 [\d.]+ MiB \(pinned\)/,
    'the refusal says what holds the memory',
  );
  t.equal((await busy.ended).error, null, 'the busy generation finished undisturbed');
});

t.test(
  'keep-alive: idle models unload when it expires; a request can set it; 0 unloads after the request',
  async (t) => {
    const h = await defaultHarness();
    const loaded = await h.unary('LoadModel', {
      name: 'blink',
      path: 'moc-demo.gguf',
      keep_alive_ms: 300,
      sequences: 1,
    });
    t.equal(loaded.keep_alive_ms, 300);
    t.ok(loaded.expires_at_ms > Date.now() - 1000, 'an expiry is scheduled while idle');
    await watchFor(h, 'blink unloaded', (m) => m.name === 'blink' && m.state === 'MODEL_STATE_REGISTERED');
    t.pass('unloaded after 300 ms idle');
    t.equal((await state(h))['moc-demo'].state, 'MODEL_STATE_LOADED', 'a keep-alive of forever (-1) stays');

    const r = await h.unary('Infer', {
      model: 'blink',
      prompt: 'once',
      max_tokens: 2,
      temperature: 0,
      keep_alive_ms: 0,
    });
    t.equal(r.model, 'blink', 'loaded on demand for the request');
    await watchFor(
      h,
      'blink unloaded after the request',
      (m) => m.name === 'blink' && m.state === 'MODEL_STATE_REGISTERED',
    );
    t.pass('keep_alive 0 unloaded it right after');
  },
);

t.test('load on demand, unless the request says not to; 32 concurrent loads are one load', async (t) => {
  const h = await defaultHarness();
  await h.unary('RegisterModel', { name: 'lazy', path: 'moc-demo.gguf' });
  const e = await h
    .unary('Infer', { model: 'lazy', prompt: 'x', max_tokens: 2, require_loaded: true })
    .catch((err) => err);
  t.equal(e.code, grpc.status.NOT_FOUND, 'require_loaded: NOT_FOUND');
  const results = await Promise.all(Array.from({ length: 32 }, () => h.unary('LoadModel', { name: 'lazy' })));
  t.equal(new Set(results.map((m) => m.loaded_at_ms)).size, 1, '32 loads, one model load');
  t.ok(results.every((m) => m.state === 'MODEL_STATE_LOADED'));
  await h.unary('UnloadModel', { name: 'lazy' });
  const many = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      h.unary('Infer', { model: 'lazy', prompt: `p${i}`, max_tokens: 2, temperature: 0 }),
    ),
  );
  t.ok(
    many.every((r) => r.model === 'lazy'),
    '20 concurrent requests for an unloaded model: loaded once, all served',
  );
});

t.test('best fit across two devices', async (t) => {
  const h = await startHarness(t, {
    devices: [
      { id: 'big', memory: '64MiB' },
      { id: 'small', memory: '12MiB' },
    ],
  });
  const m = await h.unary('LoadModel', { name: 'fit', path: 'moc-demo.gguf' });
  const demo = (await state(h))['moc-demo'];
  // The demo model went first (best fit: small), so 'fit' also goes where it leaves the least room: small again.
  t.equal(demo.device, 'small');
  t.equal(m.device, 'small');
  const third = await h.unary('LoadModel', { name: 'third', path: 'moc-demo.gguf' });
  t.equal(third.device, 'big', 'when the small device is full, the big one (no eviction needed)');
});

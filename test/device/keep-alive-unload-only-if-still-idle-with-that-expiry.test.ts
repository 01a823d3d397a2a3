import t from 'tap';
import { startHarness, until } from '../helpers/coordinator.js';
import { ManualClock } from '../../src/kernel/clock.js';

// The lifecycle decides a keep-alive expiry from a device's report; the device unloads only if the model is still
// idle with the expiry that report carried (UnloadMsg.ifExpiresAt): a request in between keeps it loaded.
t.test('an expiry unload goes ahead only with the current expiry of an idle model', async (t) => {
  const h = await startHarness(t);
  await h.unary('LoadModel', {
    name: 'ka',
    path: 'moc-demo.gguf',
    keep_alive_ms: 600_000,
    sequences: 1,
    context_size: 64,
  });
  const dev = h.coordinator.devices.get('cpu0')!;
  const info = async () => (await dev.ask({ kind: 'status' }, { timeoutMs: 5000 })).models.find((m) => m.name === 'ka');
  const seen = (await info())!;
  t.ok(seen.expiresAt > Date.now(), 'idle: the device reports when it may be unloaded');

  t.same(
    await dev.ask({ kind: 'unload', model: 'ka', ifExpiresAt: seen.expiresAt - 1 }, { timeoutMs: 10_000 }),
    { model: 'ka', freedBytes: 0 },
    'another expiry: nothing freed',
  );
  t.equal((await info())?.state, 'loaded', 'still loaded');

  await h.unary('Infer', { model: 'ka', prompt: 'x', max_tokens: 1, temperature: 0 });
  const after = (await info())!;
  t.ok(after.expiresAt > seen.expiresAt, 'the request moved the expiry');
  t.same(
    await dev.ask({ kind: 'unload', model: 'ka', ifExpiresAt: seen.expiresAt }, { timeoutMs: 10_000 }),
    { model: 'ka', freedBytes: 0 },
    'the expiry decided before the request does not unload it',
  );
  t.equal((await info())?.state, 'loaded');

  const r = await dev.ask({ kind: 'unload', model: 'ka', ifExpiresAt: after.expiresAt }, { timeoutMs: 10_000 });
  t.ok(r.freedBytes > 0, 'the current expiry of an idle model: unloaded');
  t.equal(await info(), undefined);
});

t.test('pinned and keep-forever models report no expiry, so nothing can expire them', async (t) => {
  const clock = new ManualClock();
  const h = await startHarness(t, {}, { clock });
  await h.unary('LoadModel', {
    name: 'pin',
    path: 'moc-demo.gguf',
    keep_alive_ms: 1,
    pinned: true,
    sequences: 1,
    context_size: 64,
  });
  // A control with the same keep-alive, not pinned: its unload shows the expiries due by then were carried out.
  await h.unary('LoadModel', {
    name: 'control',
    path: 'moc-demo.gguf',
    keep_alive_ms: 1,
    sequences: 1,
    context_size: 64,
  });
  const dev = h.coordinator.devices.get('cpu0')!;
  const s = await dev.ask({ kind: 'status' }, { timeoutMs: 5000 });
  t.equal(s.models.find((m) => m.name === 'pin')?.expiresAt, 0, 'pinned');
  t.equal(s.models.find((m) => m.name === 'moc-demo')?.expiresAt, 0, 'keep_alive -1');
  await until("the lifecycle to arm the control's expiry", async () => clock.timers > 0, 10_000);
  clock.advance(3_600_000);
  await until('the control model (keep-alive 1 ms, not pinned) to be unloaded', async () =>
    (await dev.ask({ kind: 'status' }, { timeoutMs: 5000 })).models.every((m) => m.name !== 'control'),
  );
  t.equal(clock.timers, 0, 'no expiry timer is left for the pinned or keep-forever model');
  t.equal(
    (await h.unary('GetModel', { name: 'pin' })).state,
    'MODEL_STATE_LOADED',
    'a pinned model with keep_alive 1 ms stays, an hour on',
  );
});

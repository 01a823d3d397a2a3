import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { errorCode, startHarness } from '../helpers/coordinator.js';
import { modelsInState } from '../helpers/events.js';
import { LONG_MAX_TOKENS, longModel, startGeneration } from '../helpers/long-generation.js';

t.test(
  'engine process killed with SIGKILL during inference: coordinator up, device back, models reloaded',
  async (t) => {
    const h = await startHarness(t);
    await h.unary('LoadModel', longModel('second', 2));
    const before = (await h.unary('GetDevices', {})).devices[0];
    t.ok(
      before.engine_pid > 0 && before.engine_pid !== process.pid,
      `engine runs in its own process (pid ${before.engine_pid})`,
    );

    // Long generations in flight when the engine dies, one per sequence of 'second': kill it as soon as one streams a
    // token, with seconds of generation left.
    const inflight = Array.from({ length: 2 }, () =>
      startGeneration(h.client, { model: 'second', temperature: 0, prompt: 'long', max_tokens: LONG_MAX_TOKENS }),
    );
    await Promise.any(inflight.map((g) => g.started));
    const killedAt = Date.now();
    process.kill(before.engine_pid, 'SIGKILL');

    const failed = (await Promise.all(inflight.map((g) => g.ended))).map((e) => e.error);
    t.ok(
      failed.every((e) => e !== null),
      'every in-flight request failed',
    );
    for (const e of failed) {
      t.equal(e!.code, grpc.status.UNAVAILABLE, 'with UNAVAILABLE (retryable)');
      t.equal(errorCode(e), 'MOC_ERR_UNAVAILABLE');
      t.ok(Number(e!.metadata.get('retry-after-ms')[0]) > 0, 'and a retry hint');
    }

    // Loaded after the kill: the device reloads into the new engine (it is 'ready' before it loads).
    await modelsInState(
      h.coordinator,
      ['moc-demo', 'second'],
      (m) => m.state === 'loaded' && m.loadedAt > killedAt,
      'engine restarted and models reloaded',
    );
    const after = (await h.unary('GetDevices', {})).devices[0];
    t.equal(after.engine_state, 'ready', 'the engine is ready');
    t.ok(
      after.models.length === 2 && after.models.every((m: any) => m.state === 'MODEL_STATE_LOADED'),
      'with the models loaded',
    );
    t.not(after.engine_pid, before.engine_pid, 'a new engine process');
    t.equal(after.engine_restarts, 1);
    t.same(after.models.map((m: any) => m.name).sort(), ['moc-demo', 'second'], 'both models came back');
    t.equal(after.memory.reserved, before.memory.reserved, 'the ledger holds the same reservations');
    const r = await h.unary('Infer', { model: 'second', temperature: 0, prompt: 'after', max_tokens: 4 });
    t.ok(r.tokens_generated > 0, 'the next Infer succeeds');
  },
);

t.test('a native abort in the engine (fault injection) costs one engine restart, not the coordinator', async (t) => {
  const h = await startHarness(t, { debug: { faultInjection: true } });
  const pid = (await h.unary('GetDevices', {})).devices[0].engine_pid;
  const crashedAt = Date.now();
  await h.coordinator.devices.get('cpu0')!.ask({ kind: 'crash', target: 'engine' }, { timeoutMs: 5000 });
  await modelsInState(
    h.coordinator,
    ['moc-demo'],
    (m) => m.state === 'loaded' && m.loadedAt > crashedAt,
    'engine back, model reloaded',
  );
  const d = (await h.unary('GetDevices', {})).devices[0];
  t.not(d.engine_pid, pid, 'a new engine process');
  t.equal(d.engine_state, 'ready');
  t.equal(d.models[0]?.state, 'MODEL_STATE_LOADED');
  t.equal(d.engine_restarts, 1);
  t.ok(
    (await h.unary('Infer', { model: 'moc-demo', temperature: 0, prompt: 'x', max_tokens: 2 })).tokens_generated > 0,
  );
});

t.test('fault injection is refused unless enabled in config', async (t) => {
  const h = await startHarness(t);
  const e = await h.coordinator.devices
    .get('cpu0')!
    .ask({ kind: 'crash', target: 'worker' }, { timeoutMs: 5000 })
    .catch((err) => err);
  t.equal(e.code, 'MOC_ERR_INVALID_ARGUMENT');
  t.match(e.message, /fault injection is disabled/);
});

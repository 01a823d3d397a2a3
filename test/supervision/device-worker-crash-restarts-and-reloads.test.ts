import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { startHarness } from '../helpers/coordinator.js';
import { modelsInState } from '../helpers/events.js';
import { LONG_MAX_TOKENS, longModel, startGeneration } from '../helpers/long-generation.js';

t.test(
  'a device worker that throws is restarted; requests it held fail UNAVAILABLE; its models come back',
  async (t) => {
    const h = await startHarness(t, {
      debug: { faultInjection: true },
      supervisor: { maxRestarts: 3, periodMs: 60_000 },
    });
    const device = h.coordinator.devices.get('cpu0')!;
    await h.unary('LoadModel', longModel('long'));
    const held = startGeneration(h.client, {
      model: 'long',
      temperature: 0,
      prompt: 'held',
      max_tokens: LONG_MAX_TOKENS,
    });
    await held.started; // a streamed token: the generation is running, and has seconds to go
    const crashedAt = Date.now();
    await device.ask({ kind: 'crash', target: 'worker' }, { timeoutMs: 5000 });
    const { error: err } = await held.ended;
    t.equal(err?.code, grpc.status.UNAVAILABLE, 'the held request fails UNAVAILABLE');
    t.match(err?.details, /device cpu0 is restarting \(crashed: fault injection/, 'and says why');

    // Until the new worker reports, the route table still says 'loaded' (the old worker's last report): a model counts
    // as back only once loaded after the crash.
    await modelsInState(
      h.coordinator,
      ['long', 'moc-demo'],
      (m) => m.state === 'loaded' && m.loadedAt > crashedAt,
      'device back with its models (reloaded after the crash)',
    );
    const d = (await h.unary('GetDevices', {})).devices[0];
    t.ok(d.available, 'the device is available again');
    t.ok(
      d.models.length === 2 && d.models.every((m: any) => m.state === 'MODEL_STATE_LOADED'),
      'with its models loaded',
    );
    t.same(
      d.models.map((m: any) => m.name).sort(),
      ['long', 'moc-demo'],
      'the models were reloaded from the desired state',
    );
    const r = await h.unary('Infer', { model: 'moc-demo', temperature: 0, prompt: 'next', max_tokens: 4 });
    t.ok(r.tokens_generated > 0, 'the next request succeeds');
  },
);

import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { startHarness, until } from '../helpers/coordinator.js';

t.test('a device worker that throws is restarted; requests it held fail UNAVAILABLE; its models come back', async (t) => {
  const h = await startHarness(t, { debug: { faultInjection: true }, supervisor: { maxRestarts: 3, periodMs: 60_000 } });
  const device = h.coordinator.devices.get('cpu0')!;
  const held = h.unary('Infer', { model: 'moc-demo', temperature: 0, prompt: 'held', max_tokens: 400 }).then(() => null, (e) => e as grpc.ServiceError);
  await until('request running', async () => (await h.unary('GetDevices', {})).devices[0].models[0].in_flight > 0);
  await device.ask({ kind: 'crash', target: 'worker' }, { timeoutMs: 5000 });
  const err = await held;
  t.equal(err?.code, grpc.status.UNAVAILABLE, 'the held request fails UNAVAILABLE');
  t.match(err?.details, /device cpu0 is restarting \(crashed: fault injection/, 'and says why');

  const d = await until('device back with its model', async () => {
    const d = (await h.unary('GetDevices', {})).devices[0];
    return d.available && d.models[0]?.state === 'MODEL_STATE_LOADED' ? d : undefined;
  });
  t.equal(d.models[0].name, 'moc-demo', 'the model was reloaded from the desired state');
  const r = await h.unary('Infer', { model: 'moc-demo', temperature: 0, prompt: 'next', max_tokens: 4 });
  t.ok(r.tokens_generated > 0, 'the next request succeeds');
});

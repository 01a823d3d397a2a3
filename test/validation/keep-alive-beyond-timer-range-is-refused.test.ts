/**
 * keep_alive_ms past Node's timer range (2^31−1 ms) is refused on every transport, naming the field and saying to
 * use -1 instead. Node turns a longer timer into 1 ms, so such a value from any infer key used to unload the model
 * at once (/health/ready 503, nothing loaded).
 */
import t, { type Test } from 'tap';
import { errorCode, startHarness, type Harness } from '../helpers/coordinator.js';
import { zmqRequest as zmqOnce } from '../helpers/zmq.js';
import { ManualClock } from '../../src/kernel/clock.js';

const THIRTY_DAYS_MS = 2_592_000_000; // > 2147483647
const post = (o: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(o),
});

/**
 * The model was not unloaded: ready, still loaded, and loaded at the same time as before (an unload followed by a
 * load on demand would change loaded_at_ms). The coordinator's timers run on `clock`: a minute passes at once, which
 * fires any expiry due by then (a too-long timer fires after 1 ms on the ManualClock, as on Node's). What is checked is
 * that an event does *not* happen, so there is nothing to await: 200 ms gives the unload such a timer starts (a
 * message to the device, a few ms) ample time to show.
 */
async function stillLoaded(t: Test, h: Harness, clock: ManualClock, loadedAt: number, after: string): Promise<void> {
  clock.advance(60_000);
  await new Promise((r) => setTimeout(r, 200));
  const ready = await fetch(`${h.restUrl}/health/ready`);
  t.equal(ready.status, 200, `after ${after}: /health/ready stays 200`);
  t.match(await ready.json(), { status: 'ready', models_loaded: 1 }, `after ${after}: the model stays loaded`);
  const model = (await (await fetch(`${h.restUrl}/v1/models/moc-demo`)).json()) as any;
  t.match(model, { state: 'loaded', loaded_at_ms: loadedAt }, `after ${after}: not unloaded and reloaded`);
  const ok = await fetch(`${h.restUrl}/v1/infer`, post({ model: 'moc-demo', prompt: 'still there?', max_tokens: 2 }));
  t.equal(ok.status, 200, `after ${after}: a normal infer is served`);
}

t.test('keep_alive_ms beyond 2^31-1 ms is INVALID_ARGUMENT and the model stays loaded', async (t) => {
  const clock = new ManualClock();
  const h = await startHarness(t, {}, { clock });
  const loadedAt = ((await (await fetch(`${h.restUrl}/v1/models/moc-demo`)).json()) as any).loaded_at_ms as number;
  t.ok(loadedAt > 0, 'the demo model is loaded');

  const r = await fetch(
    `${h.restUrl}/v1/infer`,
    post({ model: 'moc-demo', prompt: 'hi', keep_alive_ms: THIRTY_DAYS_MS }),
  );
  const body = (await r.json()) as any;
  t.equal(r.status, 400, 'REST infer: 400');
  t.equal(body.error?.code, 'MOC_ERR_INVALID_ARGUMENT');
  t.match(
    body.error?.message,
    /^keep_alive_ms: .*2147483647.*-1/,
    `names the field, the limit and the -1 alternative: ${body.error?.message}`,
  );
  await stillLoaded(t, h, clock, loadedAt, 'REST infer');

  for (const [what, url, req] of [
    ['REST load', '/v1/models/moc-demo/load', { keep_alive_ms: THIRTY_DAYS_MS }],
    ['REST register', '/v1/models', { name: 'copy', path: 'moc-demo.gguf', keep_alive_ms: THIRTY_DAYS_MS }],
  ] as const) {
    const res = await fetch(h.restUrl + url, post(req));
    t.equal(res.status, 400, `${what}: 400`);
    t.match(
      await res.json(),
      { error: { code: 'MOC_ERR_INVALID_ARGUMENT', message: /^keep_alive_ms: / } },
      `${what}: names keep_alive_ms`,
    );
  }
  await stillLoaded(t, h, clock, loadedAt, 'REST load and register');

  const z = await zmqOnce(h.zmqUrl, {
    action: 'infer',
    model: 'moc-demo',
    prompt: 'hi',
    keep_alive_ms: THIRTY_DAYS_MS,
  });
  t.match(z, { status: 'error', code: 'INVALID_ARGUMENT', message: /^keep_alive_ms: / }, 'ZMQ infer: INVALID_ARGUMENT');
  const zl = await zmqOnce(h.zmqUrl, { action: 'load_model', name: 'moc-demo', keep_alive_ms: THIRTY_DAYS_MS });
  t.match(
    zl,
    { status: 'error', code: 'INVALID_ARGUMENT', message: /^keep_alive_ms: / },
    'ZMQ load_model: INVALID_ARGUMENT',
  );
  await stillLoaded(t, h, clock, loadedAt, 'ZMQ infer and load');

  const g = await h.unary('Infer', { model: 'moc-demo', prompt: 'hi', keep_alive_ms: THIRTY_DAYS_MS }).then(
    () => null,
    (e) => e,
  );
  t.equal(g ? errorCode(g) : 'accepted', 'MOC_ERR_INVALID_ARGUMENT', 'gRPC Infer: INVALID_ARGUMENT');
  await stillLoaded(t, h, clock, loadedAt, 'gRPC infer');

  // The limit itself and -1 are still accepted.
  for (const keep of [2147483647, -1]) {
    const res = await fetch(
      `${h.restUrl}/v1/infer`,
      post({ model: 'moc-demo', prompt: 'hi', max_tokens: 2, keep_alive_ms: keep }),
    );
    t.equal(res.status, 200, `keep_alive_ms ${keep} is accepted`);
  }
  await stillLoaded(t, h, clock, loadedAt, 'the largest timer value');
});

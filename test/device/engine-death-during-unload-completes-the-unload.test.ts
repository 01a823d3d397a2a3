import t from 'tap';
import { startHarness, until } from '../helpers/coordinator.js';
import { nextModelState } from '../helpers/events.js';

const infer = (dev: any, i: number, maxTokens: number) =>
  dev
    .ask(
      {
        kind: 'infer',
        requestId: `r${i}`,
        model: 'one',
        prompt: `p${i}`,
        maxTokens,
        temperature: 0,
        stop: [],
        priority: 0,
        stream: false,
      },
      { timeoutMs: 60_000 },
    )
    .then(
      () => null,
      (e: any) => e,
    );

t.test(
  'the engine dying while an unload drains queued requests: the unload completes, the bytes are released',
  async (t) => {
    const h = await startHarness(t, { debug: { faultInjection: true } });
    const dev = h.coordinator.devices.get('cpu0')!;
    await h.unary('LoadModel', { name: 'one', path: 'moc-demo.gguf', sequences: 1 });
    const status = () => dev.ask({ kind: 'status' }, { timeoutMs: 5000 });
    const one = (s: any) => s.models.find((m: any) => m.name === 'one');
    const demoBytes = (await status()).models.find((m: any) => m.name === 'moc-demo')!.reservedBytes;

    // One sequence: a long generation runs, two more wait in the queue behind it.
    const requests = [infer(dev, 0, 400), infer(dev, 1, 4), infer(dev, 2, 4)];
    await until('one running, two queued', async () => {
      const m = one(await status());
      return m.inFlight === 1 && m.queued === 2;
    });
    // Subscribed before the unload is asked, so its 'unloading' report cannot be missed.
    const draining = nextModelState(h.coordinator, (m) => m.name === 'one' && m.state === 'unloading', 'one unloading');
    const unloading = dev.ask({ kind: 'unload', model: 'one' }, { timeoutMs: 60_000 });
    await draining;
    await dev.ask({ kind: 'crash', target: 'engine' }, { timeoutMs: 5000 });

    const r = await unloading;
    t.equal(r.model, 'one', 'the unload completed');
    t.ok(r.freedBytes > 0, 'and released the reservation');
    const errs = await Promise.all(requests);
    for (const e of errs.filter((x) => x !== null))
      t.equal(e.code, 'MOC_ERR_UNAVAILABLE', 'requests cut by the engine death fail retryably');
    const s = await until('engine back', async () => {
      const s = await status();
      return s.engine.state === 'ready' ? s : undefined;
    });
    t.notOk(one(s), 'the model is gone');
    t.equal(s.memory.reserved, demoBytes, 'the ledger holds only the remaining model');
  },
);

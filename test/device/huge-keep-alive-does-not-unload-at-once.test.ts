import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';

// 30 days: above 2^31-1 ms, where Node's setTimeout silently fires after 1 ms instead.
const THIRTY_DAYS = 2_592_000_000;

const infoOf = async (dev: any, name: string) =>
  (await dev.ask({ kind: 'status' }, { timeoutMs: 5000 })).models.find((m: any) => m.name === name);

// An expiry that fired by mistake starts the unload within a few ms; 300 ms is ample to see it (the bug never
// produces an event to wait for: the model just disappears).
const settle = () => new Promise((r) => setTimeout(r, 300));

t.test('update with a keep-alive of 30 days keeps the model loaded and schedules the expiry 30 days out', async (t) => {
  const h = await startHarness(t);
  const dev = h.coordinator.devices.get('cpu0')!;
  const before = Date.now();
  const info = await dev.ask(
    { kind: 'update', model: 'moc-demo', pinned: false, keepAliveMs: THIRTY_DAYS },
    { timeoutMs: 5000 },
  );
  t.equal(info.keepAliveMs, THIRTY_DAYS);
  t.ok(
    info.expiresAt >= before + THIRTY_DAYS && info.expiresAt <= Date.now() + THIRTY_DAYS,
    'expiresAt is 30 days from now',
  );
  await settle();
  const m = await infoOf(dev, 'moc-demo');
  t.equal(m?.state, 'loaded', 'still loaded');
  t.equal(m?.expiresAt, info.expiresAt, 'the expiry did not move');
});

t.test('an infer with a keep-alive of 30 days keeps the model loaded afterwards', async (t) => {
  const h = await startHarness(t);
  const dev = h.coordinator.devices.get('cpu0')!;
  const before = Date.now();
  const r = await dev.ask(
    {
      kind: 'infer',
      requestId: 'ka',
      model: 'moc-demo',
      prompt: 'hi',
      maxTokens: 2,
      temperature: 0,
      stop: [],
      priority: 0,
      stream: false,
      keepAliveMs: THIRTY_DAYS,
    },
    { timeoutMs: 30_000 },
  );
  t.equal(r.model, 'moc-demo');
  await settle();
  const m = await infoOf(dev, 'moc-demo');
  t.equal(m?.state, 'loaded', 'still loaded after the request');
  t.equal(m?.keepAliveMs, THIRTY_DAYS);
  t.ok(m?.expiresAt >= before + THIRTY_DAYS, 'expiresAt is 30 days after the request');
});

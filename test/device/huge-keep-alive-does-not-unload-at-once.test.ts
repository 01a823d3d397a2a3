/**
 * A keep-alive of 30 days (past Node's 2^31-1 ms timer range, where setTimeout fires after 1 ms instead) keeps the
 * model loaded until its expiry, not for a moment. The coordinator's timers run on a ManualClock (which fires a too
 * long delay after 1 ms, as Node does): 29 days pass in an instant, a control model with a one-minute keep-alive is
 * unloaded meanwhile (so the expiry machinery ran, and an expiry fired by mistake would have been carried out too),
 * the 30-day one stays; at its 30 days it is unloaded.
 */
import t, { type Test } from 'tap';
import { type Harness, startHarness, until } from '../helpers/coordinator.js';
import { ManualClock } from '../../src/kernel/clock.js';

// 30 days: above 2^31-1 ms, where Node's setTimeout silently fires after 1 ms instead.
const THIRTY_DAYS = 2_592_000_000;
const DAY = 86_400_000;

const infoOf = async (dev: any, name: string) =>
  (await dev.ask({ kind: 'status' }, { timeoutMs: 5000 })).models.find((m: any) => m.name === name);

/** A harness on a manual clock, with a control model (keep-alive 1 min) beside the demo model. */
async function start(t: Test): Promise<{ h: Harness; clock: ManualClock; dev: any }> {
  const clock = new ManualClock();
  const h = await startHarness(t, {}, { clock });
  await h.unary('LoadModel', {
    name: 'control',
    path: 'moc-demo.gguf',
    keep_alive_ms: 60_000,
    sequences: 1,
    context_size: 64,
  });
  return { h, clock, dev: h.coordinator.devices.get('cpu0')! };
}

/** 29 days on: the control is unloaded, the 30-day model is not; then at its expiry it is. */
async function expiresAtItsTime(t: Test, clock: ManualClock, dev: any, expiresAt: number): Promise<void> {
  // Both expiries armed (the lifecycle arms from the devices' reports, which arrive on their own).
  await until('the lifecycle to arm both keep-alive timers', async () => clock.timers === 2, 10_000);
  clock.advance(29 * DAY);
  await until('the control model (keep-alive 1 min) to be unloaded', async () => !(await infoOf(dev, 'control')));
  const m = await infoOf(dev, 'moc-demo');
  t.equal(m?.state, 'loaded', '29 days on: the 30-day model is still loaded');
  t.equal(m?.expiresAt, expiresAt, 'the expiry did not move');
  clock.advance(expiresAt - clock.now());
  await until('the 30-day model to be unloaded at its expiry', async () => !(await infoOf(dev, 'moc-demo')));
  t.pass('at 30 days: unloaded');
}

t.test('update with a keep-alive of 30 days keeps the model loaded and schedules the expiry 30 days out', async (t) => {
  const { clock, dev } = await start(t);
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
  await expiresAtItsTime(t, clock, dev, info.expiresAt);
});

t.test('an infer with a keep-alive of 30 days keeps the model loaded afterwards', async (t) => {
  const { clock, dev } = await start(t);
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
  const m = await infoOf(dev, 'moc-demo');
  t.equal(m?.state, 'loaded', 'still loaded after the request');
  t.equal(m?.keepAliveMs, THIRTY_DAYS);
  t.ok(m?.expiresAt >= before + THIRTY_DAYS, 'expiresAt is 30 days after the request');
  await expiresAtItsTime(t, clock, dev, m.expiresAt);
});

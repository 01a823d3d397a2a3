import t from 'tap';
import { KeepAliveTimers } from '../../actors/lifecycle/keep-alive.js';
import type { ModelInfo } from '../../schemas/messages.js';

const info = (name: string, o: Partial<ModelInfo>): ModelInfo => ({
  name,
  path: `/m/${name}.gguf`,
  device: 'cpu0',
  state: 'loaded',
  contextSize: 64,
  sequences: 1,
  estimateBytes: 1,
  reservedBytes: 1,
  actualBytes: 1,
  inFlight: 0,
  queued: 0,
  loadedAt: 1,
  lastUsedAt: 1,
  pinned: false,
  keepAliveMs: 50,
  expiresAt: 0,
  ...o,
});

t.test('an idle model is due at its expiry; a busy, pinned or gone one is disarmed', async (t) => {
  const due: Array<[string, number]> = [];
  const timers = new KeepAliveTimers((m, at) => due.push([m, at]));
  t.teardown(() => timers.close());
  const at = Date.now() + 40;
  timers.follow(
    [
      info('a', { expiresAt: at }),
      info('b', { expiresAt: at }),
      info('c', { expiresAt: at }),
      info('p', { expiresAt: at, pinned: true }),
    ],
    [],
  );
  t.equal(timers.armed, 3, 'pinned is never armed');
  timers.follow([info('b', { expiresAt: 0, inFlight: 1 })], ['c']); // b got a request; c left the device
  t.equal(timers.armed, 1);
  await new Promise((r) => setTimeout(r, 120));
  t.same(due, [['a', at]], 'only the idle one came due, with the expiry it was armed for');
});

t.test('a report with a new expiry re-arms; the same expiry twice arms once', async (t) => {
  const due: Array<[string, number]> = [];
  const timers = new KeepAliveTimers((m, at) => due.push([m, at]));
  t.teardown(() => timers.close());
  const first = Date.now() + 30;
  timers.follow([info('a', { expiresAt: first })], []);
  timers.follow([info('a', { expiresAt: first })], []);
  const later = Date.now() + 90;
  timers.follow([info('a', { expiresAt: later })], []); // used again: a later expiry replaces the first
  await new Promise((r) => setTimeout(r, 60));
  t.same(due, [], 'the replaced expiry never fires');
  await new Promise((r) => setTimeout(r, 90));
  t.same(due, [['a', later]]);
});

t.test('an expiry beyond the 2^31-1 ms timer range is not due at once (capped timer chain)', async (t) => {
  const due: string[] = [];
  const timers = new KeepAliveTimers((m) => due.push(m));
  t.teardown(() => timers.close());
  timers.follow([info('far', { expiresAt: Date.now() + 30 * 24 * 3600 * 1000 })], []);
  await new Promise((r) => setTimeout(r, 100));
  t.same(due, [], 'a 30-day keep-alive did not fire');
  t.equal(timers.armed, 1);
  timers.close();
  t.equal(timers.armed, 0, 'close disarms everything');
});

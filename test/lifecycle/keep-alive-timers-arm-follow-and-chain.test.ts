import t from 'tap';
import { KeepAliveTimers } from '../../actors/lifecycle/keep-alive.js';
import type { ModelInfo } from '../../schemas/messages.js';
import { ManualClock } from '../../src/kernel/clock.js';

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
  const clock = new ManualClock();
  const due: Array<[string, number]> = [];
  const timers = new KeepAliveTimers((m, at) => due.push([m, at]), clock);
  t.teardown(() => timers.close());
  const at = clock.now() + 40;
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
  clock.advance(39);
  t.same(due, [], 'nothing is due before its expiry');
  clock.advance(1);
  t.same(due, [['a', at]], 'only the idle one came due, at its expiry, with the expiry it was armed for');
  t.equal(timers.armed, 0, 'and is no longer armed');
  t.equal(clock.timers, 0, 'the disarmed ones left no timer behind');
});

t.test('a report with a new expiry re-arms; the same expiry twice arms once', async (t) => {
  const clock = new ManualClock();
  const due: Array<[string, number]> = [];
  const timers = new KeepAliveTimers((m, at) => due.push([m, at]), clock);
  t.teardown(() => timers.close());
  const first = clock.now() + 30;
  timers.follow([info('a', { expiresAt: first })], []);
  timers.follow([info('a', { expiresAt: first })], []);
  t.equal(clock.timers, 1, 'the same expiry twice: one timer');
  clock.advance(10);
  const later = clock.now() + 90;
  timers.follow([info('a', { expiresAt: later })], []); // used again: a later expiry replaces the first
  t.equal(clock.timers, 1, 'the new expiry replaced the timer of the first');
  clock.advance(60);
  t.same(due, [], 'the replaced expiry never fires');
  clock.advance(29);
  t.same(due, [], 'nor the new one before its time');
  clock.advance(1);
  t.same(due, [['a', later]]);
});

t.test('an expiry beyond the 2^31-1 ms timer range is not due at once (capped timer chain)', async (t) => {
  // The manual clock fires a delay past 2^31-1 ms after 1 ms, as Node does: an uncapped timer would be due at once.
  const clock = new ManualClock();
  const due: string[] = [];
  const timers = new KeepAliveTimers((m) => due.push(m), clock);
  t.teardown(() => timers.close());
  const DAY = 24 * 3600 * 1000;
  const far = clock.now() + 30 * DAY;
  timers.follow([info('far', { expiresAt: far })], []);
  clock.advance(100);
  t.same(due, [], 'a 30-day keep-alive did not fire after 100 ms');
  clock.advance(29 * DAY);
  t.same(due, [], 'nor after 29 days (the capped timers re-armed on the way)');
  t.equal(timers.armed, 1);
  clock.advance(far - clock.now() - 1);
  t.same(due, [], 'nor 1 ms before its expiry');
  clock.advance(1);
  t.same(due, ['far'], 'due at 30 days exactly');
  timers.follow([info('far', { expiresAt: clock.now() + 30 * DAY })], []);
  t.equal(timers.armed, 1);
  timers.close();
  t.equal(timers.armed, 0, 'close disarms everything');
  t.equal(clock.timers, 0, 'and clears its timers');
  timers.follow([info('late', { expiresAt: clock.now() + 10 })], []);
  t.equal(timers.armed, 0, 'a report after close arms nothing');
});

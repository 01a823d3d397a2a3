/**
 * The ManualClock that timer tests run on: advance(ms) runs the timers due by then, earliest first, each at its own
 * time; a cleared timer never runs; a delay past Node's ceiling fires after 1 ms as Node's does; and a timer that
 * re-arms itself forever is reported instead of hanging the test.
 */
import t from 'tap';
import { MAX_TIMER_MS, ManualClock } from '../../src/kernel/clock.js';

t.test('due timers run in due order, each seeing its own time', async (t) => {
  const clock = new ManualClock(1000);
  const ran: Array<[string, number]> = [];
  const note = (name: string) => () => ran.push([name, clock.now()]);
  clock.setTimeout(note('c'), 30);
  clock.setTimeout(note('a'), 10);
  clock.setTimeout(note('b'), 10);
  const gone = clock.setTimeout(note('cleared'), 5);
  clock.clearTimeout(gone);
  clock.setTimeout(() => {
    note('outer')();
    clock.setTimeout(note('inner'), 5); // set by a timer, due within the same advance
  }, 20);
  clock.advance(9);
  t.same(ran, [], 'nothing is due before 10 ms');
  clock.advance(21);
  t.same(ran, [
    ['a', 1010],
    ['b', 1010],
    ['outer', 1020],
    ['inner', 1025],
    ['c', 1030],
  ]);
  t.equal(clock.now(), 1030);
  t.equal(clock.timers, 0);
  t.throws(() => clock.advance(-1), /time only moves forward/);
});

t.test("a delay past the ceiling fires after 1 ms, as Node's does; runaway re-arming is reported", async (t) => {
  const clock = new ManualClock(0);
  let fired = 0;
  clock.setTimeout(() => fired++, MAX_TIMER_MS + 1);
  clock.advance(1);
  t.equal(fired, 1);
  const again = () => {
    clock.setTimeout(again, 1);
  };
  again();
  t.throws(() => clock.advance(10 * 60_000 * 60), /timers ran; one re-arms itself too soon/);
});

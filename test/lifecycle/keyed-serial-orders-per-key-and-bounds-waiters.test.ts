import t from 'tap';
import { KeyedSerial, releaseAll } from '../../actors/lifecycle/keyed-serial.js';

const queue = (max = 8) => new KeyedSerial(max, (key) => `placement queue of device ${key}`);

t.test('turns of one key are handed over in arrival order, one at a time', async (t) => {
  const q = queue();
  const order: string[] = [];
  const first = await q.turn('cpu0');
  const waiting = ['a', 'b', 'c'].map((name) =>
    q.turn('cpu0').then((release) => {
      order.push(name);
      release();
    }),
  );
  t.equal(q.waiting('cpu0'), 3);
  await Promise.resolve();
  t.same(order, [], 'nobody gets the turn while it is held');
  first();
  first(); // a second release of the same turn does nothing
  await Promise.all(waiting);
  t.same(order, ['a', 'b', 'c']);
  t.equal(q.waiting('cpu0'), 0);
  (await q.turn('cpu0'))(); // free again
});

t.test('a held key does not delay another key', async (t) => {
  const q = queue();
  const cpu1 = await q.turn('cpu1');
  const cpu0 = await q.turn('cpu0'); // resolves although cpu1 is held
  cpu0();
  cpu1();
  t.pass();
});

t.test('one waiter past the bound is refused busy at once; other keys are unaffected', async (t) => {
  const q = queue(2);
  const held = await q.turn('cpu0');
  const a = q.turn('cpu0');
  const b = q.turn('cpu0');
  const e = await q.turn('cpu0').catch((err) => err);
  t.equal(e?.code, 'MOC_ERR_BUSY');
  t.match(e?.message, /placement queue of device cpu0 is full \(capacity 2\)/);
  (await q.turn('cpu1'))();
  held();
  (await a)();
  (await b)();
});

t.test('several keys are taken in one order: two callers asking in opposite orders do not deadlock', async (t) => {
  const q = queue();
  const blocker = await q.turn('cpu1');
  const x = q.turns(['cpu1', 'cpu0']);
  const y = q.turns(['cpu0', 'cpu1']);
  const single = await q.turn('cpu2'); // not among their keys
  single();
  blocker();
  const first = await x;
  t.same([...first.keys()], ['cpu0', 'cpu1']);
  releaseAll(first);
  releaseAll(await y);
});

t.test('a refused multi-key take gives back the turns it already had', async (t) => {
  const q = queue(1);
  const cpu1 = await q.turn('cpu1');
  const waiter = q.turn('cpu1'); // cpu1's one waiter place is taken
  const e = await q.turns(['cpu0', 'cpu1']).catch((err) => err);
  t.equal(e?.code, 'MOC_ERR_BUSY');
  t.equal(q.waiting('cpu0'), 0);
  (await q.turn('cpu0'))(); // cpu0 was given back
  cpu1();
  (await waiter)();
});

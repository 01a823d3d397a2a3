/**
 * The suite's tap plugin (test/helpers/tap-teardown-first) runs a test's teardowns before tap removes its testdir,
 * whichever was asked for first. Without it, a testdir made before the first teardown is removed first — while the
 * server the teardown stops still writes in it — and a failed removal skips the teardowns (a coordinator left
 * running to tap's timeout). Each check fails without the plugin.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';

t.test('a teardown asked for after t.testdir() still sees the directory and may write in it', async (t) => {
  const seen: boolean[] = [];
  let dir = '';
  await t.test('made first, torn down second', async (t) => {
    dir = t.testdir({ 'a.txt': 'a' });
    t.teardown(() => {
      seen.push(existsSync(path.join(dir, 'a.txt')));
      // What a closing server does last: one more file. Removal afterwards must take it too.
      writeFileSync(path.join(dir, 'late.txt'), 'late');
    });
    t.pass('the test body ran');
  });
  t.same(seen, [true], 'the teardown ran with the directory still there');
  t.notOk(existsSync(dir), 'the directory, with what the teardown wrote, is removed after');
});

t.test('teardowns still run last-asked first, and a test without any is unchanged', async (t) => {
  const order: string[] = [];
  await t.test('two teardowns', async (t) => {
    t.testdir();
    t.teardown(() => {
      order.push('first asked');
    });
    t.teardown(() => {
      order.push('second asked');
    });
  });
  t.same(order, ['second asked', 'first asked']);
  await t.test('none', async (t) => {
    t.pass('ends as before');
  });
});

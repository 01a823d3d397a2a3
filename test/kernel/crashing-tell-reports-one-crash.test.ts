/** A tell whose receive() throws a non-coded error is one crash: the owner's onCrash runs once, not twice. */
import t from 'tap';
import { LocalActor } from '../../src/kernel/local-actor.js';
import { TestActor, type TestProtocol } from '../fixtures/test-actor.js';
import type { Behavior, Envelope } from '../../src/kernel/types.js';

t.test('a crashing tell calls onCrash exactly once', async (t) => {
  const crashes: Error[] = [];
  const inner = new TestActor();
  const behavior: Behavior<TestProtocol> = {
    receive(env: Envelope<TestProtocol>) {
      if (env.msg.kind === 'crash') throw new Error('synchronous bug');
      return inner.receive(env);
    },
  };
  const actor = new LocalActor<TestProtocol>('crashy', behavior, { capacity: 8, onCrash: (e) => crashes.push(e) });
  actor.tell({ kind: 'crash' });
  // The mailbox is ordered: once the echo after it is answered, the crash has been handled.
  t.equal(await actor.ask({ kind: 'echo', value: 1 }, { timeoutMs: 1000 }), 1);
  t.equal(crashes.length, 1, 'one crash reported');
  t.match(crashes[0]?.message ?? '', /synchronous bug/, 'with its own error (and stack)');
  // An ask that crashes the same way is also one crash (the asker gets INTERNAL).
  await t.rejects(actor.ask({ kind: 'crash' }, { timeoutMs: 1000 }), { code: 'MOC_ERR_INTERNAL' });
  t.equal(crashes.length, 2, 'one more crash, not two');
  await actor.close();
});

/**
 * A main-thread actor's crashes (non-coded errors out of receive) are told one by one and counted against the
 * restart intensity: within it the actor serves on; past it, escalation, once. Coded errors are answers, not crashes.
 */
import t from 'tap';
import { LocalActor } from '../../src/kernel/local-actor.js';
import { MainThreadCrashes } from '../../src/kernel/main-thread-crashes.js';
import type { Behavior, Envelope } from '../../src/kernel/types.js';
import { TestActor, type TestProtocol } from '../fixtures/test-actor.js';

/** The test actor, with a synchronous bug on 'crash' (the fixture's own crash is for worker threads). */
function buggy(): Behavior<TestProtocol> {
  const inner = new TestActor();
  return {
    receive(env: Envelope<TestProtocol>) {
      if (env.msg.kind === 'crash') throw new Error('a bug in receive');
      return inner.receive(env);
    },
  };
}

t.test('crashes within the intensity are counted and the actor serves on; one more escalates once', async (t) => {
  let clock = 0;
  const crashes: Array<{ actor: string; count: number; message: string }> = [];
  const escalations: string[] = [];
  const policy = new MainThreadCrashes({
    maxRestarts: 2,
    periodMs: 1000,
    now: () => clock,
    onCrash: (actor, err, count) => crashes.push({ actor, count, message: err.message }),
    onEscalate: (reason) => escalations.push(reason),
  });
  const actor = new LocalActor<TestProtocol>('router', buggy(), { capacity: 8, onCrash: policy.watch('router') });
  t.teardown(() => actor.destroy());

  await t.rejects(
    actor.ask({ kind: 'crash' }, { timeoutMs: 1000 }),
    { code: 'MOC_ERR_INTERNAL' },
    'the asker gets INTERNAL',
  );
  t.same(crashes, [{ actor: 'router', count: 1, message: 'a bug in receive' }], 'the crash is told, with its count');
  t.equal(await actor.ask({ kind: 'echo', value: 7 }, { timeoutMs: 1000 }), 7, 'and the actor serves on');

  await t.rejects(actor.ask({ kind: 'fail' }, { timeoutMs: 1000 }), { code: 'MOC_ERR_INVALID_ARGUMENT' });
  t.equal(crashes.length, 1, 'a coded error is an answer, not a crash');

  // The period slides: a crash older than periodMs no longer counts.
  clock += 1500;
  await t.rejects(actor.ask({ kind: 'crash' }, { timeoutMs: 1000 }));
  await t.rejects(actor.ask({ kind: 'crash' }, { timeoutMs: 1000 }));
  t.same(
    crashes.map((c) => c.count),
    [1, 1, 2],
    'counted within the period only',
  );
  t.same(escalations, [], 'two in the period: within the intensity');

  await t.rejects(actor.ask({ kind: 'crash' }, { timeoutMs: 1000 }));
  t.equal(escalations.length, 1, 'the third in the period escalates');
  t.match(escalations[0], /main-thread actors crashed more than 2 times in 1000 ms; last: router: a bug in receive/);
  await t.rejects(actor.ask({ kind: 'crash' }, { timeoutMs: 1000 }));
  t.equal(escalations.length, 1, 'escalation happens once');
  t.equal(crashes.length, 5, 'every crash is still told');
});

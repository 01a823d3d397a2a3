import t from 'tap';
import { LocalActor } from '../../src/kernel/local-actor.js';
import type { ActorRef, Behavior, Envelope } from '../../src/kernel/types.js';

// An actor in the style of the lifecycle: a request starts a task outside receive(); the task's result comes back
// as a message to self (through the internal queue) and only that message changes state and answers.
type P = {
  work: { req: { kind: 'work'; n: number }; reply: number };
  done: { req: { kind: 'done'; n: number; env: Envelope<P, 'work'> }; reply: void };
};

class TaskActor implements Behavior<P> {
  self!: ActorRef<P>;
  readonly applied: number[] = [];
  /** Tasks started and not finished: finishAll() reports them all, synchronously. */
  private readonly running: Array<Envelope<P, 'work'>> = [];
  stopped = 0;
  bind(self: ActorRef<P>): void {
    this.self = self;
  }
  stop(): void {
    this.stopped++;
  }
  finishAll(): void {
    for (const env of this.running.splice(0)) this.self.tell({ kind: 'done', n: env.msg.n, env });
  }
  receive(env: Envelope<P>): void {
    const msg = env.msg;
    if (msg.kind === 'work') {
      this.running.push(env as Envelope<P, 'work'>);
      return;
    }
    this.applied.push(msg.n); // the only state change, in receive
    msg.env.reply(msg.n * 2);
  }
}

t.test("a task's result reaches its actor while the mailbox is full of requests; stop() runs once", async (t) => {
  const b = new TaskActor();
  const actor = new LocalActor<P>('tasks', b, { capacity: 4 });
  const first = Array.from({ length: 4 }, (_, n) => actor.ask({ kind: 'work', n }, { timeoutMs: 5000 }));
  await new Promise((r) => setImmediate(r)); // the four are received: their tasks run
  // In one synchronous stretch: the mailbox fills up, a fifth request is refused, and the four tasks report back.
  const more = Array.from({ length: 4 }, (_, n) => actor.ask({ kind: 'work', n: 10 + n }, { timeoutMs: 5000 }));
  const refused = actor.ask({ kind: 'work', n: 99 }, { timeoutMs: 5000 }).catch((e) => e);
  t.equal(actor.depth, 4, 'the mailbox is full');
  t.doesNotThrow(() => b.finishAll(), "the tasks' results are taken although the mailbox is full");
  t.equal((await refused).code, 'MOC_ERR_BUSY', 'a request beyond capacity is refused');
  t.same(await Promise.all(first), [0, 2, 4, 6], 'every task finished through a message to self');
  t.same(b.applied, [0, 1, 2, 3], 'its results were applied in the order the tasks reported them');
  await new Promise((r) => setImmediate(r));
  b.finishAll();
  t.same(await Promise.all(more), [20, 22, 24, 26]);
  await actor.close();
  await actor.destroy();
  t.equal(b.stopped, 1, 'stop() once, on close');
});

t.test('internal messages still arrive while the actor closes, not after destroy', async (t) => {
  const b = new TaskActor();
  const actor = new LocalActor<P>('closing', b, { capacity: 2, internalCapacity: 1 });
  const p = actor.ask({ kind: 'work', n: 1 }, { timeoutMs: 5000 });
  await new Promise((r) => setImmediate(r));
  const closing = actor.close(); // graceful: the task that is running reports back
  t.throws(() => actor.tell({ kind: 'work', n: 2 }), { code: 'MOC_ERR_UNAVAILABLE' }, 'closing: no new requests');
  b.finishAll();
  t.equal(await p, 2, 'the running task was answered during close');
  await closing;
  await actor.destroy();
  t.throws(
    () => actor.inbox.tell({ kind: 'done', n: 2, env: {} as never }),
    { code: 'MOC_ERR_UNAVAILABLE' },
    'destroyed: refused',
  );
});

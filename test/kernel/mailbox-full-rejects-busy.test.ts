import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { LocalActor } from '../../src/kernel/local-actor.js';
import { WorkerRef } from '../../src/kernel/worker-ref.js';
import { startWorkerChild } from '../../src/kernel/worker-child.js';
import type { MocError } from '../../src/errors.js';
import { TestActor, type TestProtocol } from '../fixtures/test-actor.js';
import { sourceUrl } from '../helpers/source-url.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

t.test('a full local mailbox answers Busy at once, and the queued messages still run', async (t) => {
  const behavior = new TestActor(true);
  const actor = new LocalActor<TestProtocol>('gated', behavior, { capacity: 100 });
  t.teardown(() => {
    behavior.release();
    return actor.destroy();
  });
  const accepted: Promise<number>[] = [];
  let busy = 0;
  let maxDepth = 0;
  for (let i = 0; i < 10_000; i++) {
    const p = actor.ask({ kind: 'echo', value: i }, { timeoutMs: 30_000 });
    accepted.push(p);
    p.catch((e: MocError) => {
      if (e.code === 'MOC_ERR_BUSY') busy++;
    });
    maxDepth = Math.max(maxDepth, actor.depth);
  }
  await new Promise((r) => setImmediate(r));
  t.equal(maxDepth, 100, 'the mailbox never held more than its capacity');
  // Sent in one synchronous burst: 100 fit, the rest were refused before the actor even started.
  t.equal(busy, 10_000 - 100, 'every message beyond capacity was refused with MOC_ERR_BUSY');
  const err = await accepted[9_999]!.catch((e) => e);
  t.equal(err.code, 'MOC_ERR_BUSY');
  t.match(err.message, /full \(capacity 100\); retry after \d+ ms/);
  t.equal(err.details.retryAfterMs > 0, true, 'carries a retry hint');
  behavior.release();
  const first100 = await Promise.all(accepted.slice(0, 100));
  t.same(
    first100,
    Array.from({ length: 100 }, (_, i) => i),
    'accepted messages ran, in order',
  );
  t.equal(actor.depth, 0);
});

t.test('memory stays flat when 10,000 messages hit a mailbox of 100', async (t) => {
  const behavior = new TestActor(true);
  const actor = new LocalActor<TestProtocol>('flat', behavior, { capacity: 100 });
  t.teardown(() => {
    behavior.release();
    return actor.destroy();
  });
  for (let i = 0; i < 101; i++) actor.ask({ kind: 'echo', value: i }, { timeoutMs: 60_000 }).catch(() => {});
  await new Promise((r) => setImmediate(r));
  const before = heap();
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 10_000; i++) {
      try {
        actor.tell({ kind: 'echo', value: i });
      } catch {
        /* Busy: expected */
      }
    }
  }
  const grown = heap() - before;
  t.equal(actor.depth, 100, 'the mailbox holds exactly its capacity');
  t.ok(grown < 2 * 1024 * 1024, `heap grew ${(grown / 1024).toFixed(0)} KiB after 100,000 refused messages`);
});

t.test(
  'worker mailbox: bounded across threads, answers Busy; cancelling a queued message frees its slot',
  async (t) => {
    const ref = new WorkerRef<TestProtocol>('test-worker', 100);
    const child = await startWorkerChild(ref, {
      entry: sourceUrl('../fixtures/test-actor-worker.ts', import.meta.url),
      workerData: { gated: true, window: 16 },
      name: 'test-worker',
      startTimeoutMs: 10_000,
    });
    t.teardown(() => child.destroy());
    const ac = new AbortController();
    const results = Array.from({ length: 1000 }, (_, i) =>
      ref.ask({ kind: 'echo', value: i }, { timeoutMs: 30_000, ...(i === 99 ? { signal: ac.signal } : {}) }),
    );
    // The held ones fail UNAVAILABLE when the worker is destroyed at teardown.
    for (const r of results) r.catch(() => {});
    const settled = await Promise.race([
      Promise.allSettled(results.slice(100)),
      new Promise((r) => setTimeout(r, 500, 'pending')),
    ]);
    t.not(settled, 'pending', 'messages beyond capacity settle at once');
    const refused = (settled as PromiseSettledResult<number>[]).filter(
      (r) => r.status === 'rejected' && (r.reason as MocError).code === 'MOC_ERR_BUSY',
    );
    t.equal(refused.length, 900, '900 of 1000 refused with MOC_ERR_BUSY');
    t.equal(ref.depth, 100, 'depth is exactly the capacity (local queue + frames in transit)');
    // results[99] waits in the parent-side queue (16 frames are in the worker): cancelling it frees one slot.
    ac.abort();
    t.equal(((await results[99]!.catch((e) => e)) as MocError).code, 'MOC_ERR_CANCELLED');
    t.equal(ref.depth, 99);
    const next = ref.ask({ kind: 'echo', value: 1000 }, { timeoutMs: 30_000 });
    next.catch(() => {});
    t.equal(ref.depth, 100, 'the freed slot takes a new message');
    t.equal(
      ((await ref.ask({ kind: 'echo', value: 1001 }, { timeoutMs: 1000 }).catch((e) => e)) as MocError).code,
      'MOC_ERR_BUSY',
    );
  },
);

t.test('ask across threads: reply, events, coded failure, timeout and cancel', async (t) => {
  const ref = new WorkerRef<TestProtocol>('w', 100);
  const child = await startWorkerChild(ref, {
    entry: sourceUrl('../fixtures/test-actor-worker.ts', import.meta.url),
    workerData: {},
    name: 'w',
    startTimeoutMs: 10_000,
  });
  t.teardown(() => child.destroy());
  t.equal(await ref.ask({ kind: 'echo', value: 7 }, { timeoutMs: 5000 }), 7);
  const events: number[] = [];
  t.equal(await ref.ask({ kind: 'count', n: 5 }, { timeoutMs: 5000, onEvent: (e) => events.push(e) }), 5);
  t.same(events, [1, 2, 3, 4, 5], 'events arrive in order before the reply');
  const failed = await ref.ask({ kind: 'fail' }, { timeoutMs: 5000 }).catch((e) => e);
  t.equal(failed.code, 'MOC_ERR_INVALID_ARGUMENT', 'a coded error crosses the thread intact');
  const timedOut = await ref.ask({ kind: 'hold' }, { timeoutMs: 50 }).catch((e) => e);
  t.equal(timedOut.code, 'MOC_ERR_DEADLINE_EXCEEDED');
  const ac = new AbortController();
  const held = ref.ask({ kind: 'hold' }, { timeoutMs: 5000, signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  t.equal((await held.catch((e) => e)).code, 'MOC_ERR_CANCELLED');
  t.equal(ref.outstanding, 0, 'nothing left waiting');
  t.throws(
    () => new LocalActor('x', new TestActor(), { capacity: 1 }).ask({ kind: 'echo', value: 1 }, { timeoutMs: 0 }),
    RangeError,
    'an ask without a timeout is refused',
  );
});

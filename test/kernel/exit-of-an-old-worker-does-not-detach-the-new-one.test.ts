/**
 * A worker whose start timed out exits later, after the next incarnation is attached to the same WorkerRef. Its
 * exit must not detach the new worker (that left the ref with no listener: every ask failed UNAVAILABLE forever).
 */
import t from 'tap';
import { once, EventEmitter } from 'node:events';
import { WorkerRef } from '../../src/kernel/worker-ref.js';
import { startWorkerChild } from '../../src/kernel/worker-child.js';
import type { TestProtocol } from '../fixtures/test-actor.js';
import { sourceUrl } from '../helpers/source-url.js';

const entry = sourceUrl('../fixtures/test-actor-worker.ts', import.meta.url);

t.test('the exit of a timed-out incarnation leaves the next one attached', async (t) => {
  const ref = new WorkerRef<TestProtocol>('test-worker', 100);
  const detaches = new EventEmitter();
  const detach = ref.detach.bind(ref);
  ref.detach = (...args: Parameters<typeof ref.detach>) => {
    detach(...args);
    detaches.emit('detach', args[0]);
  };

  // Incarnation A cannot post 'ready' within 1 ms: its start rejects and it is terminated (exits a little later).
  const aDetached = once(detaches, 'detach');
  await t.rejects(
    startWorkerChild(ref, { entry, workerData: {}, name: 'a', startTimeoutMs: 1 }),
    /did not start within 1 ms/,
  );
  // Incarnation B attaches at once, before A's exit event arrives.
  const b = await startWorkerChild(ref, { entry, workerData: {}, name: 'b', startTimeoutMs: 30_000 });
  t.teardown(() => b.destroy());
  await aDetached;
  t.equal(ref.attached, true, "A's exit did not detach B");
  t.equal(await ref.ask({ kind: 'echo', value: 7 }, { timeoutMs: 5000 }), 7, 'B answers');
});

import t from 'tap';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { Supervisor, type ChildSpec } from '../../src/kernel/supervisor.js';
import { WorkerRef } from '../../src/kernel/worker-ref.js';
import { startWorkerChild } from '../../src/kernel/worker-child.js';
import type { MocError } from '../../src/errors.js';
import type { TestProtocol } from '../fixtures/test-actor.js';
import { sourceUrl } from '../helpers/source-url.js';

function workerSpec(ref: WorkerRef<TestProtocol>): ChildSpec {
  return {
    id: 'test-worker',
    restart: 'permanent',
    shutdownMs: 1000,
    start: () =>
      startWorkerChild(ref, {
        entry: sourceUrl('../fixtures/test-actor-worker.ts', import.meta.url),
        workerData: {},
        name: 'test-worker',
        startTimeoutMs: 10_000,
      }),
  };
}

t.test(
  'a worker that throws is restarted; what it held fails UNAVAILABLE; the next ask succeeds; too many restarts escalate',
  async (t) => {
    const ref = new WorkerRef<TestProtocol>('test-worker', 100);
    const events = new EventEmitter();
    const sup = new Supervisor('test', [workerSpec(ref)], {
      maxRestarts: 2,
      periodMs: 60_000,
      backoffMs: () => 10,
      onRestart: (id, reason, n) => events.emit('restart', { id, reason, n }),
      onEscalate: (reason) => events.emit('escalate', reason),
    });
    t.teardown(() => sup.destroy());
    await sup.start();
    t.equal(await ref.ask({ kind: 'echo', value: 1 }, { timeoutMs: 5000 }), 1);

    for (let n = 1; n <= 2; n++) {
      const held = ref.ask({ kind: 'hold' }, { timeoutMs: 30_000 });
      const restarted = once(events, 'restart');
      ref.tell({ kind: 'crash' });
      const err = (await held.catch((e) => e)) as MocError;
      t.equal(err.code, 'MOC_ERR_UNAVAILABLE', `crash ${n}: the held request fails UNAVAILABLE`);
      t.equal(err.details.retryAfterMs !== undefined, true, 'with a retry hint');
      // While it restarts, asks fail fast instead of waiting.
      const during = (await ref.ask({ kind: 'echo', value: 0 }, { timeoutMs: 5000 }).catch((e) => e)) as MocError;
      t.equal(during.code, 'MOC_ERR_UNAVAILABLE', 'asks during the restart fail fast');
      const [info] = await restarted;
      t.match(info.reason, /test actor crash/, 'the restart names the crash');
      t.equal(info.n, n);
      t.equal(await ref.ask({ kind: 'echo', value: 10 + n }, { timeoutMs: 5000 }), 10 + n, 'the next ask succeeds');
    }

    const escalated = once(events, 'escalate');
    ref.tell({ kind: 'crash' });
    const [reason] = await escalated;
    t.match(reason, /exceeded 2 restarts/, 'the third crash in the period escalates');
    t.equal(ref.attached, false, 'the child was stopped');
  },
);

t.test('a child that fails while the supervisor starts is not respawned', async (t) => {
  let attempts = 0;
  const sup = new Supervisor(
    'boot',
    [
      {
        id: 'broken',
        restart: 'permanent',
        shutdownMs: 100,
        start: async () => {
          attempts++;
          throw new Error('bad config');
        },
      },
    ],
    { maxRestarts: 5, periodMs: 1000, onEscalate: () => t.fail('must not escalate') },
  );
  await t.rejects(sup.start(), /child 'broken' failed to start: bad config/);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(attempts, 1, 'started once, not retried');
});

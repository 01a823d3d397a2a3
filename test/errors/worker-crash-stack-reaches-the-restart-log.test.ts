import t from 'tap';
import { once, EventEmitter } from 'node:events';
import { Supervisor, type ChildSpec, type ExitInfo } from '../../src/kernel/supervisor.js';
import { WorkerRef } from '../../src/kernel/worker-ref.js';
import { startWorkerChild } from '../../src/kernel/worker-child.js';
import type { TestProtocol } from '../fixtures/test-actor.js';
import { sourceUrl } from '../helpers/source-url.js';

t.test("a crashed worker's stack reaches the supervisor's onRestart and the child's exit info", async (t) => {
  const ref = new WorkerRef<TestProtocol>('crashy', 100);
  const events = new EventEmitter();
  const spec: ChildSpec = {
    id: 'crashy',
    restart: 'permanent',
    shutdownMs: 1000,
    start: async () => {
      const h = await startWorkerChild(ref, {
        entry: sourceUrl('../fixtures/test-actor-worker.ts', import.meta.url),
        workerData: {},
        name: 'crashy',
        startTimeoutMs: 10_000,
      });
      void h.exited.then((info) => events.emit('exit', info));
      return h;
    },
  };
  const sup = new Supervisor('test', [spec], {
    maxRestarts: 5,
    periodMs: 60_000,
    backoffMs: () => 10,
    onRestart: (id, reason, n, error) => events.emit('restart', { id, reason, n, error }),
    onEscalate: () => t.fail('must not escalate'),
  });
  t.teardown(() => sup.destroy());
  await sup.start();

  const exited = once(events, 'exit');
  const restarted = once(events, 'restart');
  ref.tell({ kind: 'crash' });
  const [exit] = (await exited) as [ExitInfo];
  t.equal(exit.normal, false);
  t.match(exit.reason, /crashed: test actor crash/);
  t.notMatch(exit.reason, /test-actor\.ts/, 'the reason (told to callers) stays one line without the stack');
  t.match(exit.error?.stack, /test actor crash/, 'the exit info carries the error');
  t.match(exit.error?.stack, /test\/fixtures\/test-actor\.ts/, 'its stack names the fixture file that threw');

  const [restart] = (await restarted) as [{ reason: string; n: number; error?: Error }];
  t.equal(restart.n, 1);
  t.match(
    restart.error?.stack,
    /test\/fixtures\/test-actor\.ts/,
    'onRestart gets the same stack, for the device.restarted log',
  );
  t.equal(await ref.ask({ kind: 'echo', value: 7 }, { timeoutMs: 5000 }), 7, 'the new incarnation serves');
});

/**
 * close() while a restart's start() is still running must not leak the new incarnation: once its start resolves,
 * it is stopped, and close() resolves only after that (a worker and its engine must not outlive shutdown).
 */
import t from 'tap';
import { Supervisor, type ChildHandle, type ExitInfo } from '../../src/kernel/supervisor.js';

interface FakeChild extends ChildHandle {
  crash(): void;
  closed: boolean;
  destroyed: boolean;
}

function fakeChild(): FakeChild {
  let exit!: (i: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((r) => {
    exit = r;
  });
  const c: FakeChild = {
    exited,
    closed: false,
    destroyed: false,
    crash: () => exit({ normal: false, reason: 'crashed' }),
    close: async () => {
      c.closed = true;
      exit({ normal: true, reason: 'closed' });
    },
    destroy: async () => {
      c.destroyed = true;
      exit({ normal: true, reason: 'destroyed' });
    },
  };
  return c;
}

t.test('close during a restart stops the incarnation that was starting', async (t) => {
  const children: FakeChild[] = [];
  let releaseStart: () => void = () => {};
  let starting: () => void = () => {};
  const startBegun = new Promise<void>((r) => {
    starting = r;
  });
  const sup = new Supervisor(
    'test',
    [
      {
        id: 'slow',
        restart: 'permanent',
        shutdownMs: 1000,
        start: async (incarnation) => {
          if (incarnation > 0) {
            starting();
            await new Promise<void>((r) => {
              releaseStart = r;
            }); // a slow worker boot
          }
          const c = fakeChild();
          children.push(c);
          return c;
        },
      },
    ],
    { maxRestarts: 5, periodMs: 60_000, backoffMs: () => 1, onEscalate: () => t.fail('must not escalate') },
  );
  await sup.start();
  children[0]!.crash();
  await startBegun;
  let closeDone = false;
  const closing = sup.close().then(() => {
    closeDone = true;
  });
  await new Promise((r) => setImmediate(r));
  t.equal(closeDone, false, 'close waits for the restart in progress');
  releaseStart();
  await closing;
  t.equal(children.length, 2, 'the second incarnation was started');
  t.ok(children[1]!.closed || children[1]!.destroyed, 'and stopped by close()');
});

/**
 * killOrphan (a job taken over from a dead coordinator): the previous attempt's trainer group is killed even when its
 * leader has exited and left a child behind (a wrapper that ends on stdin's end, its worker not), and a pid now held by
 * another process (its start time differs) is left alone.
 */
import t, { type Test } from 'tap';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { killOrphan, processStart } from '../../actors/jobs/trainers.js';
import { spawnChild } from '../helpers/child.js';
import { until } from '../helpers/coordinator.js';

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

/** A detached process (its own group, as a trainer is), killed with its whole group in teardown. */
function group(t: Test, script: string): ChildProcess {
  const p = spawnChild(t, '/bin/sh', ['-c', script], { detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
  t.teardown(() => {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  return p;
}

t.test('a trainer group whose leader exited: what it left in the group is killed', async (t) => {
  // The leader waits on stdin (a coordinator's pipe); the worker in the background does not.
  const leader = group(t, 'sleep 300 & echo $!; read x');
  const [line] = await once(leader.stdout!, 'data');
  const worker = Number(String(line).trim());
  const recorded = { pid: leader.pid!, start: processStart(leader.pid!)! };
  t.ok(recorded.start, 'the leader as a job records it');
  leader.stdin!.end(); // the coordinator is gone: the leader ends, its worker stays
  await once(leader, 'exit');
  t.notOk(gone(worker), `the worker (pid ${worker}) outlived its leader`);
  t.equal(killOrphan(recorded), true, 'killOrphan signals the group');
  await until('the worker gone', async () => gone(worker), 5000);
  t.pass('the worker is gone');
});

t.test('a pid now held by another process is left alone', async (t) => {
  const other = group(t, 'read x');
  const start = processStart(other.pid!)!;
  t.equal(killOrphan({ pid: other.pid!, start: `${Number(start) - 1}` }), false, 'not the recorded process');
  t.notOk(gone(other.pid!), 'still running');
  other.stdin!.end();
  await once(other, 'exit');
});

/**
 * Child processes of a test that cannot outlive it.
 *
 *   test process ──spawn──▶ setpriv --pdeathsig KILL ──exec──▶ haproxy / python3 / promtool / node …
 *
 * Two guards, because a test can end in two ways:
 * - it ends on its own (passes, fails, throws, tap's timeout ends it with SIGTERM): teardown kills what is still
 *   running and waits for its exit, bounded;
 * - it is killed with SIGKILL, when no teardown runs: the kernel sends SIGKILL to the child when its parent dies
 *   (PR_SET_PDEATHSIG, set by util-linux's `setpriv` before it execs the command; same pid, same argv after it).
 * `moc serve` started by perf/lib/spawn-server.ts has its own watchdog instead (an IPC channel, src/cli.ts), which
 * lets it stop gracefully.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Test } from 'tap';
import { spawnDying, stopDying } from '../../perf/lib/dying-child.js';

/** spawn() whose child dies with this process, and is killed and awaited in `t`'s teardown. */
export function spawnChild(
  t: Test,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawnDying(command, args, options);
  t.teardown(() => stopChild(child));
  return child;
}

/** SIGKILL unless it already exited, then wait for the exit (at most 5 s: a zombie-proof bound, not a sleep). */
export const stopChild = stopDying;

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

export interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/**
 * Runs a command to its end under spawnChild: its exit code and what it wrote (once both pipes closed), with `stdin`
 * given and closed (none: nothing).
 */
export function runChild(
  t: Test,
  command: string,
  args: readonly string[],
  o: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawnChild(t, command, args, {
      stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(o.env ? { env: o.env } : {}),
    });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => {
      out += d;
    });
    p.stderr!.on('data', (d) => {
      err += d;
    });
    if (o.stdin !== undefined) p.stdin!.end(o.stdin);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** SIGKILL unless it already exited, then wait for the exit (at most 5 s: a zombie-proof bound, not a sleep). */
export const stopChild = stopDying;

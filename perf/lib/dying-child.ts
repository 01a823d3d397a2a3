/**
 * A child process of a perf script that cannot outlive it (test/helpers/child.ts adds a test's teardown to it): it runs
 * under `setpriv --pdeathsig KILL` (same pid and argv once setpriv has exec'd it), so the kernel kills it when the
 * script dies in any way, SIGKILL included; a script that ends normally stops it with stopDying() in a finally.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';
const hasSetpriv = existsSync(SETPRIV);

export function spawnDying(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return hasSetpriv
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args], options)
    : spawn(command, args, options);
}

/** SIGKILL unless it already exited, then wait for the exit (at most 5 s). */
export async function stopDying(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
  clearTimeout(timer);
}

/**
 * A trainer runs in its own process group (spawned detached: pgid = pid), so a signal to -pid reaches every process
 * it forked (data loaders, tokenizer pools), not only the one we started. The groups still running are remembered
 * here, for the coordinator's own exit.
 */
// Trainers still running when the coordinator exits (a crash, process.exit): their groups get SIGKILL, since a
// detached trainer would otherwise keep the GPU busy with nobody to read its output. 'exit' handlers must be
// synchronous, and process.kill is.
const live = new Set<number>();
let exitHookInstalled = false;
export function track(pid: number): void {
  live.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) signalGroup(p, 'SIGKILL');
  });
}

/** Signals the whole group (negative pid). ESRCH (already gone) and anything else are ignored: it is best effort. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return; // -0 would be our own group
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone */
  }
}

/** The group is gone (its stdio closed): no SIGKILL for it at exit. */
export function untrack(pid: number): void {
  live.delete(pid);
}

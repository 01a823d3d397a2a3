/**
 * Children of this test process started without tap's process tracking.
 *
 * tap puts its process-tracking loader (@tapjs/processinfo) into the NODE_OPTIONS of every child a test starts, and of
 * their children: a spawn hook adds it back whatever env is passed (src/entry.ts says more). In each Node child it is a
 * module hook that every module load goes through — an engine loads node-llama-cpp's hundreds of files, a server ours
 * and its packages', a trainer tsx's — for a record only coverage reads, and coverage is off (package.json). Measured
 * under tap: a test that starts one coordinator and infers once, 8.8-9.1 s of CPU, 6.9-7.2 s with this.
 *
 * untrackChildren() takes the loader out of this process's NODE_OPTIONS (which children inherit) and drops the spawn
 * hook's listeners (process-on-spawn's, whose only user here is processinfo). Should tap stop using either, this does
 * nothing and children are tracked as before: slower, never wrong. The test process itself stays tracked.
 */
const SPAWN_HOOKS = Symbol.for('process-on-spawn@*:singletonId');

export function untrackChildren(): void {
  const options = process.env.NODE_OPTIONS;
  if (options !== undefined) {
    process.env.NODE_OPTIONS = options
      .split(/\s+/)
      .filter((o) => o !== '' && !o.includes('@tapjs/processinfo'))
      .join(' ');
  }
  const hooks = (globalThis as Record<symbol, { listeners?: unknown[] } | undefined>)[SPAWN_HOOKS];
  if (Array.isArray(hooks?.listeners)) hooks.listeners.length = 0;
}

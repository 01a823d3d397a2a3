/**
 * Entries of worker threads and child processes, resolved next to the calling module. Built code runs .js from
 * dist/. Tests and `tsx` run .ts from the source tree: child processes inherit the loader through execArgv, but on
 * Node 20 worker threads do not, so a .ts worker starts through a two-line bootstrap that registers tsx first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function siblingEntry(importMetaUrl: string, relative: string): URL {
  const ext = importMetaUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${relative}${ext}`, importMetaUrl);
}

// tsx is resolved from here (not from the process's cwd), and only when a .ts worker is started (dev/tests).
const TS_BOOTSTRAP = `import(process.argv[3]).then((tsx) => { tsx.register(); return import(process.argv[2]); })
  .catch((err) => { process.nextTick(() => { throw err; }); });`;

export function startWorker(entry: URL, options: WorkerOptions): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  return new Worker(TS_BOOTSTRAP, { ...options, eval: true, argv: [entry.href, import.meta.resolve('tsx/esm/api')] });
}

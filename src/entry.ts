/**
 * Entries of worker threads and child processes, resolved next to the calling module. Built code runs .js from
 * dist/. Tests and `tsx` run .ts from the source tree: child processes inherit the loader through execArgv, but on
 * Node 20 worker threads do not, so a .ts worker starts through a two-line bootstrap that registers tsx first.
 */
import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

/** Node options that load code (loaders, preloads): a child started from the sources gets its own, not the parent's. */
const LOADER_FLAG = /^--(import|require|loader|experimental-loader)(=|$)|^-r$/;

function withoutLoaders(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (!LOADER_FLAG.test(argv[i]!)) { out.push(argv[i]!); continue; }
    if (!argv[i]!.includes('=')) i++; // `--import x`: its value too
  }
  return out;
}

/**
 * fork() of a sibling entry. Built code forks the .js with the parent's Node options. From the sources, the child
 * starts through src/ts-child.mjs with the parent's options minus its loaders — a test runner's own hooks (tap's
 * process tracking, mocks) would otherwise run in every engine process and multiply its start several times — and
 * `preload` (heavy JS packages) loaded before tsx registers.
 */
export function forkEntry(entry: URL, options: ForkOptions & { preload?: string[] } = {}): ChildProcess {
  const { preload = [], ...rest } = options;
  if (!entry.pathname.endsWith('.ts')) return fork(fileURLToPath(entry), [], rest);
  const bootstrap = fileURLToPath(new URL('./ts-child.mjs', import.meta.url));
  return fork(bootstrap, [entry.href, import.meta.resolve('tsx/esm/api'), ...preload], { ...rest, execArgv: withoutLoaders(rest.execArgv ?? process.execArgv) });
}

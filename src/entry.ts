/**
 * Entries of worker threads and child processes, resolved next to the calling module. Built code runs .js from
 * dist/. Tests and `tsx` run .ts from the source tree: a .ts worker or child starts through src/ts-child.mjs, which
 * registers tsx first (on Node 20 worker threads do not inherit the parent's loader; children get their own, below).
 */
import { type ChildProcess, fork, type ForkOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function siblingEntry(importMetaUrl: string, relative: string): URL {
  const ext = importMetaUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${relative}${ext}`, importMetaUrl);
}

/** The bootstrap of a .ts entry, and its arguments: the entry, tsx's API (resolved from here, not the cwd), preloads. */
const TS_CHILD = new URL('./ts-child.mjs', import.meta.url);
const tsChildArgs = (entry: URL, preload: string[]) => [entry.href, import.meta.resolve('tsx/esm/api'), ...preload];

export function startWorker(entry: URL, options: WorkerOptions): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  return new Worker(TS_CHILD, {
    ...options,
    argv: tsChildArgs(entry, []),
    // Not the parent's loaders either (a worker runs its process's --import hooks again): ts-child registers tsx.
    execArgv: withoutLoaders(options.execArgv ?? process.execArgv),
  });
}

/** Node options that load code (loaders, preloads): a child started from the sources gets its own, not the parent's. */
const LOADER_FLAG = /^--(import|require|loader|experimental-loader)(=|$)|^-r$/;

function withoutLoaders(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (!LOADER_FLAG.test(argv[i]!)) {
      out.push(argv[i]!);
      continue;
    }
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
  return fork(fileURLToPath(TS_CHILD), tsChildArgs(entry, preload), {
    ...rest,
    execArgv: withoutLoaders(rest.execArgv ?? process.execArgv),
    env: { ...(rest.env ?? process.env), ...QUIET_TEST_RUNNER },
  });
}

/**
 * Under tap, every child process gets tap's process tracking back through NODE_OPTIONS whatever we pass (it wraps
 * spawn), and by default it reads and records every module the child loads: node-llama-cpp's hundreds of files cost
 * an engine ~1 s of its ~2 s start (measured under tap: a test's coordinator started in 4.4-5.0 s, 3.4-3.7 s with this). This tells it
 * to record nothing. Only on this path (from the sources, i.e. tests and tsx); meaningless to anything but tap.
 */
const QUIET_TEST_RUNNER = { _TAPJS_PROCESSINFO_EXCLUDE_: '/./' };

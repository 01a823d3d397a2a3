/**
 * Entries of worker threads and child processes, resolved next to the calling module. Built code runs .js from
 * dist/. Tests and `tsx` run .ts from the source tree: a .ts worker or child starts through src/ts-child.mjs, which
 * registers tsx first (on Node 20 worker threads do not inherit the parent's loader; children get their own, below) —
 * unless MOC_RUN_BUILT=1 says dist/ was built from these very sources (see builtTwin).
 */
import { type ChildProcess, fork, type ForkOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { packageRoot } from './package-root.js';

export function siblingEntry(importMetaUrl: string, relative: string): URL {
  const ext = importMetaUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${relative}${ext}`, importMetaUrl);
}

/** The bootstrap of a .ts entry, and its arguments: the entry, tsx's API (resolved from here, not the cwd), preloads. */
const TS_CHILD = new URL('./ts-child.mjs', import.meta.url);
const tsChildArgs = (entry: URL, preload: string[]) => [entry.href, import.meta.resolve('tsx/esm/api'), ...preload];

/**
 * MOC_RUN_BUILT=1: a .ts entry of the source tree starts as its build in dist/ (which `npm test` makes from the
 * same sources just before tap runs, and sets this for): as `npm start` runs it, without tsx's hooks transforming
 * every module it loads. Measured: `moc serve` from the sources 4.9 s of CPU to listening, from dist/ 2.65 s — most
 * of it the device worker and the engine process, which every coordinator a test starts has. Anything else (the
 * flag unset: a test run on its own with `npx tap`, tsx scripts, the built server itself) is unchanged — but a .ts
 * named inside dist/ (by built code resolving `../../src/cli.ts` next to itself) is its .js, the only file there.
 */
export function builtTwin(entry: URL): URL {
  if (!entry.pathname.endsWith('.ts')) return entry;
  const rel = path.relative(packageRoot(), fileURLToPath(entry));
  if (rel.startsWith('..')) return entry;
  // Built code naming a .ts next to itself (a test or perf helper run from dist/, as `npm test` runs the tests): only
  // its build is there.
  if (rel.startsWith(`dist${path.sep}`)) return pathToFileURL(path.join(packageRoot(), rel.replace(/\.ts$/, '.js')));
  if (process.env.MOC_RUN_BUILT !== '1') return entry;
  return pathToFileURL(path.join(packageRoot(), 'dist', rel.replace(/\.ts$/, '.js')));
}

/**
 * Node's arguments that run one of our tools (`src/tools/NAME.ts`: the toy trainer, engine-logits, make-model): from
 * the sources through tsx, or the build — when this process runs the build, or under `npm test` (builtTwin).
 */
export function toolArgs(name: string): string[] {
  const entry = builtTwin(siblingEntry(import.meta.url, `./tools/${name}`));
  const file = fileURLToPath(entry);
  return entry.pathname.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), file] : [file];
}

/**
 * The loaders of this process are tsx's or a test runner's, for no worker or child of ours: it runs from the source
 * tree, or it is a test run from the build (MOC_RUN_BUILT=1: `npm test` runs dist/test, whose processes carry tap's
 * process tracking; inherited, it ran in every device worker and engine, and a test took ~1.7× the CPU). `npm start`
 * (built, no flag) keeps Node's default: its workers and children get its options, an operator's --import included.
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts') || process.env.MOC_RUN_BUILT === '1';

/**
 * Node options of a worker thread (startWorker, piscina's TaskPool) for `entry` as builtTwin gives it: none given
 * (the parent's, as Node does) for built code started by built code; the parent's without its loaders otherwise — a
 * worker runs its process's --import hooks again, and a .ts entry registers tsx itself (ts-child.mjs, or the
 * `--import tsx` a TaskPool adds), where a built one needs none.
 */
export function workerExecArgv(entry: URL, execArgv: string[] = process.execArgv): string[] | undefined {
  if (!FROM_SOURCES && !entry.pathname.endsWith('.ts')) return undefined;
  return withoutLoaders(execArgv);
}

export function startWorker(source: URL, options: WorkerOptions): Worker {
  const entry = builtTwin(source);
  const execArgv = workerExecArgv(entry, options.execArgv);
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { ...options, ...(execArgv ? { execArgv } : {}) });
  return new Worker(TS_CHILD, { ...options, argv: tsChildArgs(entry, []), execArgv });
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
export function forkEntry(source: URL, options: ForkOptions & { preload?: string[] } = {}): ChildProcess {
  const { preload = [], ...rest } = options;
  const entry = builtTwin(source);
  const built = !entry.pathname.endsWith('.ts');
  if (built && !FROM_SOURCES) return fork(fileURLToPath(entry), [], rest);
  // From a process running the sources (a test, tsx): a .ts entry through ts-child.mjs; a built twin (under
  // `npm test`) directly. Either without the parent's loaders and out of tap's process tracking.
  const [file, args] = built ? [fileURLToPath(entry), []] : [fileURLToPath(TS_CHILD), tsChildArgs(entry, preload)];
  return fork(file, args, {
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

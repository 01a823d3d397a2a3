/**
 * Start `moc serve` as a separate process (so the load generator does not share its event loop) with a config
 * written to a temp dir, and wait for its `server.listening` log line to learn the bound gRPC port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { builtTwin } from '../../src/entry.js';

export interface SpawnedServer {
  proc: ChildProcess;
  grpcAddress: string;
  dir: string;
  /** Log lines seen so far (parsed JSON). */
  logs: Record<string, any>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every listener on a free port, so a spawned server never collides with a running one (or another test's). */
export const EPHEMERAL_PORTS = 'server:\n  grpcPort: 0\nrest:\n  port: 0\nzmq:\n  port: 0\n';

/**
 * Node's arguments that run the `moc` CLI (src/cli.ts) of this checkout (or of `root`) through tsx; under `npm test`
 * (MOC_RUN_BUILT=1) this checkout's build in dist/ instead, made from the same sources: ~2 s of CPU less per server
 * (src/entry.ts, builtTwin).
 */
export function mocCliArgs(root?: string): string[] {
  const cli = root
    ? pathToFileURL(path.join(root, 'src', 'cli.ts'))
    : builtTwin(new URL('../../src/cli.ts', import.meta.url));
  return cli.pathname.endsWith('.ts')
    ? [`--import=${import.meta.resolve('tsx')}`, fileURLToPath(cli)]
    : [fileURLToPath(cli)];
}

/** yaml: config text; `${DIR}` in it is replaced with the temp dir. Default: zero config apart from free ports. */
export async function spawnServer(
  o: {
    yaml?: string;
    env?: Record<string, string>;
    startTimeoutMs?: number;
    /** Keep the `request` lines too (a test reading them; a load test would spend its CPU parsing them). */
    keepRequestLines?: boolean;
    /** Another checkout of MOC to run (perf/telemetry-cost.ts runs an older commit beside this one). */
    root?: string;
    /**
     * stderr to a file in the temp dir, as journald or a log file would take it, instead of a pipe this process reads:
     * a load generator then spends nothing on the server's lines. `logs` holds the lines up to server.listening only.
     */
    logFile?: boolean;
    /** Node options for the server process (`--cpu-prof`, `--cpu-prof-dir=…` to profile it). */
    nodeArgs?: string[];
  } = {},
): Promise<SpawnedServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moc-srv-'));
  // tsx resolved from the project, since the server runs with its cwd in a temp dir.
  const args = [...(o.nodeArgs ?? []), ...mocCliArgs(o.root), 'serve'];
  const yaml = o.yaml ?? EPHEMERAL_PORTS;
  const file = path.join(dir, 'moc.yaml');
  await writeFile(file, yaml.replaceAll('${DIR}', dir));
  args.push('--config', file);
  const logPath = path.join(dir, 'stderr.log');
  const stderr = o.logFile ? openSync(logPath, 'w') : 'pipe';
  const proc = spawn(process.execPath, args, {
    cwd: dir,
    // Under tap, its process tracking would read and record every module the server loads (src/entry.ts says more).
    env: { ...process.env, _TAPJS_PROCESSINFO_EXCLUDE_: '/./', ...o.env },
    // stdout through a pipe of ours, not inherited: a server that outlived us must not hold the test runner's output
    // (tap waits for every holder of its pipe). The IPC channel is the server's parent watchdog (src/cli.ts): when
    // this process exits, however it exits, the channel closes and the server stops.
    stdio: ['ignore', 'pipe', stderr, 'ipc'],
  });
  if (typeof stderr === 'number') closeSync(stderr);
  proc.stdout!.pipe(process.stdout, { end: false });
  // The channel alone does not keep this process up: a script that is done exits, and its server follows.
  proc.channel?.unref();
  const logs: Record<string, any>[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  const grpcAddress = await new Promise<string>((resolve, reject) => {
    const startMs = o.startTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL'); // a server that never said it listens is not left behind
      reject(new Error(`server did not log server.listening within ${startMs} ms`));
    }, startMs);
    let poll: NodeJS.Timeout | undefined;
    const onLine = (line: string) => {
      // Request lines (one per request under load) are not kept: a load test would spend its own CPU parsing them.
      if (!o.keepRequestLines && line.startsWith('{"level":"info"') && line.includes('"event":"request"')) return;
      let rec: Record<string, any>;
      try {
        rec = JSON.parse(line);
      } catch {
        process.stderr.write(`${line}\n`);
        return;
      }
      logs.push(rec);
      if (rec.event === 'server.listening') {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(rec.grpc);
      }
    };
    if (proc.stderr) {
      createInterface({ input: proc.stderr }).on('line', onLine);
    } else {
      let seen = 0;
      poll = setInterval(() => {
        const lines = readFileSync(logPath, 'utf8').split('\n');
        for (; seen < lines.length - 1; seen++) onLine(lines[seen]!); // the last piece may be a line still being written
      }, 50);
    }
    void exited.then((e) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(new Error(`server exited during start: ${JSON.stringify(e)}`));
    });
  });
  return {
    proc,
    grpcAddress,
    dir,
    logs,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const e = await exited;
      await rm(dir, { recursive: true, force: true });
      return e;
    },
  };
}

/**
 * One run of the built-in `lora` trainer as a fine-tune job spawns it (its template from actors/jobs/trainers.ts, the
 * engine check included), watched from outside through the lines it prints: the training window starts when the
 * base's check against llama.cpp has been read (torch import, model read, tokenization and that check are its
 * start-up; the steps it overlapped are left out, as they shared the CPU with the engine) and ends at the first step
 * that arrives `seconds` later with at least `minSteps` steps in the window. Then the trainer is killed: nothing is
 * written (the adapter's write and its check come after training and are not throughput).
 */
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { expandCommand, loraTrainer } from '../../actors/jobs/trainers.js';
import { packageRoot } from '../../src/package-root.js';
import { spawnDying, stopDying } from './dying-child.js';
import { childrenOf, ownCpuMs } from './proc.js';

/** What a timed window of training gives, the trainer's or the bare loop's. */
export interface TrainWindow {
  /** Spawn to the window's start. */
  startup_s: number;
  steps: number;
  tokens: number;
  wall_s: number;
  /** The process's CPU (every thread) in the window. */
  cpu_s: number;
  tokens_per_s: number;
  tokens_per_cpu_s: number;
}

export interface TrainerArm extends TrainWindow {
  /** Spawn to the line saying what the run trains on: torch import, model read, dataset read and tokenized. */
  ready_s: number;
  /** Steps that ended before the window (they overlapped the check's engine); the window starts when the base's
   * check against llama.cpp is read. */
  steps_before: number;
  /** The libblas the trainer's torch loaded (from /proc/PID/maps): Debian's reference BLAS or OpenBLAS. */
  blas: string;
  check_base_relative?: number;
  error?: string;
}

export interface TrainerArmOptions {
  base: string;
  data: string;
  out: string;
  params: Record<string, string | number>;
  /** Tokens each step trains on (batch x predicted tokens per text: every text has the same length). */
  tokensPerStep: number;
  seconds: number;
  minSteps: number;
  /** Bound of the whole run; past it the trainer is killed and the arm reports what it saw. */
  timeoutMs: number;
  /** Extra argv for the trainer (--threads N), appended to the template's. */
  extra: string[];
}

function loadedBlas(pid: number): string {
  try {
    const libs = readFileSync(`/proc/${pid}/maps`, 'utf8')
      .split('\n')
      .map((l) => l.split(/\s+/)[5] ?? '')
      .filter((p) => /blas|mkl/i.test(p));
    return [...new Set(libs)].join(' ') || 'none mapped';
  } catch {
    return 'unknown';
  }
}

/** The trainer's descendants first (the engine check, if still running), then the trainer itself. */
async function killTree(child: ReturnType<typeof spawnDying>): Promise<void> {
  const pid = child.pid;
  if (pid !== undefined && child.exitCode === null) {
    const kids: number[] = [];
    try {
      const walk = (p: number) => {
        for (const c of childrenOf(p)) {
          kids.push(c);
          walk(c);
        }
      };
      walk(pid);
    } catch {
      /* gone */
    }
    for (const k of kids)
      try {
        process.kill(k, 'SIGKILL');
      } catch {
        /* gone */
      }
  }
  await stopDying(child);
}

export async function trainerArm(o: TrainerArmOptions): Promise<TrainerArm> {
  const vars = { node: process.execPath, package: packageRoot(), base: o.base, data: o.data, out: o.out, job: 'perf' };
  const [cmd, ...args] = [...expandCommand(loraTrainer().command, vars, o.params), ...o.extra];
  const t0 = performance.now();
  const child = spawnDying(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const at = () => (performance.now() - t0) / 1000;
  // Lines can still be read after the process has gone (and /proc with it).
  const cpuNow = () => {
    try {
      return ownCpuMs(pid);
    } catch {
      return NaN;
    }
  };
  let ready = NaN;
  let start: { s: number; cpuMs: number } | undefined;
  let end: { s: number; cpuMs: number } | undefined;
  let lastStep: { s: number; cpuMs: number } | undefined;
  let stepsBefore = 0;
  let steps = 0;
  let relative: number | undefined;
  let blas = 'unknown';
  const exited = new Promise<number | string>((r) => child.once('exit', (c, s) => r(c ?? s ?? 'unknown')));
  const finished = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let m: { type?: string; name?: string; message?: string; value?: number };
      try {
        m = JSON.parse(line);
      } catch {
        return;
      }
      if (end) return;
      if (m.type === 'log' && Number.isNaN(ready) && /tokens to predict/.test(m.message ?? '')) ready = at();
      if (m.type === 'metric' && m.name === 'check_base_relative') {
        relative = m.value;
        start = { s: at(), cpuMs: cpuNow() };
        blas = loadedBlas(pid);
      }
      if (m.type === 'metric' && m.name === 'loss') {
        if (!start) stepsBefore++;
        else {
          steps++;
          lastStep = { s: at(), cpuMs: cpuNow() };
          if (lastStep.s - start.s >= o.seconds && steps >= o.minSteps) {
            end = lastStep;
            resolve();
          }
        }
      }
    });
    lines.on('close', resolve);
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), o.timeoutMs)));
  const how = await Promise.race([finished.then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  // A run that ended (or timed out) before the window closed: the window ends at its last step line.
  const last = end ?? lastStep;
  await killTree(child);
  const code = child.exitCode ?? (await exited);
  const wall = last && start ? last.s - start.s : 0;
  const cpu = last && start ? (last.cpuMs - start.cpuMs) / 1000 : 0;
  const tokens = steps * o.tokensPerStep;
  let error: string | undefined;
  if (how === 'timeout') error = `timed out after ${o.timeoutMs} ms`;
  else if (!end) error = `the trainer ended (${code}) before the window closed: ${stderr.trim().split('\n').pop()}`;
  return {
    ready_s: ready,
    startup_s: start?.s ?? NaN,
    steps_before: stepsBefore,
    steps,
    tokens,
    wall_s: wall,
    cpu_s: cpu,
    tokens_per_s: wall > 0 ? tokens / wall : 0,
    tokens_per_cpu_s: cpu > 0 ? tokens / cpu : 0,
    blas,
    ...(relative === undefined ? {} : { check_base_relative: relative }),
    ...(error ? { error } : {}),
  };
}

/**
 * Runs one external trainer process for a fine-tune job and reads what it reports: JSON lines on stdout
 * (trainer-protocol.ts), free text on stderr of which only the tail is kept (trainer-output.ts). A trainer exits 0
 * after reporting its output. A line that breaks the protocol (not JSON, wrong fields, longer than maxLineBytes) is
 * counted and reported as a `log` event: a trainer that prints noise still trains, and never costs the coordinator
 * memory or a crash.
 *
 *   startTrainer ── spawn (detached: its own process group, process-group.ts) ── stdout ──> BoundedLines ──> onEvent
 *        │ cancel / timeout: SIGTERM to the group, SIGKILL after graceMs           stderr ──> TailBuffer
 *        └ 'close' (reaped, every pipe at EOF) ──> outcome (trainer-outcome.ts) ──> done
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { signalGroup, track, untrack } from './process-group.js';
import { BoundedLines, TailBuffer } from './trainer-output.js';
import { describeOutcome } from './trainer-outcome.js';
import { type OutputKind, oneLine, parseTrainerLine, type TrainerEvent } from './trainer-protocol.js';

export { type OutputKind, parseTrainerLine, type TrainerEvent } from './trainer-protocol.js';

export interface TrainerOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last output the trainer reported, resolved against its cwd. */
  outputPath?: string;
  /** What that output is, as the trainer said: a whole model or a LoRA adapter of the base (absent with no output). */
  outputKind?: OutputKind;
  /** The last value of each metric. */
  metrics: Record<string, number>;
  stderrTail: string;
  cancelled: boolean;
  timedOut: boolean;
  protocolErrors: number;
  /** One line saying what went wrong; absent when the trainer exited 0 and reported an output that exists. */
  error?: string;
}

export interface TrainerRun {
  /** The trainer's pid, which is also its process group id; -1 if it could not be started. */
  pid: number;
  /** Resolves (never rejects) once the trainer has exited, been reaped and its pipes are closed. */
  done: Promise<TrainerOutcome>;
  /** SIGTERM to the group, SIGKILL after graceMs if it is still there. No effect once the trainer has gone. */
  cancel(reason?: string): void;
}

export interface TrainerOptions {
  /** argv, already expanded by the caller; run without a shell. */
  command: string[];
  /** Added to the coordinator's environment. */
  env?: Record<string, string>;
  cwd: string;
  /** Called for each valid protocol line, and with a `log` for each of the first protocol errors. Must not throw:
   *  if it does, the trainer is stopped and the error is the outcome's. */
  onEvent(e: TrainerEvent): void;
  /** Time between SIGTERM and SIGKILL. */
  graceMs: number;
  maxLineBytes?: number;
  stderrTailBytes?: number;
  /** Wall-clock limit from the start; past it the trainer is stopped as on cancel. */
  timeoutMs?: number;
}

const DEFAULT_MAX_LINE = 64 * 1024;
const DEFAULT_STDERR_TAIL = 8 * 1024;
const EXCERPT = 120;
/** Protocol errors reported as events; past this they are only counted, so a flood of noise is not a flood of events. */
const REPORTED_PROTOCOL_ERRORS = 20;

export function startTrainer(o: TrainerOptions): TrainerRun {
  const started = Date.now();
  const reports = new Reports(o);
  const stderr = new TailBuffer(o.stderrTailBytes ?? DEFAULT_STDERR_TAIL);
  const stdout = new BoundedLines(
    o.maxLineBytes ?? DEFAULT_MAX_LINE,
    (line) => reports.line(line),
    (excerpt) => reports.protocolError(`line longer than ${o.maxLineBytes ?? DEFAULT_MAX_LINE} bytes`, excerpt),
  );

  const child = spawn(o.command[0]!, o.command.slice(1), {
    cwd: o.cwd,
    env: { ...process.env, ...o.env },
    // Its own process group (pgid = pid): signals to -pid reach everything the trainer forked, and a Ctrl-C meant
    // for the coordinator's terminal does not hit the trainer behind our back.
    detached: true,
    // stdin: a pipe we never write to. It ends when this process is gone, however it went (SIGKILL included): the
    // trainer's cue that nobody reads its report any more (docs/jobs.md). Not ended by us while the trainer runs.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pid = child.pid ?? -1;
  if (pid > 0) track(pid);
  const stopper = new Stopper(pid, o.graceMs);
  reports.onListenerError = (why) => stopper.stop(why);
  let cancelled = false;
  let timedOut = false;
  let spawnError: string | undefined;

  const timeoutTimer =
    o.timeoutMs !== undefined && pid > 0
      ? setTimeout(() => {
          timedOut = true;
          stopper.stop(`timed out after ${o.timeoutMs} ms`);
        }, o.timeoutMs)
      : undefined;

  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));

  const done = new Promise<TrainerOutcome>((resolve) => {
    // 'close' comes after 'exit' (Node has waitpid()ed the trainer: no zombie) and after both pipes reached EOF, i.e.
    // every process that held them, workers included, is gone, and every line has been read. A failed spawn emits
    // 'error' and then 'close' as well.
    child.on('error', (err) => {
      spawnError ??= oneLine(err.message, 300);
    });
    child.on('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      stopper.closed();
      clearTimeout(timeoutTimer);
      // Anything of the group that closed its stdio and outlived the leader goes now: nothing of a finished trainer
      // stays behind. The group id cannot have been reused while such a member exists.
      signalGroup(pid, 'SIGKILL');
      untrack(pid);
      stdout.end();
      const tail = stderr.text();
      const outcome: TrainerOutcome = {
        exitCode: pid > 0 ? exitCode : null,
        signal,
        metrics: reports.metrics,
        stderrTail: tail,
        cancelled,
        timedOut,
        protocolErrors: reports.protocolErrors,
        ...(reports.outputPath !== undefined && { outputPath: reports.outputPath, outputKind: reports.outputKind }),
      };
      void describeOutcome(outcome, {
        started: pid > 0,
        spawnError,
        listenerError: reports.listenerError,
        stopReason: stopper.reason,
        killed: stopper.escalated,
        seconds: (Date.now() - started) / 1000,
        graceMs: o.graceMs,
        timeoutMs: o.timeoutMs,
      }).then((error) => resolve(error === undefined ? outcome : { ...outcome, error }));
    });
  });

  return {
    pid,
    done,
    cancel(reason = 'cancelled') {
      if (!stopper.canStop) return;
      cancelled = true;
      stopper.stop(reason);
    },
  };
}

/** What the trainer reported so far: its events passed on to onEvent, the last output and metrics kept. */
class Reports {
  outputPath: string | undefined;
  outputKind: OutputKind = 'model';
  readonly metrics: Record<string, number> = {};
  protocolErrors = 0;
  /** onEvent threw: nothing more is passed on, and the trainer is stopped (onListenerError). */
  listenerError: string | undefined;
  onListenerError: (why: string) => void = () => {};

  constructor(private readonly o: TrainerOptions) {}

  line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const e = parseTrainerLine(line);
    if (typeof e === 'string') return this.protocolError(e, line);
    if (e.type === 'metric') this.metrics[e.name] = e.value;
    if (e.type === 'output') {
      this.outputPath = path.resolve(this.o.cwd, e.path);
      this.outputKind = e.kind;
    }
    this.emit(e);
  }

  protocolError(why: string, excerpt: string): void {
    this.protocolErrors++;
    if (this.protocolErrors <= REPORTED_PROTOCOL_ERRORS)
      this.emit({ type: 'log', message: `trainer protocol error (${why}): ${oneLine(excerpt, EXCERPT)}` });
  }

  private emit(e: TrainerEvent): void {
    if (this.listenerError !== undefined) return;
    try {
      this.o.onEvent(e);
    } catch (err) {
      this.listenerError = `onEvent threw: ${oneLine(err instanceof Error ? err.message : String(err), 200)}`;
      this.onListenerError(this.listenerError);
    }
  }
}

/** Stopping the group: SIGTERM once, SIGKILL after the grace if it has not closed by then. */
class Stopper {
  reason: string | undefined;
  escalated = false;
  private isClosed = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly graceMs: number,
  ) {}

  /** Not closed yet and not being stopped already. */
  get canStop(): boolean {
    return !this.isClosed && this.reason === undefined;
  }

  stop(reason: string): void {
    if (!this.canStop || this.pid <= 0) return;
    this.reason = reason;
    signalGroup(this.pid, 'SIGTERM');
    // Not cleared on 'exit': the leader may honour SIGTERM while a worker it forked ignores it and keeps the pipes
    // (and the GPU); only 'close' says everything is gone.
    this.graceTimer = setTimeout(() => {
      this.escalated = true;
      signalGroup(this.pid, 'SIGKILL');
    }, this.graceMs);
  }

  /** Everything of the trainer is gone ('close'). */
  closed(): void {
    this.isClosed = true;
    clearTimeout(this.graceTimer);
  }
}

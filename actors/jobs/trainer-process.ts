/**
 * Runs one external trainer process for a fine-tune job and reads what it reports. The trainer is any program that
 * speaks this protocol: JSON lines on stdout, one object per line,
 *
 *   {"type":"progress","fraction":0.5,"message":"epoch 1"}     fraction in [0, 1]
 *   {"type":"metric","name":"loss","value":1.23,"step":10}     finite value; step an integer >= 0, optional
 *   {"type":"log","message":"..."}
 *   {"type":"output","path":"out.gguf"}                        relative to the trainer's cwd, or absolute
 *
 * and exits 0 after reporting its output. stderr is free text; only its tail is kept, for the error message. A line
 * that breaks the protocol (not JSON, wrong fields, longer than maxLineBytes) is counted and reported as a `log`
 * event: a trainer that prints noise still trains, and never costs the coordinator memory or a crash.
 *
 * The trainer runs in its own process group (detached), so cancel, timeout and the coordinator's own exit reach the
 * workers it forks too (data loaders, tokenizer pools), not only the process we started.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';

export type TrainerEvent =
  | { type: 'progress'; fraction: number; message?: string }
  | { type: 'metric'; name: string; value: number; step?: number }
  | { type: 'log'; message: string }
  | { type: 'output'; path: string };

export interface TrainerOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last output the trainer reported, resolved against its cwd. */
  outputPath?: string;
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
const MAX_MESSAGE = 4096;
const MAX_NAME = 200;
const MAX_PATH = 4096;
const EXCERPT = 120;
/** Protocol errors reported as events; past this they are only counted, so a flood of noise is not a flood of events. */
const REPORTED_PROTOCOL_ERRORS = 20;

// Trainers still running when the coordinator exits (a crash, process.exit): their groups get SIGKILL, since a
// detached trainer would otherwise keep the GPU busy with nobody to read its output. 'exit' handlers must be
// synchronous, and process.kill is.
const live = new Set<number>();
let exitHookInstalled = false;
function track(pid: number): void {
  live.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) signalGroup(p, 'SIGKILL');
  });
}

/** Signals the whole group (negative pid). ESRCH (already gone) and anything else are ignored: it is best effort. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return; // -0 would be our own group
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone */
  }
}

function oneLine(s: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this strips from a trainer's line
  const flat = s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

const isString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/** The event a line carries, or why it is not one. */
export function parseTrainerLine(line: string): TrainerEvent | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not a JSON object';
  // Each field is checked below before it is used.
  const o = parsed as Record<string, unknown>;
  switch (o.type) {
    case 'progress':
      if (typeof o.fraction !== 'number' || !(o.fraction >= 0 && o.fraction <= 1))
        return 'progress.fraction must be a number in [0, 1]';
      if (o.message !== undefined && !isString(o.message, MAX_MESSAGE))
        return `progress.message must be a string of at most ${MAX_MESSAGE} characters`;
      return o.message === undefined
        ? { type: 'progress', fraction: o.fraction }
        : { type: 'progress', fraction: o.fraction, message: o.message };
    case 'metric':
      if (!isString(o.name, MAX_NAME) || o.name === '')
        return `metric.name must be a non-empty string of at most ${MAX_NAME} characters`;
      if (typeof o.value !== 'number' || !Number.isFinite(o.value)) return 'metric.value must be a finite number';
      if (o.step !== undefined && !(typeof o.step === 'number' && Number.isSafeInteger(o.step) && o.step >= 0))
        return 'metric.step must be an integer >= 0';
      return o.step === undefined
        ? { type: 'metric', name: o.name, value: o.value }
        : { type: 'metric', name: o.name, value: o.value, step: o.step };
    case 'log':
      if (!isString(o.message, MAX_MESSAGE)) return `log.message must be a string of at most ${MAX_MESSAGE} characters`;
      return { type: 'log', message: o.message };
    case 'output':
      if (!isString(o.path, MAX_PATH) || o.path === '' || o.path.includes('\0'))
        return 'output.path must be a non-empty path';
      return { type: 'output', path: o.path };
    default:
      return `unknown type ${oneLine(JSON.stringify(o.type) ?? 'undefined', 40)}`;
  }
}

export function startTrainer(o: TrainerOptions): TrainerRun {
  const maxLine = o.maxLineBytes ?? DEFAULT_MAX_LINE;
  const tailBytes = o.stderrTailBytes ?? DEFAULT_STDERR_TAIL;
  const started = Date.now();

  let outputPath: string | undefined;
  const metrics: Record<string, number> = {};
  let protocolErrors = 0;
  let stderrTail = Buffer.alloc(0);
  let cancelled = false;
  let timedOut = false;
  let stopReason: string | undefined;
  let escalated = false;
  let listenerError: string | undefined;
  let spawnError: string | undefined;
  let closed = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;

  const emit = (e: TrainerEvent) => {
    if (listenerError !== undefined) return;
    try {
      o.onEvent(e);
    } catch (err) {
      listenerError = `onEvent threw: ${oneLine(err instanceof Error ? err.message : String(err), 200)}`;
      stop(listenerError);
    }
  };

  const protocolError = (why: string, excerpt: string) => {
    protocolErrors++;
    if (protocolErrors <= REPORTED_PROTOCOL_ERRORS)
      emit({ type: 'log', message: `trainer protocol error (${why}): ${oneLine(excerpt, EXCERPT)}` });
  };

  const onLine = (line: string) => {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') return;
    const e = parseTrainerLine(line);
    if (typeof e === 'string') return protocolError(e, line);
    if (e.type === 'metric') metrics[e.name] = e.value;
    if (e.type === 'output') outputPath = path.resolve(o.cwd, e.path);
    emit(e);
  };

  // Line splitting over raw bytes with at most maxLine bytes held: a longer line is counted once, its first bytes
  // kept for the excerpt, and the rest dropped until the next newline.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let discarding = false;
  const onStdout = (chunk: Buffer) => {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(0x0a, from);
      const end = nl === -1 ? chunk.length : nl;
      if (!discarding) {
        if (pendingBytes + (end - from) > maxLine) {
          const head = Buffer.concat([...pending, chunk.subarray(from, Math.min(end, from + EXCERPT))]).subarray(
            0,
            EXCERPT,
          );
          protocolError(`line longer than ${maxLine} bytes`, head.toString('utf8'));
          pending = [];
          pendingBytes = 0;
          discarding = true;
        } else if (end > from) {
          pending.push(chunk.subarray(from, end));
          pendingBytes += end - from;
        }
      }
      if (nl === -1) break;
      if (!discarding) onLine(Buffer.concat(pending, pendingBytes).toString('utf8'));
      pending = [];
      pendingBytes = 0;
      discarding = false;
      from = nl + 1;
    }
  };

  const onStderr = (chunk: Buffer) => {
    stderrTail =
      stderrTail.length + chunk.length <= tailBytes
        ? Buffer.concat([stderrTail, chunk])
        : Buffer.concat([stderrTail, chunk]).subarray(-tailBytes);
    // Copy when trimmed, so the tail does not pin the (possibly large) chunk it was cut from.
    if (stderrTail.length === tailBytes) stderrTail = Buffer.from(stderrTail);
  };

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

  function stop(reason: string): void {
    if (closed || stopReason !== undefined || pid <= 0) return;
    stopReason = reason;
    signalGroup(pid, 'SIGTERM');
    // Not cleared on 'exit': the leader may honour SIGTERM while a worker it forked ignores it and keeps the pipes
    // (and the GPU); only 'close' says everything is gone.
    graceTimer = setTimeout(() => {
      escalated = true;
      signalGroup(pid, 'SIGKILL');
    }, o.graceMs);
  }

  if (o.timeoutMs !== undefined && pid > 0) {
    timeoutTimer = setTimeout(() => {
      timedOut = true;
      stop(`timed out after ${o.timeoutMs} ms`);
    }, o.timeoutMs);
  }

  child.stdout!.on('data', onStdout);
  child.stderr!.on('data', onStderr);

  const done = new Promise<TrainerOutcome>((resolve) => {
    // 'close' comes after 'exit' (Node has waitpid()ed the trainer: no zombie) and after both pipes reached EOF, i.e.
    // every process that held them, workers included, is gone, and every line has been read. A failed spawn emits
    // 'error' and then 'close' as well.
    child.on('error', (err) => {
      spawnError ??= oneLine(err.message, 300);
    });
    child.on('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      closed = true;
      clearTimeout(graceTimer);
      clearTimeout(timeoutTimer);
      // Anything of the group that closed its stdio and outlived the leader goes now: nothing of a finished trainer
      // stays behind. The group id cannot have been reused while such a member exists.
      signalGroup(pid, 'SIGKILL');
      live.delete(pid);
      if (pending.length && !discarding) onLine(Buffer.concat(pending, pendingBytes).toString('utf8')); // no final newline
      pending = [];
      finish(exitCode, signal).then(resolve);
    });
  });

  async function finish(exitCode: number | null, signal: NodeJS.Signals | null): Promise<TrainerOutcome> {
    // Cut at a byte boundary, the tail may start inside a UTF-8 character: drop the replacement character.
    const tail = stderrTail.toString('utf8').replace(/^\uFFFD+/, '');
    const lastLine = oneLine(
      tail
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .at(-1) ?? '',
      300,
    );
    const outcome: TrainerOutcome = {
      exitCode: pid > 0 ? exitCode : null,
      signal,
      metrics,
      stderrTail: tail,
      cancelled,
      timedOut,
      protocolErrors,
      ...(outputPath !== undefined && { outputPath }),
    };
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const killed = escalated ? `; it did not stop on SIGTERM and was killed with SIGKILL after ${o.graceMs} ms` : '';
    if (spawnError !== undefined && pid <= 0) outcome.error = `could not start trainer: ${spawnError}`;
    else if (listenerError !== undefined) outcome.error = `${listenerError}${killed}`;
    else if (timedOut) outcome.error = `trainer timed out after ${o.timeoutMs} ms${killed}`;
    else if (cancelled) outcome.error = `trainer cancelled: ${stopReason}${killed}`;
    else if (signal !== null)
      outcome.error = `trainer killed by ${signal} after ${seconds} s${lastLine && `: ${lastLine}`}`;
    else if (exitCode !== 0) outcome.error = `trainer exited with code ${exitCode}${lastLine && `: ${lastLine}`}`;
    else if (outputPath === undefined) outcome.error = 'trainer exited 0 without reporting an output';
    else if (
      !(await stat(outputPath).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      outcome.error = `trainer reported output ${outputPath}, which is not a file`;
    return outcome;
  }

  return {
    pid,
    done,
    cancel(reason = 'cancelled') {
      if (closed || stopReason !== undefined) return;
      cancelled = true;
      stop(reason);
    },
  };
}

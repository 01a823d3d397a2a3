/**
 * What went wrong with a trainer, in one line for the job's error: the first of (could not start, onEvent threw,
 * timed out, cancelled, killed by a signal, a non-zero exit, no output reported, an output that is not a file), or
 * nothing when it exited 0 with its output written.
 */
import { stat } from 'node:fs/promises';
import { type OutputKind, oneLine } from './trainer-protocol.js';

export interface OutcomeFacts {
  /** A process was started (false: spawn failed). */
  started: boolean;
  spawnError: string | undefined;
  listenerError: string | undefined;
  /** Why it was stopped (cancel's reason, the timeout), when it was. */
  stopReason: string | undefined;
  /** It ignored SIGTERM and got SIGKILL after graceMs. */
  killed: boolean;
  seconds: number;
  graceMs: number;
  timeoutMs: number | undefined;
}

interface Ended {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  outputPath?: string;
  outputKind?: OutputKind;
  stderrTail: string;
  cancelled: boolean;
  timedOut: boolean;
}

export async function describeOutcome(r: Ended, f: OutcomeFacts): Promise<string | undefined> {
  const lines = r.stderrTail
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = oneLine(lines.at(-1) ?? '', 300);
  const quoted = last && `: ${last}`;
  const killed = f.killed ? `; it did not stop on SIGTERM and was killed with SIGKILL after ${f.graceMs} ms` : '';
  if (f.spawnError !== undefined && !f.started) return `could not start trainer: ${f.spawnError}`;
  if (f.listenerError !== undefined) return `${f.listenerError}${killed}`;
  if (r.timedOut) return `trainer timed out after ${f.timeoutMs} ms${killed}`;
  if (r.cancelled) return `trainer cancelled: ${f.stopReason}${killed}`;
  if (r.signal !== null) return `trainer killed by ${r.signal} after ${f.seconds.toFixed(1)} s${quoted}`;
  if (r.exitCode !== 0) return `trainer exited with code ${r.exitCode}${quoted}`;
  if (r.outputPath === undefined) return 'trainer exited 0 without reporting an output';
  const isFile = await stat(r.outputPath).then(
    (s) => s.isFile(),
    () => false,
  );
  const kind = r.outputKind === 'lora' ? ' (a LoRA adapter)' : '';
  return isFile ? undefined : `trainer reported output ${r.outputPath}${kind}, which is not a file`;
}

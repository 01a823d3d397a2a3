/**
 * A bounded piscina pool running one task module off the actor threads: the model inspector (GGUF header + sha256)
 * and the dataset pool (tokenize, dedupe, split) both stand on it.
 *
 *   caller ── run(task) ──> [closed? busy?] ──> piscina queue (maxQueue) ──> worker thread: <entry>.default(task)
 *
 * What it settles once for both: a full queue answers MOC_ERR_BUSY at once (never an unbounded wait), a shut-down
 * pool answers MOC_ERR_UNAVAILABLE, a task cut off by a shutdown says so, and a worker's 'error' event is a warning,
 * not a crash of the process. From .ts sources each worker gets tsx's loader through --import, which holds even when
 * this process registered tsx through its API rather than a flag a worker would inherit; built code loads the .js.
 */
import { fileURLToPath } from 'node:url';
import type { Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { builtTwin, workerExecArgv } from '../entry.js';
import { errors, type MocError, toMocError } from '../errors.js';

export interface TaskPoolOptions {
  /** The task module (siblingEntry: the .ts source or the built .js). */
  entry: URL;
  /** Who answers, in messages: 'the model inspector'. */
  name: string;
  /** The queue, in a MOC_ERR_BUSY message: 'the model inspection queue'. */
  queueName: string;
  maxThreads: number;
  maxQueue: number;
  /** Idle workers end after this. */
  idleTimeoutMs: number;
  /**
   * Workers that keep timers of their own between tasks need 'disabled': by default an idle piscina worker blocks
   * in Atomics.wait and its timers never run.
   */
  atomics?: 'disabled';
}

export interface RunOptions {
  /** piscina's abort: the worker is terminated (only for tasks whose worker holds nothing that needs disposing). */
  signal?: AbortSignal;
  transferList?: Transferable[];
  /** What is being done, in messages: 'the inspection of m.gguf'. */
  label: string;
}

export class TaskPool<Task, Result> {
  private readonly pool: Piscina;
  private closedFlag = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: TaskPoolOptions) {
    const entry = builtTwin(opts.entry);
    const execArgv = workerExecArgv(entry);
    this.pool = new Piscina({
      filename: fileURLToPath(entry),
      minThreads: 0,
      maxThreads: opts.maxThreads,
      maxQueue: opts.maxQueue,
      idleTimeout: opts.idleTimeoutMs,
      ...(opts.atomics ? { atomics: opts.atomics } : {}),
      // A .ts task needs tsx (piscina's own worker script imports it); a built one no loader of its parent's.
      ...(entry.pathname.endsWith('.ts')
        ? { execArgv: ['--import', import.meta.resolve('tsx')] }
        : execArgv
          ? { execArgv }
          : {}),
    });
    // A worker dying between tasks loses nothing (piscina replaces it); without a listener it would crash the process.
    this.pool.on('error', (err: Error) => process.emitWarning(err));
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Runs one task. Refused at once when shut down (UNAVAILABLE) or when the queue is full (BUSY, retry in 1 s). A
   * rejection is coded: CANCELLED when the signal aborted it, UNAVAILABLE when a shutdown cut it off.
   */
  async run(task: Task, opts: RunOptions): Promise<Result> {
    this.admit();
    try {
      return (await this.pool.run(task, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.transferList ? { transferList: opts.transferList } : {}),
      })) as Result;
    } catch (err) {
      if (opts.signal?.aborted) throw errors.cancelled(opts.label);
      throw this.cutOff(opts.label) ?? toMocError(err);
    }
  }

  /** Throws what run() would refuse a task with now: UNAVAILABLE when shut down, BUSY when the queue is full. */
  admit(): void {
    if (this.closedFlag) throw errors.unavailable(`${this.opts.name} is shut down`);
    if (this.pool.queueSize >= this.opts.maxQueue) throw errors.busy(this.opts.queueName, this.opts.maxQueue, 1000);
  }

  /** UNAVAILABLE when the pool is shut down (what was under way was cut off by it); null while it runs. */
  cutOff(label: string): MocError | null {
    return this.closedFlag ? errors.unavailable(`${this.opts.name} shut down during ${label}`) : null;
  }

  /**
   * Stops taking tasks, workers left running: an owner whose workers hold something to dispose (the dataset pool's
   * vocabularies) asks them to between this and close/destroy.
   */
  refuse(): void {
    this.closedFlag = true;
  }

  /** Stops taking tasks and waits for the queued ones, then ends the workers. */
  close(): Promise<void> {
    this.closedFlag = true;
    this.closing ??= this.pool.close();
    return this.closing;
  }

  /** Stops at once: running and queued tasks fail with MOC_ERR_UNAVAILABLE. */
  async destroy(): Promise<void> {
    this.closedFlag = true;
    await this.pool.destroy();
  }
}

/**
 * The dataset worker pool: a small piscina pool running src/model/dataset-task (validate, tokenize, dedupe, split)
 * off the actor threads, like the model inspector. Bounded: a full queue answers MOC_ERR_BUSY at once.
 *
 * Its workers hold node-llama-cpp vocabularies, and a worker thread terminated while it holds one takes the process
 * down, so: cancellation is cooperative (a shared flag the task checks per line, never piscina's abort), workers
 * dispose their vocabularies after `keepModelsMs` idle (piscina's own idle timeout is far longer), and close/destroy
 * ask them to dispose and wait for it before piscina ends the threads.
 */
import { rm } from 'node:fs/promises';
import { MessageChannel } from 'node:worker_threads';
import { siblingEntry } from '../../src/entry.js';
import { errors, MocError } from '../../src/errors.js';
import { TaskPool } from '../../src/kernel/task-pool.js';
import {
  CONTROL_LIVE,
  CONTROL_RELEASE,
  PARTIAL_SUFFIX,
  type DatasetProgress,
  type DatasetResult,
  type DatasetStats,
  type DatasetTask,
} from '../../src/model/dataset-task.js';

export type { DatasetProgress, DatasetStats, InvalidLine } from '../../src/model/dataset-task.js';

const TASK = siblingEntry(import.meta.url, '../../src/model/dataset-task');

/** What a caller gives for one preparation: the worker's task without the shared arrays the pool adds. */
export type PrepareRequest = Omit<DatasetTask, 'cancel' | 'control' | 'keepMs' | 'progress'>;

export class DatasetPool {
  private readonly pool: TaskPool<DatasetTask, DatasetResult>;
  private readonly keepModelsMs: number;
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private readonly running = new Set<{ cancel: Int32Array; done: Promise<unknown> }>();
  constructor(opts: { maxThreads?: number; maxQueue?: number; keepModelsMs?: number } = {}) {
    this.keepModelsMs = opts.keepModelsMs ?? 10_000;
    this.pool = new TaskPool({
      entry: TASK,
      name: 'the dataset worker pool',
      queueName: 'the dataset preparation queue',
      maxThreads: opts.maxThreads ?? 1,
      maxQueue: opts.maxQueue ?? 16,
      // Well after the workers dispose their vocabularies (see above): piscina terminates idle threads.
      idleTimeoutMs: Math.max(60_000, this.keepModelsMs * 6),
      // The workers' release timers (see above) must run between tasks.
      atomics: 'disabled',
    });
  }

  /** Worker threads holding a model vocabulary right now (they release it after keepModelsMs idle). */
  get heldVocabularies(): number {
    return Atomics.load(this.control, CONTROL_LIVE);
  }

  /** Runs one preparation; signal cancels it (MOC_ERR_CANCELLED) and leaves no output behind. */
  async prepare(
    req: PrepareRequest,
    opts: { signal?: AbortSignal; onProgress?: (p: DatasetProgress) => void } = {},
  ): Promise<DatasetStats> {
    this.pool.admit(); // refused (shut down, busy) before anything is set up
    if (opts.signal?.aborted) throw errors.cancelled(`preparing ${req.shown}`);
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const onAbort = () => {
      Atomics.store(cancel, 0, 1);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const channel = opts.onProgress ? new MessageChannel() : null;
    if (channel) channel.port1.on('message', (p: DatasetProgress) => opts.onProgress!(p));
    const task: DatasetTask = {
      ...req,
      cancel,
      control: this.control,
      keepMs: this.keepModelsMs,
      ...(channel ? { progress: channel.port2 } : {}),
    };
    // No signal for piscina: cancellation is the shared flag (see above).
    const done = this.pool.run(task, {
      label: 'the preparation',
      ...(channel ? { transferList: [channel.port2] } : {}),
    });
    // close/destroy wait for it; its rejection is the caller's, through `done` below.
    const entry = { cancel, done: done.catch(() => undefined) };
    this.running.add(entry);
    let result: DatasetResult;
    try {
      result = await done;
    } catch (err) {
      await this.removePartials(req);
      throw err;
    } finally {
      this.running.delete(entry);
      opts.signal?.removeEventListener('abort', onAbort);
      channel?.port1.close();
    }
    if ('error' in result) {
      await this.removePartials(req); // the task removes them itself; this covers a worker that died mid-way
      const e = MocError.fromData(result.error);
      throw (e.code === 'MOC_ERR_CANCELLED' && !opts.signal?.aborted && this.pool.cutOff('the preparation')) || e;
    }
    return result;
  }

  /** Stops taking preparations, lets the queued ones finish, then ends the workers. */
  async close(): Promise<void> {
    if (this.pool.closed) return;
    this.pool.refuse();
    await Promise.all([...this.running].map((r) => r.done));
    await this.releaseWorkers();
    await this.pool.close();
  }

  /** Stops at once: running and queued preparations fail with MOC_ERR_UNAVAILABLE. */
  async destroy(): Promise<void> {
    this.pool.refuse();
    for (const r of this.running) Atomics.store(r.cancel, 0, 1);
    await Promise.all([...this.running].map((r) => r.done));
    await this.releaseWorkers();
    await this.pool.destroy();
  }

  /** Asks every worker to dispose its vocabularies, and waits until none holds one (bounded: 10 s). */
  private async releaseWorkers(): Promise<void> {
    Atomics.store(this.control, CONTROL_RELEASE, 1);
    Atomics.notify(this.control, CONTROL_RELEASE);
    const deadline = Date.now() + 10_000;
    // Polled: a pending Atomics.waitAsync does not keep this process running.
    for (let live = this.heldVocabularies; live > 0; live = this.heldVocabularies) {
      if (Date.now() >= deadline) {
        process.emitWarning(`dataset pool: ${live} worker(s) still hold a model vocabulary at shutdown`);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async removePartials(req: PrepareRequest): Promise<void> {
    // force: a missing file is no error. Any other (a permission) leaves a .partial behind, which no reader takes for
    // a dataset and the next preparation of that output replaces.
    await Promise.all([req.train, req.eval].map((f) => rm(f + PARTIAL_SUFFIX, { force: true }).catch(() => undefined)));
  }
}

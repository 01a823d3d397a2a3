/**
 * The GGUF inspector: a small piscina pool running inspect-task (header validation + sha256) off the actor
 * threads (src/kernel/task-pool.ts: bounded, a full queue answers MOC_ERR_BUSY at once). close() lets queued
 * inspections finish.
 */
import { relative } from 'node:path';
import { siblingEntry } from '../entry.js';
import { MocError } from '../errors.js';
import { TaskPool } from '../kernel/task-pool.js';
import type { GgufHeader } from './gguf-header.js';
import type { InspectResult, InspectTask } from './inspect-task.js';

const TASK = siblingEntry(import.meta.url, './inspect-task');

export interface Inspection {
  sha256: string;
  bytes: number;
  header: GgufHeader;
}

export class ModelInspector {
  private readonly pool: TaskPool<InspectTask, InspectResult>;

  constructor(opts: { maxThreads?: number; maxQueue?: number } = {}) {
    this.pool = new TaskPool({
      entry: TASK,
      name: 'the model inspector',
      queueName: 'the model inspection queue',
      maxThreads: opts.maxThreads ?? 1,
      maxQueue: opts.maxQueue ?? 64,
      idleTimeoutMs: 30_000,
    });
  }

  /**
   * opts.root: messages name the file relative to it (the models root); opts.headerOnly: validate the header
   * without hashing (sha256 ''). The signal aborts the worker (it holds nothing to dispose).
   */
  async inspect(
    path: string,
    opts: { signal?: AbortSignal; root?: string; headerOnly?: boolean } = {},
  ): Promise<Inspection> {
    const task: InspectTask = {
      path,
      ...(opts.root ? { root: opts.root } : {}),
      ...(opts.headerOnly ? { headerOnly: true } : {}),
    };
    const result = await this.pool.run(task, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      label: `the inspection of ${opts.root ? relative(opts.root, path) : path}`,
    });
    if ('error' in result) throw MocError.fromData(result.error);
    return result;
  }

  /** Stops taking inspections and waits for the queued ones. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Stops at once: running and queued inspections fail with MOC_ERR_UNAVAILABLE. */
  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

/**
 * The GGUF inspector: a small piscina pool running inspect-task (header validation + sha256) off the actor
 * threads. Bounded: a full queue answers MOC_ERR_BUSY at once. close() lets queued inspections finish.
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { siblingEntry } from '../entry.js';
import { errors, MocError, toMocError } from '../errors.js';
import type { GgufHeader } from './gguf-header.js';
import type { InspectResult, InspectTask } from './inspect-task.js';

const TASK = siblingEntry(import.meta.url, './inspect-task');
// Built code loads dist/.../inspect-task.js as is. From .ts sources each worker gets tsx's loader through --import,
// which holds even when this process registered tsx through its API rather than a flag a worker would inherit.
const WORKER_ARGV = TASK.pathname.endsWith('.ts') ? { execArgv: ['--import', import.meta.resolve('tsx')] } : {};

export interface Inspection {
  sha256: string;
  bytes: number;
  header: GgufHeader;
}

export class ModelInspector {
  private readonly pool: Piscina;
  private readonly maxQueue: number;
  private closed = false;

  constructor(opts: { maxThreads?: number; maxQueue?: number } = {}) {
    this.maxQueue = opts.maxQueue ?? 64;
    this.pool = new Piscina({
      filename: fileURLToPath(TASK),
      minThreads: 0,
      maxThreads: opts.maxThreads ?? 1,
      maxQueue: this.maxQueue,
      idleTimeout: 30_000,
      ...WORKER_ARGV,
    });
    // A worker dying between tasks loses nothing (piscina replaces it); without a listener it would crash the process.
    this.pool.on('error', (err: Error) => process.emitWarning(err));
  }

  /**
   * opts.root: messages name the file relative to it (the models root); opts.headerOnly: validate the header
   * without hashing (sha256 '').
   */
  async inspect(
    path: string,
    opts: { signal?: AbortSignal; root?: string; headerOnly?: boolean } = {},
  ): Promise<Inspection> {
    if (this.closed) throw errors.unavailable('the model inspector is shut down');
    if (this.pool.queueSize >= this.maxQueue) throw errors.busy('the model inspection queue', this.maxQueue, 1000);
    const task: InspectTask = {
      path,
      ...(opts.root ? { root: opts.root } : {}),
      ...(opts.headerOnly ? { headerOnly: true } : {}),
    };
    let result: InspectResult;
    try {
      result = (await this.pool.run(task, opts.signal ? { signal: opts.signal } : {})) as InspectResult;
    } catch (err) {
      if (opts.signal?.aborted)
        throw errors.cancelled(`the inspection of ${opts.root ? relative(opts.root, path) : path}`);
      if (this.closed) throw errors.unavailable('the model inspector shut down during the inspection');
      throw toMocError(err);
    }
    if ('error' in result) throw MocError.fromData(result.error);
    return result;
  }

  /** Stops taking inspections and waits for the queued ones. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  /** Stops at once: running and queued inspections fail with MOC_ERR_UNAVAILABLE. */
  async destroy(): Promise<void> {
    this.closed = true;
    await this.pool.destroy();
  }
}

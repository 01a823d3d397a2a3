/**
 * The GGUF inspector: a small piscina pool running inspect-task (header validation + sha256) off the actor
 * threads. Bounded: a full queue answers MOC_ERR_BUSY at once. close() lets queued inspections finish.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { errors, MocError } from '../errors.js';
import type { GgufHeader } from './gguf-header.js';
import type { InspectResult } from './inspect-task.js';

// From .ts sources the pool loads a bootstrap that registers tsx in each worker first.
const TASK = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './inspect-task-dev.mjs' : './inspect-task.js', import.meta.url));

export class ModelInspector {
  private readonly pool: Piscina;
  private closed = false;

  constructor(o: { maxThreads?: number; maxQueue?: number } = {}) {
    this.pool = new Piscina({
      filename: TASK,
      minThreads: 0,
      maxThreads: o.maxThreads ?? 1,
      maxQueue: o.maxQueue ?? 64,
      idleTimeout: 30_000,
    });
  }

  async inspect(path: string, o: { signal?: AbortSignal } = {}): Promise<{ sha256: string; bytes: number; header: GgufHeader }> {
    if (this.closed) throw errors.unavailable('the model inspector is closed');
    if (this.pool.queueSize >= this.pool.options.maxQueue) throw errors.busy('model inspection queue', this.pool.options.maxQueue, 1000);
    const r = (await this.pool.run({ path }, o.signal ? { signal: o.signal } : {})) as InspectResult;
    if ('error' in r) throw MocError.fromData(r.error);
    return r;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  async destroy(): Promise<void> {
    this.closed = true;
    await this.pool.destroy();
  }
}

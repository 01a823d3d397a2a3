/**
 * Adapts a worker thread hosting an actor (worker-host.ts) to a supervisor ChildHandle, re-attaching the same
 * WorkerRef to every incarnation so callers keep one stable reference across restarts.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../entry.js';
import type { WorkerRef } from './worker-ref.js';
import type { ChildHandle, ExitInfo } from './supervisor.js';
import type { Protocol } from './types.js';

export interface WorkerChildOptions {
  entry: URL;
  workerData: unknown;
  name: string;
  /** Time allowed for the worker to post 'ready'. */
  startTimeoutMs: number;
  resourceLimits?: Worker['resourceLimits'];
}

export async function startWorkerChild<P extends Protocol>(
  ref: WorkerRef<P>,
  o: WorkerChildOptions,
): Promise<ChildHandle> {
  const worker = startWorker(o.entry, { workerData: o.workerData, name: o.name });
  let asked = false;
  let lastError: Error | undefined;
  worker.on('error', (err) => {
    lastError = err;
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    worker.once('exit', (code) => {
      const reason = lastError ? `crashed: ${lastError.message}` : `exited with code ${code}`;
      ref.detach(asked ? 'is stopped' : `is restarting (${reason})`, worker);
      resolve({ normal: asked, reason, ...(lastError ? { error: lastError } : {}) });
    });
  });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`${o.name} did not start within ${o.startTimeoutMs} ms`));
    }, o.startTimeoutMs);
    const onMessage = (f: { t?: string }) => {
      if (f?.t !== 'ready') return;
      cleanup();
      resolve();
    };
    const onExit = () => {
      cleanup();
      reject(lastError ?? new Error(`${o.name} exited during start`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    // attach before 'ready' arrives so the ref sees it and gets its credits.
    ref.attach(worker);
  });

  return {
    exited,
    async close() {
      if (asked) return void (await exited);
      asked = true;
      ref.requestClose();
      await exited;
    },
    async destroy() {
      asked = true;
      await worker.terminate();
      await exited;
    },
  };
}

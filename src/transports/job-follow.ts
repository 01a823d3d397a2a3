/**
 * Following one job for a client (gRPC WatchJob, REST `GET /v1/jobs/{id}/events`): the job now, then its changes, at
 * most one per `minIntervalMs` (the latest: a trainer may report every step), until it ends. Changes come from the
 * Jobs actor's watch, which hears this process's changes as they happen and other processes' (on the same data
 * directory) from the store's event log every jobs.pollMs. One implementation, so both transports say the same.
 */
import type { Job } from '../../schemas/jobs.js';
import type { JobResource } from '../../schemas/rest.js';
import { jobResource } from './views.js';

export interface JobSource {
  watch(listener: (j: Job) => void): () => void;
}

export interface JobFollower {
  /** A newer state of the job; `final` once it has ended (nothing follows; the follow has stopped). */
  send(job: JobResource, final: boolean): void;
  /** The first read failed (e.g. MOC_ERR_JOB_NOT_FOUND): nothing was sent, the follow has stopped. */
  fail(err: unknown): void;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Starts following; returns stop() (idempotent; the follower hears nothing after it). */
export function followJob(
  id: string,
  deps: { read(): Promise<JobResource>; jobs: JobSource | null | undefined; minIntervalMs: number },
  out: JobFollower,
): () => void {
  // What was sent last: a change is a newer record, or new progress of the same record (reported between writes).
  let lastUpdated = -1;
  let lastKey = '';
  const keyOf = (j: JobResource) =>
    `${j.state}|${j.updated_at_ms}|${j.progress.fraction}|${j.progress.message}|${j.log_tail.length}`;
  let latest: JobResource | null = null;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    off?.();
  };
  const flush = () => {
    timer = undefined;
    const job = latest;
    latest = null;
    if (done || !job || keyOf(job) === lastKey) return;
    lastUpdated = job.updated_at_ms;
    lastKey = keyOf(job);
    const final = TERMINAL.has(job.state);
    if (final) stop();
    out.send(job, final);
  };
  const offer = (job: JobResource) => {
    if (done || job.updated_at_ms < lastUpdated) return; // an older read than what was sent
    latest = job;
    if (TERMINAL.has(job.state)) return flush();
    timer ??= setTimeout(flush, deps.minIntervalMs);
  };
  // Subscribed before the first read: a change between the two is not lost (an older read is dropped by offer).
  const off = deps.jobs?.watch((j) => {
    if (j.id === id) offer(jobResource(j));
  });
  deps.read().then(
    (job) => {
      if (!done && (latest === null || job.updated_at_ms >= latest.updated_at_ms)) latest = job;
      flush();
    },
    (err) => {
      if (done) return;
      stop();
      out.fail(err);
    },
  );
  return stop;
}

/**
 * Following one job for a client (gRPC WatchJob, REST `GET /v1/jobs/{id}/events`): the job now, then its changes, at
 * most one per `minIntervalMs` (the latest: a trainer may report every step), until it ends. The first change, and a
 * change after a quiet spell, goes at once (a client waiting for `running` sees it as soon as this process does); only
 * changes that follow a sent change within the interval wait for its end. Changes come from the
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
  let sentAt = Number.NEGATIVE_INFINITY;
  let read = false;
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    off?.();
  };
  /** paced: counts toward the interval (a change); the first read does not: the first change after it goes at once. */
  const flush = (paced = true) => {
    clearTimeout(timer);
    timer = undefined;
    const job = latest;
    latest = null;
    if (done || !job || keyOf(job) === lastKey) return;
    lastUpdated = job.updated_at_ms;
    lastKey = keyOf(job);
    if (paced) sentAt = performance.now();
    const final = TERMINAL.has(job.state);
    if (final) stop();
    out.send(job, final);
  };
  const offer = (job: JobResource) => {
    if (done || job.updated_at_ms < lastUpdated) return; // an older read than what was sent
    latest = job;
    if (!read) return; // the first read sends the newer of it and this
    if (TERMINAL.has(job.state)) return flush();
    if (timer) return; // the latest goes when the interval since the last send ends
    const wait = sentAt + deps.minIntervalMs - performance.now();
    if (wait <= 0) return flush();
    timer = setTimeout(flush, wait);
  };
  // Subscribed before the first read: a change between the two is not lost (an older read is dropped by offer).
  const off = deps.jobs?.watch((j) => {
    if (j.id === id) offer(jobResource(j));
  });
  deps.read().then(
    (job) => {
      read = true;
      if (!done && (latest === null || job.updated_at_ms >= latest.updated_at_ms)) latest = job;
      flush(false);
    },
    (err) => {
      if (done) return;
      stop();
      out.fail(err);
    },
  );
  return stop;
}

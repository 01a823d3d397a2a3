/**
 * Which queued job runs next: the highest effective priority, where waiting raises a job's priority by one every
 * agingMs (so a steady stream of high priorities cannot starve a low one forever), then the earliest queued (FIFO
 * within a priority), then the id (a total order: every process picks the same job from the same store).
 * A pure function of the records and the time, so it is tested alone.
 */
import type { Job } from '../../schemas/jobs.js';

export function effectivePriority(job: Pick<Job, 'priority' | 'queuedAt'>, now: number, agingMs: number): number {
  return job.priority + Math.floor(Math.max(0, now - job.queuedAt) / agingMs);
}

/** `candidates` sorted: the one to run first, first. */
export function runOrder<J extends Pick<Job, 'id' | 'priority' | 'queuedAt'>>(candidates: J[], now: number, agingMs: number): J[] {
  return candidates
    .map((j) => ({ j, p: effectivePriority(j, now, agingMs) }))
    .sort((a, b) => b.p - a.p || a.j.queuedAt - b.j.queuedAt || (a.j.id < b.j.id ? -1 : a.j.id > b.j.id ? 1 : 0))
    .map((x) => x.j);
}

/**
 * Which queued job runs next: the highest effective priority, where waiting raises a job's priority by one every
 * agingMs (so a steady stream of high priorities cannot starve a low one forever), then the earliest queued (FIFO
 * within a priority), then the id (a total order: every process picks the same job from the same store).
 * Pure (records and time in, order out), so it is tested alone.
 */
import type { Job } from '../../schemas/jobs.js';

export function effectivePriority(job: Pick<Job, 'priority' | 'queuedAt'>, now: number, agingMs: number): number {
  return job.priority + Math.floor(Math.max(0, now - job.queuedAt) / agingMs);
}

export interface QueueEntry {
  id: string;
  state: Job['state'];
  priority: number;
  queuedAt: number;
  notBefore: number;
  leaseExpiresAt: number;
}

/**
 * The scheduler's view of the active jobs, kept so that picking the next job does not look at every waiting job:
 * queued jobs in one FIFO per priority (ageing raises a whole FIFO alike, so its head is always its best), plus the
 * few that wait on a clock (retrying after a backoff, running under another process's lease) in a list of their own.
 * A pick compares at most one head per priority (≤ 201) and that list.
 */
export class RunQueue {
  private readonly fifos = new Map<number, Map<string, QueueEntry>>();
  private readonly timed = new Map<string, QueueEntry>();
  private readonly where = new Map<string, Map<string, QueueEntry>>();

  get size(): number {
    return this.where.size;
  }

  /** Replaces everything (a poll of the store): FIFOs ordered by queuedAt, then id. */
  rebuild(entries: Iterable<QueueEntry>): void {
    this.fifos.clear();
    this.timed.clear();
    this.where.clear();
    const sorted = [...entries].sort((a, b) => a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const e of sorted) this.set(e);
  }

  /**
   * Adds or updates a job (a queued job re-added goes to the back of its FIFO, as its queuedAt is its latest). The
   * same entry again (a change read back from the store's log) keeps its place.
   */
  set(e: QueueEntry): void {
    const known = this.where.get(e.id)?.get(e.id);
    if (
      known &&
      known.state === e.state &&
      known.priority === e.priority &&
      known.queuedAt === e.queuedAt &&
      known.notBefore === e.notBefore &&
      known.leaseExpiresAt === e.leaseExpiresAt
    )
      return;
    this.delete(e.id);
    let home: Map<string, QueueEntry>;
    if (e.state === 'queued') {
      home = this.fifos.get(e.priority) ?? new Map();
      this.fifos.set(e.priority, home);
    } else {
      home = this.timed;
    }
    home.set(e.id, e);
    this.where.set(e.id, home);
  }

  delete(id: string): void {
    const home = this.where.get(id);
    if (!home) return;
    home.delete(id);
    this.where.delete(id);
  }

  /**
   * Takes (removes) up to `n` jobs ready now, best first; `ready` decides for the timed ones. `here` (default: all)
   * leaves jobs this process cannot run where they are: a FIFO's first job it can run is considered, not its head.
   */
  take(
    n: number,
    now: number,
    agingMs: number,
    ready: (e: QueueEntry) => boolean,
    here: (id: string) => boolean = () => true,
  ): QueueEntry[] {
    const out: QueueEntry[] = [];
    while (out.length < n) {
      let best: QueueEntry | undefined;
      let bestP = -Infinity;
      const consider = (e: QueueEntry) => {
        const p = effectivePriority(e, now, agingMs);
        if (
          !best ||
          p > bestP ||
          (p === bestP && (e.queuedAt < best.queuedAt || (e.queuedAt === best.queuedAt && e.id < best.id)))
        ) {
          best = e;
          bestP = p;
        }
      };
      for (const fifo of this.fifos.values()) {
        for (const e of fifo.values()) {
          if (!here(e.id)) continue;
          consider(e);
          break;
        }
      }
      for (const e of this.timed.values()) if (ready(e) && here(e.id)) consider(e);
      if (!best) break;
      out.push(best);
      this.delete((best as QueueEntry).id);
    }
    return out;
  }
}

/**
 * This process's copy of the work in PostgreSQL, what the store's synchronous reads answer from. It takes each
 * record's versions by revision (`rev`, counted up by every write of the record, inside its transaction) and keeps a
 * version only if it is newer than the one it has: so this process's own commits (applied as they are acknowledged)
 * and the follower's read of the same events (later) can arrive in any order and still leave the newest.
 */
import type { Feedback } from '../../../schemas/feedback.js';
import type { Goal } from '../../../schemas/goals.js';
import { isTerminal, type Job } from '../../../schemas/jobs.js';
import { jobKey, ownerKey } from '../keys.js';
import { summaryOf, type JobSummary } from '../work-store.js';

interface Versioned<T> {
  rev: number;
  value: T;
}

export class Replica {
  readonly jobs = new Map<string, Versioned<Job>>();
  readonly keys = new Map<string, string>();
  readonly active = new Map<string, JobSummary>();
  readonly goals = new Map<string, Versioned<Goal>>();
  /** owner + NUL + request_id → goal id (every version carries its creation's key). */
  readonly goalKeys = new Map<string, string>();
  /** Every version of each goal, by rev (its history). */
  readonly goalVersions = new Map<string, Map<number, Goal>>();
  /** By id: feedback ids are time-ordered, so id order is recording order. */
  readonly feedback = new Map<string, Feedback>();
  /** owner + NUL + idempotency_key → feedback id. */
  readonly feedbackKeys = new Map<string, string>();

  /** True when this version was newer than what was here (and is now the job's record). */
  putJob(job: Job, rev: number): boolean {
    const cur = this.jobs.get(job.id);
    if (cur && cur.rev >= rev) return false;
    this.jobs.set(job.id, { rev, value: job });
    if (job.requestId !== undefined) this.keys.set(jobKey(job.owner, job.requestId), job.id);
    if (isTerminal(job.state)) this.active.delete(job.id);
    else this.active.set(job.id, summaryOf(job));
    return true;
  }

  putGoal(goal: Goal, rev: number): boolean {
    let versions = this.goalVersions.get(goal.id);
    if (!versions) this.goalVersions.set(goal.id, (versions = new Map()));
    versions.set(rev, goal);
    if (goal.requestId !== undefined) this.goalKeys.set(ownerKey(goal.owner, goal.requestId), goal.id);
    const cur = this.goals.get(goal.id);
    if (cur && cur.rev >= rev) return false;
    this.goals.set(goal.id, { rev, value: goal });
    return true;
  }

  putFeedback(f: Feedback): boolean {
    if (this.feedback.has(f.id)) return false;
    this.feedback.set(f.id, f);
    if (f.idempotencyKey !== undefined) this.feedbackKeys.set(ownerKey(f.owner, f.idempotencyKey), f.id);
    return true;
  }

  goalHistory(id: string): Goal[] {
    const v = this.goalVersions.get(id);
    return v ? [...v.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g) : [];
  }

  feedbackInOrder(): Feedback[] {
    return [...this.feedback.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

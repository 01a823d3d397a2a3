/**
 * The store of the work a fleet shares: jobs (with their active index and leases), goals, feedback (each with their
 * idempotency keys) and the event log of their changes. Two implementations with one contract (test/store/work-store-contract.ts):
 * LMDB (src/store/store.ts, the embedded default: one host) and PostgreSQL (src/store/postgres/, many hosts). The
 * model catalog and aliases describe one host's disk and devices: they stay in the host's LMDB store whatever this is.
 *
 * Reads are synchronous: the actors decide inside receive() from what the store has. A write resolves once committed
 * (acknowledged means durable); `change` callbacks see the committed record inside the write transaction, and a
 * record in a terminal state is never changed there, whoever asks. After a write resolves, this process's reads see
 * it; other processes' writes are seen by reads once they reach this process (at once on LMDB, within the follower's
 * lag on PostgreSQL) and are told by jobChangesSince.
 */
import type { Feedback } from '../../schemas/feedback.js';
import type { Goal } from '../../schemas/goals.js';
import type { Job } from '../../schemas/jobs.js';

/** What a scheduler reads of an active job: enough to order and claim it without decoding the record. */
export interface JobSummary {
  state: Job['state'];
  priority: number;
  queuedAt: number;
  notBefore: number;
  leaseExpiresAt: number;
}
export const summaryOf = (j: Job): JobSummary => ({
  state: j.state,
  priority: j.priority,
  queuedAt: j.queuedAt,
  notBefore: j.notBefore,
  leaseExpiresAt: j.lease?.expiresAt ?? 0,
});

export interface WorkStore {
  // ---- jobs ----
  getJob(id: string): Job | undefined;
  /** The job an owner submitted under this request_id (idempotency key), if any. */
  jobByRequestId(owner: string, requestId: string): Job | undefined;
  listJobs(): Job[];
  /** Jobs not yet ended (queued, running, retrying), by id, as summaries. */
  activeJobs(): Map<string, JobSummary>;
  /**
   * A new job, acknowledged once committed. The same owner and request id as an earlier submit store nothing and
   * return the first job (`created: false`), decided inside the write transaction: two concurrent submits of one key,
   * from any processes, make one job.
   */
  submitJob(job: Job): Promise<{ job: Job; created: boolean }>;
  /** `change` sees the committed job and returns the next (null: leave it); a terminal job is never changed. */
  updateJob(id: string, change: (current: Job) => Job | null): Promise<Job | null>;
  /** From now on, jobChangesSince leaves out the changes this store object committed (its writer knows them). */
  noteOwnWrites(): void;
  /** Where a reader of job changes starts (jobChangesSince). */
  lastEventSeq(): number;
  /** The job records changed after position `seq`, in the log's order, and the position read up to. */
  jobChangesSince(seq: number): { seq: number; jobs: Job[] };
  /**
   * Told when other processes' job changes have arrived (jobChangesSince has them now), if the store hears of them
   * before its reader asks: PostgreSQL's follower does (NOTIFY); LMDB's readers find them only by asking. Returns
   * the unsubscribe.
   */
  onJobChanges(listener: () => void): () => void;

  // ---- goals ----
  getGoal(id: string): Goal | undefined;
  listGoals(): Goal[];
  /** The goal an owner created under this request_id (idempotency key), if any. */
  goalByRequestId(owner: string, requestId: string): Goal | undefined;
  /**
   * A new goal, acknowledged once committed. Keyed (goal.requestId) as submitJob is: the same owner and key as an
   * earlier creation store nothing and return the first goal as it is now (`created: false`), decided inside the
   * write transaction.
   */
  createGoal(goal: Goal): Promise<{ goal: Goal; created: boolean }>;
  /** As updateJob: a goal in a terminal state is never changed. */
  updateGoal(id: string, change: (current: Goal) => Goal | null): Promise<Goal | null>;
  /** Every committed version of a goal, oldest first. */
  goalHistory(id: string): Goal[];

  // ---- feedback ----
  /** The feedback an owner recorded under this idempotency key, if any. */
  feedbackByKey(owner: string, key: string): Feedback | undefined;
  /** As createGoal, keyed by f.idempotencyKey: the same owner and key return the first record (`created: false`). */
  recordFeedback(f: Feedback): Promise<{ feedback: Feedback; created: boolean }>;
  /** Every feedback record, in recording order. */
  listFeedback(): Feedback[];
  feedbackCount(): number;
}

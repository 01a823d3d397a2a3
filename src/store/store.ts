/**
 * The one store: LMDB (lmdb-js) in the data directory. A write resolves only after its transaction committed, so a
 * client is acknowledged only for what survives kill -9. Each change and its event-log record commit together.
 * lmdb-js batches concurrent transactions into one commit, which is what makes awaiting each write affordable.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { CatalogEntry, StoreEvent } from '../../schemas/catalog.js';
import { isTerminal, type Job } from '../../schemas/jobs.js';
import { isTerminalGoal, type Goal } from '../../schemas/goals.js';
import type { Feedback } from '../../schemas/feedback.js';
import { summaryOf, type JobSummary, type WorkStore } from './work-store.js';
import { jobKey, ownerKey } from './keys.js';

export { summaryOf, type JobSummary } from './work-store.js';
export { jobKey, ownerKey } from './keys.js';

/** The tables of one environment, by name: what replay rebuilds and the checksum covers (src/store/replay.ts). */
export interface Tables {
  models: Database<CatalogEntry, string>;
  aliases: Database<string, string>;
  jobs: Database<Job, string>;
  /** owner + NUL + request_id → job id: an idempotent submit finds the first one. */
  jobKeys: Database<string, string>;
  /** The jobs not in a terminal state, as the scheduler needs them (never the whole history, never whole records). */
  jobsActive: Database<JobSummary, string>;
  goals: Database<Goal, string>;
  /** owner + NUL + request_id → goal id: an idempotent creation finds the first goal. */
  goalKeys: Database<string, string>;
  /** Feedback records, by id (time-ordered ids: a range read is in recording order). */
  feedback: Database<Feedback, string>;
  /** owner + NUL + idempotency_key → feedback id. */
  feedbackKeys: Database<string, string>;
}

/** The host's LMDB store: its model catalog and aliases, and (the embedded default) the fleet's work (WorkStore). */
export class Store implements WorkStore {
  /**
   * Sequence numbers of the events this Store committed that jobChangesSince has not passed yet: this process knows
   * those changes already, so a reader of the log skips them without decoding them.
   */
  private readonly committed = new Set<number>();
  /** Set by noteOwnWrites: only then is `committed` kept (jobChangesSince empties it; nothing else would). */
  private trackingOwn = false;
  /** Told how long each write waited for its commit (seconds): the metrics' commit histogram. */
  onCommit: ((seconds: number) => void) | null = null;
  /** The last sequence number this Store appended: a hint for the next (appendEvent checks it inside the transaction). */
  private lastSeq = 0;

  private constructor(
    private readonly root: RootDatabase,
    readonly tables: Tables,
    private readonly events: Database<StoreEvent, number>,
  ) {}

  static open(dataDir: string): Store {
    mkdirSync(dataDir, { recursive: true });
    const root = open({ path: path.join(dataDir, 'moc.lmdb'), maxDbs: 16 });
    // Reader slots held by processes that died (kill -9) are freed, or they would pin old pages forever.
    root.readerCheck();
    return new Store(root, openTables(root), root.openDB<StoreEvent, number>({ name: 'events' }));
  }

  private get models() {
    return this.tables.models;
  }
  private get aliases() {
    return this.tables.aliases;
  }

  listModels(): CatalogEntry[] {
    return [...this.models.getRange()].map((e) => e.value);
  }
  getModel(name: string): CatalogEntry | undefined {
    return this.models.get(name);
  }
  listAliases(): [string, string][] {
    return [...this.aliases.getRange()].map((e) => [e.key, e.value]);
  }

  /**
   * Upsert a catalog entry. Resolves false, with nothing written, when the name is an alias: models and aliases
   * share one namespace, and only a check inside the write transaction holds against a concurrent setAlias.
   */
  putModel(entry: CatalogEntry): Promise<boolean> {
    return this.write(() => {
      if (this.aliases.get(entry.name) !== undefined) return null;
      this.models.put(entry.name, entry);
      return { type: 'model.registered', at: Date.now(), entry };
    });
  }

  /**
   * Point an alias at a model. Resolves false, with nothing written, when the alias is a model name or the target
   * is not a model (checked inside the write transaction, as putModel does).
   */
  setAlias(alias: string, target: string): Promise<boolean> {
    return this.write(() => {
      if (this.models.get(alias) !== undefined || this.models.get(target) === undefined) return null;
      const previous = this.aliases.get(alias) ?? null;
      this.aliases.put(alias, target);
      return { type: 'alias.set', at: Date.now(), alias, target, previous };
    });
  }

  // ---- jobs ----

  getJob(id: string): Job | undefined {
    return this.tables.jobs.get(id);
  }
  /** The job an owner submitted under this request_id (idempotency key), if any. */
  jobByRequestId(owner: string, requestId: string): Job | undefined {
    const id = this.tables.jobKeys.get(jobKey(owner, requestId));
    return id === undefined ? undefined : this.tables.jobs.get(id);
  }
  listJobs(): Job[] {
    return [...this.tables.jobs.getRange()].map((e) => e.value);
  }
  /** Jobs not yet ended (queued, running, retrying), by id, as summaries. */
  activeJobs(): Map<string, JobSummary> {
    return new Map([...this.tables.jobsActive.getRange()].map((e) => [e.key, e.value]));
  }

  /**
   * Store a new job, acknowledged once committed. An idempotent submit (same owner and request id as an earlier
   * one) stores nothing and returns the first job: checked inside the write transaction, so two concurrent submits
   * of one request id (also from two processes) make one job.
   */
  async submitJob(job: Job): Promise<{ job: Job; created: boolean }> {
    let found: Job | undefined;
    await this.write(() => {
      if (job.requestId !== undefined) {
        const id = this.tables.jobKeys.get(jobKey(job.owner, job.requestId));
        found = id === undefined ? undefined : this.tables.jobs.get(id);
        if (found) return null;
        this.tables.jobKeys.put(jobKey(job.owner, job.requestId), job.id);
      }
      putJob(this.tables, job);
      return { type: 'job.submitted', at: job.createdAt, job };
    });
    return found ? { job: found, created: false } : { job, created: true };
  }

  /**
   * Change a job in one write transaction: `change` sees the committed record and returns the next one, or null to
   * leave it. A job in a terminal state is never changed (null without calling `change`), whoever asks: that rule
   * lives here, inside the transaction, so no race between processes can overwrite a terminal state.
   */
  updateJob(id: string, change: (current: Job) => Job | null): Promise<Job | null> {
    return this.update(
      this.tables.jobs,
      id,
      (j) => isTerminal(j.state),
      change,
      (next) => {
        putJob(this.tables, next);
        return { type: 'job.updated', at: next.updatedAt, job: next };
      },
    );
  }

  /** From now on, jobChangesSince leaves out the events this Store commits (their writer knows them already). */
  noteOwnWrites(): void {
    this.trackingOwn = true;
  }

  /** Another process's commits to this LMDB environment are found only by reading the log (jobChangesSince). */
  onJobChanges(_listener: () => void): () => void {
    return () => {};
  }

  /** The event log's last sequence number (0 when empty): where a reader of job changes starts (jobChangesSince). */
  lastEventSeq(): number {
    return [...this.events.getKeys({ reverse: true, limit: 1 })][0] ?? 0;
  }

  /**
   * The job records of the events after `seq`, in commit order, with the last sequence read: what every process on
   * this data directory changed since, read in O(changes) rather than by re-reading every active job. After
   * noteOwnWrites, the events this Store committed itself are left out, undecoded: other processes' changes only.
   */
  jobChangesSince(seq: number): { seq: number; jobs: Job[] } {
    const jobs: Job[] = [];
    let last = seq;
    for (const key of this.events.getKeys({ start: seq + 1 })) {
      last = key;
      if (this.committed.delete(key)) continue;
      const value = this.events.get(key);
      if (value?.type === 'job.submitted' || value?.type === 'job.updated') jobs.push(value.job);
    }
    // One committed but noted after a read passed it (its answer came after the read): it will never be read again.
    for (const s of this.committed) if (s <= last) this.committed.delete(s);
    return { seq: last, jobs };
  }

  // ---- goals ----

  getGoal(id: string): Goal | undefined {
    return this.tables.goals.get(id);
  }
  listGoals(): Goal[] {
    return [...this.tables.goals.getRange()].map((e) => e.value);
  }

  goalByRequestId(owner: string, requestId: string): Goal | undefined {
    const id = this.tables.goalKeys.get(ownerKey(owner, requestId));
    return id === undefined ? undefined : this.tables.goals.get(id);
  }

  /** A new goal, acknowledged once committed; a keyed one as submitJob (the key checked inside the transaction). */
  async createGoal(goal: Goal): Promise<{ goal: Goal; created: boolean }> {
    let found: Goal | undefined;
    await this.write(() => {
      if (goal.requestId !== undefined) {
        const key = ownerKey(goal.owner, goal.requestId);
        const id = this.tables.goalKeys.get(key);
        found = id === undefined ? undefined : this.tables.goals.get(id);
        if (found) return null;
        this.tables.goalKeys.put(key, goal.id);
      }
      this.tables.goals.put(goal.id, goal);
      return { type: 'goal.changed', at: goal.createdAt, goal };
    });
    return found ? { goal: found, created: false } : { goal, created: true };
  }

  /** As updateJob: `change` sees the committed goal; a goal in a terminal state is never changed. */
  updateGoal(id: string, change: (current: Goal) => Goal | null): Promise<Goal | null> {
    return this.update(
      this.tables.goals,
      id,
      (g) => isTerminalGoal(g.state),
      change,
      (next) => {
        this.tables.goals.put(id, next);
        return { type: 'goal.changed', at: next.updatedAt, goal: next };
      },
    );
  }

  /** A goal's history: every committed version of it, oldest first (from the event log). */
  goalHistory(id: string): Goal[] {
    const out: Goal[] = [];
    for (const { value } of this.events.getRange())
      if (value.type === 'goal.changed' && value.goal.id === id) out.push(value.goal);
    return out;
  }

  // ---- feedback ----

  feedbackByKey(owner: string, key: string): Feedback | undefined {
    const id = this.tables.feedbackKeys.get(ownerKey(owner, key));
    return id === undefined ? undefined : this.tables.feedback.get(id);
  }

  /** A feedback record, acknowledged once committed; a keyed one as submitJob (the key checked inside the transaction). */
  async recordFeedback(f: Feedback): Promise<{ feedback: Feedback; created: boolean }> {
    let found: Feedback | undefined;
    await this.write(() => {
      if (f.idempotencyKey !== undefined) {
        const key = ownerKey(f.owner, f.idempotencyKey);
        const id = this.tables.feedbackKeys.get(key);
        found = id === undefined ? undefined : this.tables.feedback.get(id);
        if (found) return null;
        this.tables.feedbackKeys.put(key, f.id);
      }
      this.tables.feedback.put(f.id, f);
      return { type: 'feedback.recorded', at: f.at, feedback: f };
    });
    return found ? { feedback: found, created: false } : { feedback: f, created: true };
  }

  /** How many feedback records there are (a goal plan's feedback trigger counts them). */
  feedbackCount(): number {
    return this.tables.feedback.getCount();
  }

  /** Every feedback record, in recording order. */
  listFeedback(): Feedback[] {
    return [...this.tables.feedback.getRange()].map((e) => e.value);
  }

  /** The event log in order, for audits and rebuilds. */
  readEvents(fromSeq = 0): { seq: number; event: StoreEvent }[] {
    return [...this.events.getRange({ start: fromSeq })].map((e) => ({ seq: e.key, event: e.value }));
  }

  /**
   * One record changed in one write transaction: `change` sees the committed record and returns the next one (null:
   * leave it); `final` records are never changed, whoever asks (checked here, inside the transaction, so no race
   * between processes can overwrite a terminal state); `put` writes it and names its event.
   */
  private async update<T>(
    table: Database<T, string>,
    id: string,
    final: (t: T) => boolean,
    change: (current: T) => T | null,
    put: (next: T) => StoreEvent,
  ): Promise<T | null> {
    let next: T | null = null;
    await this.write(() => {
      const current = table.get(id);
      if (current === undefined || final(current)) return null;
      next = change(current);
      return next === null ? null : put(next);
    });
    return next;
  }

  /**
   * Apply a change and append its event in one transaction; resolves once committed to disk: true, or false when
   * the change refused itself (returned null) and nothing was written.
   */
  private async write(change: () => StoreEvent | null): Promise<boolean> {
    let seq = 0;
    const started = performance.now();
    const wrote = await this.root.transaction(() => {
      const event = change();
      if (!event) return false;
      seq = appendEvent(this.events, event, this.lastSeq);
      this.lastSeq = seq;
      return true;
    });
    this.onCommit?.((performance.now() - started) / 1000);
    if (wrote && this.trackingOwn) this.committed.add(seq);
    return wrote;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

/** A job record and its place in the active index (inside a write transaction; replay applies the same). */
export function putJob(t: Tables, job: Job): void {
  t.jobs.put(job.id, job);
  if (isTerminal(job.state)) t.jobsActive.remove(job.id);
  else t.jobsActive.put(job.id, summaryOf(job));
}

export function openTables(root: RootDatabase): Tables {
  return {
    models: root.openDB<CatalogEntry, string>({ name: 'models' }),
    aliases: root.openDB<string, string>({ name: 'aliases' }),
    jobs: root.openDB<Job, string>({ name: 'jobs' }),
    jobKeys: root.openDB<string, string>({ name: 'job-keys' }),
    jobsActive: root.openDB<JobSummary, string>({ name: 'jobs-active' }),
    goals: root.openDB<Goal, string>({ name: 'goals' }),
    goalKeys: root.openDB<string, string>({ name: 'goal-keys' }),
    feedback: root.openDB<Feedback, string>({ name: 'feedback' }),
    feedbackKeys: root.openDB<string, string>({ name: 'feedback-keys' }),
  };
}

/**
 * Inside a write transaction: the next sequence number is decided there, and LMDB serializes writers across
 * processes. `hint` (the last number this writer appended) is taken when it is still the log's end — it exists and
 * nothing follows it, two point reads — and otherwise (another process appended since, or an aborted transaction
 * left the hint ahead) the end is found with a cursor. Point reads are what makes a batch of submits cheaper.
 */
export function appendEvent(events: Database<StoreEvent, number>, event: StoreEvent, hint = 0): number {
  const seq =
    hint > 0 && events.doesExist(hint) && !events.doesExist(hint + 1)
      ? hint + 1
      : ([...events.getKeys({ reverse: true, limit: 1 })][0] ?? 0) + 1;
  events.put(seq, event);
  return seq;
}

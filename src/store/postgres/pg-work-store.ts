/**
 * The work store on PostgreSQL (store.kind: postgres): jobs, goals, feedback and their event log shared by every MOC
 * host pointing at one database. Each write is one transaction — the record locked (FOR UPDATE), `change` applied to
 * the committed record, the record and its event written — acknowledged after COMMIT (synchronous_commit on: after
 * the WAL flush). Reads answer from this process's replica (replica.ts), which takes this process's commits as they
 * are acknowledged and everyone's from the event log, read by a follower: on NOTIFY (a hint, never the data) and
 * every `pollMs` whatever happens, so a lost notification or connection delays a change, never loses it.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Feedback } from '../../../schemas/feedback.js';
import { isTerminalGoal, type Goal } from '../../../schemas/goals.js';
import { isTerminal, type Job } from '../../../schemas/jobs.js';
import { errors, MocError } from '../../errors.js';
import { jobKey, ownerKey } from '../keys.js';
import type { JobSummary, WorkStore } from '../work-store.js';
import { Replica } from './replica.js';
import { DDL, FOLLOW } from './schema.js';
import { SUBMIT_MANY, SubmitBatcher } from './submit-batch.js';

export interface PgWorkStoreOptions {
  /** postgres://user:password@host:port/db */
  url: string;
  /** Connections in the pool (writes in flight at once). */
  poolSize?: number;
  /** The follower reads the log at least this often (a NOTIFY makes it read at once). */
  pollMs?: number;
  /** Told when the follower cannot read (the database unreachable): once per outage, and when it is back. */
  onFollowerError?: (err: Error | null) => void;
}

type EventKind = 'job' | 'goal' | 'feedback';
const CHANNEL = 'moc_events';
const FOLLOW_BATCH = 5000;
/**
 * Between back-to-back hints sent, and back-to-back reads of the log: a quiet fleet's change is told and read at once;
 * a busy one's are told and read together, one NOTIFY and one read per host at most every HINT_GAP_MS rather than one
 * per commit. Three hosts each NOTIFYing every commit spent more of PostgreSQL's CPU on hints and reads than on
 * submits. Chosen on two cores with three hosts under perf:jobs --store postgres's load (re-measure by changing this
 * and running it): 10 ms gave 1,000–1,360 submits/s, 25 ms 1,300–1,800, 50 ms 1,400–1,550, two or three runs each,
 * noisy; 25 ms, the most a busy host's change waits to be read elsewhere beyond the read.
 */
const HINT_GAP_MS = 25;
const gap = () => new Promise<void>((r) => setTimeout(r, HINT_GAP_MS));
/**
 * Submit statements in flight at once, per host. The submits that arrive while one commits form the next. Chosen on
 * two cores with three hosts under perf:jobs --store postgres's load (re-measure by changing this and running it): one
 * at a time gave 5–20 % more submits/s than two and ~30 % more than four (fewer, larger commits cost PostgreSQL less);
 * a lone submit waits at most for one commit ahead.
 */
const SUBMIT_STATEMENTS = 1;

/**
 * The hint, in a transaction of its own that commits without waiting for its flush (a lost hint costs a poll). Not
 * in the write's transaction: PostgreSQL serialises the commits of every transaction that notifies (a database-wide
 * lock held through the WAL flush), which capped a whole fleet's writes at one flush at a time.
 */
const NOTIFY = `SELECT set_config('synchronous_commit', 'off', true), pg_notify('${CHANNEL}', $1)`;

/** The URL without its password, to name the database in errors and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an invalid URL)';
  }
}

export class PgWorkStore implements WorkStore {
  private readonly replica = new Replica();
  /** Other processes' job changes the follower applied, for jobChangesSince, by local position. */
  private changes: { pos: number; job: Job }[] = [];
  private pos = 0;
  private readonly changeListeners = new Set<() => void>();
  /** Names this store object in the hints it sends (NOTIFY's payload). */
  private readonly me = randomUUID();
  private cursor = { xid: '0', seq: '0' };
  private following: Promise<void> | null = null;
  private followAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private listener: pg.Client | null = null;
  private closed = false;
  private failing = false;
  /** Why the database did not answer last (a read of the log or a write), '' once one succeeded since. */
  private lastFailure = '';
  private notifying = false;
  private notifyAgain = false;
  /** Submits in flight are written together (submit-batch.ts), one statement at a time. */
  private readonly submits: SubmitBatcher;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly o: PgWorkStoreOptions,
  ) {
    this.submits = new SubmitBatcher(
      async (json) => (await this.query(SUBMIT_MANY, [json])).rows.map((r) => r.id as string),
      SUBMIT_STATEMENTS,
    );
  }

  /**
   * Connects, creates the tables if missing, loads the replica and starts following. Unreachable: a MocError naming
   * the URL (password hidden) and the cause.
   */
  static async open(o: PgWorkStoreOptions): Promise<PgWorkStore> {
    const pool = new pg.Pool({
      connectionString: o.url,
      max: o.poolSize ?? 10,
      // Acknowledged means durable: commit waits for the WAL flush whatever the server's default.
      options: '-c synchronous_commit=on',
      connectionTimeoutMillis: 5000,
    });
    // An idle connection that breaks is dropped by the pool; the next query opens another.
    pool.on('error', () => {});
    const store = new PgWorkStore(pool, o);
    try {
      await store.pool.query(DDL);
      await store.load();
    } catch (err) {
      await pool.end().catch(() => {});
      throw unreachable(o.url, err);
    }
    store.timer = setInterval(() => store.follow(), o.pollMs ?? 1000);
    store.timer.unref();
    void store.listen();
    return store;
  }

  /** Everything as of one snapshot, and the cursor from which the follower takes over. */
  private async load(): Promise<void> {
    const c = await this.pool.connect();
    const onError = () => {};
    c.on('error', onError);
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const snap = await c.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
      for (const r of (await c.query('SELECT rev::text AS rev, body FROM moc_jobs')).rows)
        this.replica.putJob(r.body as Job, Number(r.rev));
      for (const r of (await c.query(`SELECT rev::text AS rev, body FROM moc_events WHERE kind = 'goal'`)).rows)
        this.replica.putGoal(r.body as Goal, Number(r.rev));
      for (const r of (await c.query('SELECT body FROM moc_feedback')).rows)
        this.replica.putFeedback(r.body as Feedback);
      await c.query('COMMIT');
      // Transactions from xmin on may have committed after this snapshot's view of the tables: their events are read
      // again by the follower (a version already here is kept, not told twice).
      const xmin = BigInt(snap.rows[0]!.xmin);
      this.cursor = { xid: String(xmin > 0n ? xmin - 1n : 0n), seq: '9223372036854775807' };
    } finally {
      c.off('error', onError);
      c.release();
    }
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.o.url });
    // Its own hints (the payload names the sender) tell it nothing: its commits are in its replica already.
    client.on('notification', (n) => {
      if (n.payload !== this.me) void this.follow();
    });
    client.on('error', () => {
      // A listener that dies is replaced; the poll covers the gap (a NOTIFY is only a hint).
      if (this.listener === client) this.listener = null;
      client.end().catch(() => {});
      if (!this.closed) setTimeout(() => void this.listen(), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.closed) return void client.end().catch(() => {});
      this.listener = client;
    } catch {
      client.end().catch(() => {});
      if (!this.closed) setTimeout(() => void this.listen(), 1000).unref();
    }
  }

  /**
   * Read the log from the cursor: one read at a time; calls during one make one more read after it, HINT_GAP_MS
   * later (on a busy fleet hints come hundreds a second, and one read takes everything committed since the last).
   * Resolves once a read that started after the call has ended.
   */
  follow(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.following) {
      this.followAgain = true;
      // The read in progress may have started before this call's commits: the answer is the read after it, which its
      // end starts (followAgain) and which sees everything committed before this call.
      return this.following.then(() => this.following ?? undefined);
    }
    this.following = (async () => {
      const before = this.pos;
      try {
        for (let more = true; more && !this.closed; ) {
          const r = await this.pool.query(FOLLOW, [this.cursor.xid, this.cursor.seq, FOLLOW_BATCH]);
          for (const e of r.rows) this.applyFollowed(e.kind as EventKind, e.body, Number(e.rev));
          const last = r.rows.at(-1);
          if (last) this.cursor = { xid: last.xid, seq: last.seq };
          more = r.rows.length === FOLLOW_BATCH;
        }
        this.lastFailure = '';
        if (this.failing) {
          this.failing = false;
          this.o.onFollowerError?.(null);
        }
      } catch (err) {
        this.lastFailure = (err as Error).message;
        if (!this.failing) {
          this.failing = true;
          this.o.onFollowerError?.(err as Error);
        }
      }
      // Told even when the read failed part way: what it applied is in the replica.
      if (this.pos !== before) this.tellChanges();
      if (this.followAgain && !this.closed) await gap();
    })().finally(() => {
      this.following = null;
      if (this.followAgain) {
        this.followAgain = false;
        void this.follow();
      }
    });
    return this.following;
  }

  private applyFollowed(kind: EventKind, body: unknown, rev: number): void {
    if (kind === 'job') this.takeJob(body as Job, rev);
    else if (kind === 'goal') this.replica.putGoal(body as Goal, rev);
    else this.replica.putFeedback(body as Feedback);
  }

  /** Another process's version of a job, if newer than the replica's: kept, and told to jobChangesSince's reader. */
  private takeJob(job: Job, rev: number): boolean {
    if (!this.replica.putJob(job, rev)) return false;
    this.changes.push({ pos: ++this.pos, job });
    return true;
  }

  /**
   * Tells the other hosts' followers to read now, after a commit: one NOTIFY in flight at a time, and one more
   * HINT_GAP_MS after it when commits were acknowledged meanwhile (sent after them, so it covers them). A hint only:
   * the poll reads anyway.
   */
  private notify(): void {
    if (this.closed) return;
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    this.pool
      .query(NOTIFY, [this.me])
      .catch(() => {})
      .then(() => (this.notifyAgain && !this.closed ? gap() : undefined))
      .finally(() => {
        this.notifying = false;
        if (this.notifyAgain) {
          this.notifyAgain = false;
          this.notify();
        }
      });
  }

  // ---- jobs ----

  getJob(id: string): Job | undefined {
    return this.replica.jobs.get(id)?.value;
  }
  jobByRequestId(owner: string, requestId: string): Job | undefined {
    const id = this.replica.keys.get(jobKey(owner, requestId));
    return id === undefined ? undefined : this.getJob(id);
  }
  listJobs(): Job[] {
    return [...this.replica.jobs.values()].map((v) => v.value).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  activeJobs(): Map<string, JobSummary> {
    return new Map(this.replica.active);
  }

  /**
   * Written with the other submits in flight in one statement (submit-batch.ts): the job inserted unless its key is
   * taken, its event only if it was; the NOTIFY after (notify()). A taken key (by a commit this insert waited for, if
   * it was concurrent, or by a job of the same batch) is answered with the first job, read after the commit.
   */
  async submitJob(job: Job): Promise<{ job: Job; created: boolean }> {
    if (this.closed) throw errors.unavailable('the work store is closed');
    if (await this.submits.submit(job)) {
      this.replica.putJob(job, 1);
      this.notify();
      return { job, created: true };
    }
    const first = await this.query('SELECT rev::text AS rev, body FROM moc_jobs WHERE owner = $1 AND request_id = $2', [
      job.owner,
      job.requestId,
    ]);
    const row = first.rows[0];
    if (!row) throw errors.unavailable(`job ${job.id} was neither inserted nor found by its key: retry`);
    this.replica.putJob(row.body as Job, Number(row.rev));
    return { job: row.body as Job, created: false };
  }

  updateJob(id: string, change: (current: Job) => Job | null): Promise<Job | null> {
    return this.update(
      'moc_jobs',
      'job',
      id,
      (j: Job) => isTerminal(j.state),
      change,
      (j, rev) => this.replica.putJob(j, rev),
      (j, rev) => {
        if (this.takeJob(j, rev)) this.tellChanges();
      },
    );
  }

  noteOwnWrites(): void {
    // Nothing to note: this process's commits are in the replica before the follower reads them, so the follower
    // never tells them (a version it already has is not a change).
  }
  lastEventSeq(): number {
    return this.pos;
  }
  jobChangesSince(seq: number): { seq: number; jobs: Job[] } {
    const jobs = this.changes.filter((c) => c.pos > seq).map((c) => c.job);
    this.changes = this.changes.filter((c) => c.pos > this.pos);
    return { seq: this.pos, jobs };
  }

  /**
   * A listener only posts a message (the Jobs actor's); one that throws must not stop the follower, whose promise the
   * poll timer does not await: its error would end the process.
   */
  private tellChanges(): void {
    for (const l of this.changeListeners) {
      try {
        l();
      } catch (err) {
        this.o.onFollowerError?.(err as Error);
      }
    }
  }

  onJobChanges(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  // ---- goals ----

  getGoal(id: string): Goal | undefined {
    return this.replica.goals.get(id)?.value;
  }
  listGoals(): Goal[] {
    return [...this.replica.goals.values()].map((v) => v.value).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  goalByRequestId(owner: string, requestId: string): Goal | undefined {
    const id = this.replica.goalKeys.get(ownerKey(owner, requestId));
    return id === undefined ? undefined : this.getGoal(id);
  }
  /** Inserted with its event unless its key is taken (insertKeyed): then the first goal, nothing written. */
  async createGoal(goal: Goal): Promise<{ goal: Goal; created: boolean }> {
    const first = await this.tx(async (c) => {
      const taken = await insertKeyed(
        c,
        'INSERT INTO moc_goals (id, owner, request_id, rev, body) VALUES ($1, $2, $3, 1, $4)',
        'ON CONFLICT (owner, request_id) WHERE request_id IS NOT NULL DO NOTHING',
        'SELECT rev::text AS rev, body FROM moc_goals WHERE owner = $1 AND request_id = $2',
        [goal.id, goal.owner, goal.requestId ?? null, goal],
      );
      if (taken) return { write: null, result: taken };
      return { write: { kind: 'goal' as const, id: goal.id, rev: 1, body: goal }, result: null };
    });
    if (first) {
      this.replica.putGoal(first.body as Goal, Number(first.rev));
      return { goal: first.body as Goal, created: false };
    }
    this.replica.putGoal(goal, 1);
    return { goal, created: true };
  }
  updateGoal(id: string, change: (current: Goal) => Goal | null): Promise<Goal | null> {
    return this.update(
      'moc_goals',
      'goal',
      id,
      (g: Goal) => isTerminalGoal(g.state),
      change,
      (g, rev) => this.replica.putGoal(g, rev),
      (g, rev) => this.replica.putGoal(g, rev),
    );
  }
  goalHistory(id: string): Goal[] {
    return this.replica.goalHistory(id);
  }

  // ---- feedback ----

  feedbackByKey(owner: string, key: string): Feedback | undefined {
    const id = this.replica.feedbackKeys.get(ownerKey(owner, key));
    return id === undefined ? undefined : this.replica.feedback.get(id);
  }
  /** As createGoal, keyed by idempotency_key. */
  async recordFeedback(f: Feedback): Promise<{ feedback: Feedback; created: boolean }> {
    const first = await this.tx(async (c) => {
      const taken = await insertKeyed(
        c,
        'INSERT INTO moc_feedback (id, owner, idempotency_key, body) VALUES ($1, $2, $3, $4)',
        'ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING',
        'SELECT body FROM moc_feedback WHERE owner = $1 AND idempotency_key = $2',
        [f.id, f.owner, f.idempotencyKey ?? null, f],
      );
      if (taken) return { write: null, result: taken };
      return { write: { kind: 'feedback' as const, id: f.id, rev: 1, body: f }, result: null };
    });
    if (first) {
      this.replica.putFeedback(first.body as Feedback);
      return { feedback: first.body as Feedback, created: false };
    }
    this.replica.putFeedback(f);
    return { feedback: f, created: true };
  }
  listFeedback(): Feedback[] {
    return this.replica.feedbackInOrder();
  }
  feedbackCount(): number {
    return this.replica.feedback.size;
  }

  // ---- transactions ----

  /** One record changed in one transaction (locked, changed, its event appended); terminal records never change. */
  private async update<T>(
    table: 'moc_jobs' | 'moc_goals',
    kind: EventKind,
    id: string,
    final: (t: T) => boolean,
    change: (current: T) => T | null,
    applied: (next: T, rev: number) => void,
    /** The committed version, read under the lock, when nothing was written (another process's, maybe newer). */
    seenOnly: (current: T, rev: number) => void,
  ): Promise<T | null> {
    // The committed version read under the lock is news too when nothing is written: the replica takes it (a newer
    // rev only), so what this process answers next — "fenced: lost to B" — is said from the record it just saw, not
    // from a version the follower has not replaced yet.
    let seen: { body: T; rev: number } | undefined;
    const out = await this.tx(async (c) => {
      const r = await c.query(`SELECT rev::text AS rev, body FROM ${table} WHERE id = $1 FOR UPDATE`, [id]);
      const row = r.rows[0];
      if (row) seen = { body: row.body as T, rev: Number(row.rev) };
      if (!row || final(row.body as T)) return { write: null, result: null };
      const next = change(row.body as T);
      if (next === null) return { write: null, result: null };
      const rev = Number(row.rev) + 1;
      await c.query(`UPDATE ${table} SET rev = $2, body = $3 WHERE id = $1`, [id, rev, next]);
      return { write: { kind, id, rev, body: next }, result: { next, rev } };
    });
    if (!out) {
      if (seen) seenOnly(seen.body, seen.rev);
      return null;
    }
    applied(out.next, out.rev);
    return out.next;
  }

  /**
   * BEGIN, `body` (which says what event to append, or null for none: then it rolls back), the event, COMMIT, then
   * the NOTIFY (notify(): outside, or every notifying write of the fleet would commit one at a time). A connection error is a retryable MOC_ERR_UNAVAILABLE; a MocError from `body` passes as it is.
   */
  private async tx<R>(
    body: (
      c: pg.PoolClient,
    ) => Promise<{ write: { kind: EventKind; id: string; rev: number; body: unknown } | null; result: R }>,
  ): Promise<R> {
    if (this.closed) throw errors.unavailable('the work store is closed');
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      this.lastFailure = (err as Error).message;
      throw unreachable(this.o.url, err);
    }
    let broken: Error | undefined;
    // A connection cut while checked out emits 'error' on the client (the pool listens only to idle ones): the query
    // in flight rejects with it, which is what we act on; unheard, the event would crash the process.
    const onError = (err: Error) => {
      broken = err;
    };
    c.on('error', onError);
    try {
      await c.query('BEGIN');
      const { write, result } = await body(c);
      if (!write) {
        await c.query('ROLLBACK');
        return result;
      }
      await c.query('INSERT INTO moc_events (kind, id, rev, body) VALUES ($1, $2, $3, $4)', [
        write.kind,
        write.id,
        write.rev,
        write.body,
      ]);
      await c.query('COMMIT');
      this.lastFailure = '';
      this.notify();
      return result;
    } catch (err) {
      if (err instanceof MocError) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      }
      broken = err as Error;
      this.lastFailure = broken.message;
      await c.query('ROLLBACK').catch(() => {});
      throw unreachable(this.o.url, err);
    } finally {
      c.off('error', onError);
      c.release(broken);
    }
  }

  /** For readiness: whether the database answered the last read or write, and if not, why (password hidden). */
  health(): { reachable: boolean; reason: string } {
    return this.lastFailure
      ? { reachable: false, reason: `PostgreSQL at ${redactUrl(this.o.url)} did not answer: ${this.lastFailure}` }
      : { reachable: true, reason: '' };
  }

  /** A query on the store's pool (the fleet registry's): a failure is a retryable MOC_ERR_UNAVAILABLE naming the URL. */
  async query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> {
    try {
      const r = await this.pool.query(sql, params);
      this.lastFailure = '';
      return r;
    } catch (err) {
      this.lastFailure = (err as Error).message;
      throw unreachable(this.o.url, err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.following;
    this.closed = true;
    this.submits.refuseQueued(errors.unavailable('the work store is closed'));
    clearInterval(this.timer);
    await this.listener?.end().catch(() => {});
    await this.pool.end().catch(() => {});
  }
}

/**
 * Inside a write transaction: `insert` (params: id, owner, key, …) with `onConflict` on the (owner, key) unique index.
 * Null when the row went in; when the key was taken, the row holding it, read by `select` (params: owner, key). The
 * insert waits for a concurrent holder of the key to commit or roll back; the select, a statement of its own (READ
 * COMMITTED), sees that commit. Found neither way (the holder gone since): a retryable MOC_ERR_UNAVAILABLE.
 */
async function insertKeyed(
  c: pg.PoolClient,
  insert: string,
  onConflict: string,
  select: string,
  params: [id: string, owner: string, key: string | null, ...rest: unknown[]],
): Promise<Record<string, unknown> | null> {
  const [id, owner, key] = params;
  const r = await c.query(`${insert} ${onConflict} RETURNING id`, params);
  if (r.rows.length > 0) return null;
  const first = (await c.query(select, [owner, key])).rows[0] as Record<string, unknown> | undefined;
  if (!first) throw errors.unavailable(`${id} was neither inserted nor found by its key: retry`);
  return first;
}

/**
 * What a failed connection or query says to the client: retryable, naming the database without its password. (A
 * query error that is not about the connection — a bug of ours — says so too: the write did not happen either way.)
 */
function unreachable(url: string, err: unknown): MocError {
  const why = (err as Error)?.message ?? String(err);
  return errors.unavailable(`the work store (PostgreSQL at ${redactUrl(url)}) did not answer: ${why}`);
}

/**
 * Goals actor (main thread): what agents and operators want a model to reach, linked to the jobs that work on it.
 * A goal's state follows its linked jobs and its deadline (deriveGoal, actors/goals/derive.ts); the store is the truth
 * and refuses, inside its write transaction, to change a goal that has ended (achieved, failed, cancelled), so an ended
 * goal is never overwritten, whoever asks.
 *
 * As in the Jobs actor, state changes only in receive(): store writes are promises whose results come back as
 * messages to self (LocalActor.inbox). What this actor holds is an index, rebuilt from the store at bind: the goals
 * that have not ended, by linked job (a job change re-derives only the goals linking that job), and one deadline timer
 * per goal that has a deadline. Each write re-derives inside the write transaction from the committed records, so two
 * writes of one goal never undo each other.
 *
 * A goal with a plan (actors/goals/plan.ts) is also driven: its steps are submitted as jobs through the Jobs actor
 * (keyed, so a restart submits nothing twice), linked to the goal, and its attempts recorded in the goal. What moves a
 * plan on: a linked job's change, a write of the goal, and a one-second tick while a plan waits on feedback or a
 * schedule (it also sees feedback and jobs other processes record). One plan operation per goal at a time.
 */
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  isTerminalGoal,
  type CreateGoalRequest,
  type Goal,
  type ListGoalsRequest,
  type UpdateGoalRequest,
} from '../../schemas/goals.js';
import { isTerminal, JOB_SPECS, type Job, type SubmitJobRequest } from '../../schemas/jobs.js';
import { errors, toMocError, type MocError } from '../../src/errors.js';
import { validate } from '../../src/validate.js';
import { differingKeys, fieldDigests } from '../../src/canonical-json.js';
import type { ActorRef, Behavior, Envelope } from '../../src/kernel/types.js';
import type { WorkStore } from '../../src/store/work-store.js';
import { deriveGoal, type DerivedGoal } from './derive.js';
import { applyPlan, endAttempt, initialPlanState, planAction, runningAttempt, stepRequest } from './plan.js';
import { replyAs } from '../../src/kernel/reply.js';

export type GoalsProtocol = {
  create: { req: { kind: 'create'; request: CreateGoalRequest; owner: string }; reply: Goal };
  get: { req: { kind: 'get'; id: string }; reply: Goal };
  list: { req: { kind: 'list'; request: ListGoalsRequest }; reply: Goal[] };
  update: { req: { kind: 'update'; request: UpdateGoalRequest }; reply: Goal };
  cancel: { req: { kind: 'cancel'; id: string }; reply: Goal };
  history: { req: { kind: 'history'; id: string }; reply: Goal[] };
};

/** Where a write's answer goes once the actor has taken the written goal in (an envelope of create, update, cancel). */
interface GoalAnswer {
  reply(goal: Goal): void;
  fail(err: MocError | unknown): void;
}

/** What the actor sends itself. */
export type GoalsInbox = {
  /** A job changed (from the jobs watch): re-derive the goals linking it. */
  'job-changed': { req: { kind: 'job-changed'; job: Job }; reply: void };
  /** A goal's deadline timer fired (or its capped delay ran out: it is re-armed). */
  deadline: { req: { kind: 'deadline'; id: string }; reply: void };
  /** Re-derive every goal that has not ended (at bind: jobs may have ended while this process was down). */
  sweep: { req: { kind: 'sweep' }; reply: void };
  /**
   * A write of goal `id` finished: `goal` is what it wrote, null when it wrote nothing (no change, or the goal had
   * ended meanwhile). The index is updated from the store, watchers hear of the change, then `answer` gets the goal.
   */
  written: { req: { kind: 'written'; id: string; goal: Goal | null; answer?: GoalAnswer }; reply: void };
  /**
   * Graceful stop (before the store closes): stop following jobs and deadlines, answer once no write is in flight.
   * The owner asks it, then closes the actor.
   */
  shutdown: { req: { kind: 'shutdown' }; reply: void };
  /**
   * A plan operation of goal `id` finished: `goal` is what it wrote (null: nothing); `retry`, it failed for a reason
   * that may pass (the Jobs actor busy, a store error): tried again in a second.
   */
  planned: { req: { kind: 'planned'; id: string; goal: Goal | null; retry: boolean }; reply: void };
  /** Every second while a plan waits on a trigger: start the attempts that came due. */
  'plan-tick': { req: { kind: 'plan-tick' }; reply: void };
};
export type GoalsMessages = GoalsProtocol & GoalsInbox;

/** The jobs this actor follows: the Jobs actor's watch (null when jobs are disabled). */
export interface JobsSource {
  watch(listener: (j: Job) => void): () => void;
}

/** What a plan needs beyond the store: the Jobs actor, to submit its steps and cancel a step of a goal that ended. */
export interface PlanPort {
  submit(request: SubmitJobRequest, owner: string): Promise<Job>;
  cancel(id: string): Promise<unknown>;
}

/** How often a waiting plan looks at its trigger; a retried plan operation waits as long. */
const PLAN_TICK_MS = 1000;

/** setTimeout's longest delay; a later deadline is reached through re-armed timers. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_LIST_LIMIT = 100;

export class Goals implements Behavior<GoalsMessages> {
  private self!: ActorRef<GoalsMessages>;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  /** Job id → ids of the goals (not ended) linking it. */
  private readonly byJob = new Map<string, Set<string>>();
  /** Goal id → the jobs it links, as indexed (to take it out of byJob when its links change). */
  private readonly links = new Map<string, string[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly watchers = new Set<(g: Goal) => void>();
  /** A message to self was refused (internal queue full): a sweep is scheduled to catch up. */
  private sweepScheduled: NodeJS.Timeout | undefined;
  /** Writes in flight: a shutdown answers only after them. */
  private writing = 0;
  /** Shutdown asked: who waits for the writes in flight; no new job, deadline or sweep write starts. */
  private stopping: Array<Envelope<GoalsMessages, 'shutdown'>> | null = null;
  /** Goals with a plan that have not ended. */
  private readonly plans = new Set<string>();
  /** Goals whose plan operation is in flight: the next waits for its result. */
  private readonly advancing = new Set<string>();
  private planTimer: NodeJS.Timeout | undefined;

  private sweeper: NodeJS.Timeout | undefined;

  /**
   * `sweepMs` > 0 (a store shared by a fleet): every so often the goals are read again, so goals other hosts created
   * are followed here too (their writes are conditional on the committed goal: a change is derived once, whoever sees
   * it first).
   */
  constructor(
    private readonly store: WorkStore,
    private readonly jobs: JobsSource | null,
    private readonly planPort: PlanPort | null = null,
    private readonly sweepMs = 0,
  ) {}

  bind(self: ActorRef<GoalsMessages>): void {
    this.self = self;
    for (const g of this.store.listGoals()) this.index(g);
    // Catch up first (jobs that ended while this process was down), then follow the changes.
    this.post({ kind: 'sweep' });
    this.unsubscribe = this.jobs?.watch((job) => this.post({ kind: 'job-changed', job })) ?? null;
    if (this.sweepMs > 0) {
      this.sweeper = setInterval(() => this.post({ kind: 'sweep' }), this.sweepMs);
      this.sweeper.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.sweepScheduled);
    clearInterval(this.planTimer);
    clearInterval(this.sweeper);
  }

  /** Every change of a goal this process writes, as it happens. Returns the unsubscribe function. */
  watch(listener: (g: Goal) => void): () => void {
    this.watchers.add(listener);
    return () => {
      this.watchers.delete(listener);
    };
  }

  receive(env: Envelope<GoalsMessages>): void {
    const msg = env.msg;
    switch (msg.kind) {
      case 'create':
        return this.create(env as Envelope<GoalsMessages, 'create'>);
      case 'get':
        return replyAs(env, 'get', this.find(msg.id));
      case 'list':
        return replyAs(env, 'list', this.list(msg.request));
      case 'update':
        return this.update(env as Envelope<GoalsMessages, 'update'>);
      case 'cancel':
        return this.cancel(env as Envelope<GoalsMessages, 'cancel'>);
      case 'history':
        this.find(msg.id);
        return replyAs(env, 'history', this.store.goalHistory(msg.id));
      case 'job-changed':
        return this.jobChanged(msg.job);
      case 'deadline':
        return this.deadlineDue(msg.id);
      case 'sweep':
        return this.sweep();
      case 'written':
        return this.written(msg.id, msg.goal, msg.answer);
      case 'shutdown':
        return this.shutdown(env as Envelope<GoalsMessages, 'shutdown'>);
      case 'planned':
        return this.planned(msg.id, msg.goal, msg.retry);
      case 'plan-tick':
        for (const id of this.plans) this.advance(id);
        return;
      default:
        throw new Error(`goals: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  // ---- requests ----

  private create(env: Envelope<GoalsMessages, 'create'>): void {
    const { request: r, owner } = env.msg;
    const key = r.request_id;
    const digests = fieldDigests(createdFields(r));
    // A retry is answered from the store before the checks: a job it linked may be gone since, its deadline passed.
    const first = key === undefined ? undefined : this.store.goalByRequestId(owner, key);
    if (key !== undefined && first) return answerRetry(env, key, first, digests);
    const jobs = this.checkJobs('jobs', r.jobs ?? []);
    if (r.plan) this.checkPlan(r);
    const now = Date.now();
    const base: Goal = {
      id: `goal-${now.toString(36)}-${randomBytes(6).toString('hex')}`,
      title: r.title,
      description: r.description ?? '',
      priority: r.priority ?? 0,
      owner,
      state: 'pending',
      jobs: unique(jobs),
      ...(r.criterion ? { criterion: r.criterion } : {}),
      deadlineMs: this.checkDeadline(r.deadline_ms ?? 0, now),
      ...(r.plan ? { plan: r.plan, planState: initialPlanState(r.plan, this.store.feedbackCount(), now) } : {}),
      createdAt: now,
      updatedAt: now,
      endedAt: 0,
      reason: '',
      ...(key !== undefined ? { requestId: key, requestDigests: digests } : {}),
    };
    const goal = withDerived(base, this.derive(base, now), now);
    // The key taken meanwhile (a concurrent creation, here or on another host): answered as a retry, nothing written.
    let retried = false;
    const write = this.store.createGoal(goal).then(({ goal: stored, created }) => {
      if (created) return stored;
      retried = true;
      answerRetry(env, key!, stored, digests);
      return null;
    });
    this.write(goal.id, write, {
      reply: (g) => {
        if (!retried) env.reply(g);
      },
      fail: (err) => {
        if (!retried) env.fail(err);
      },
    });
  }

  private find(id: string): Goal {
    const goal = this.store.getGoal(id);
    if (!goal) throw errors.goalNotFound(id);
    return goal;
  }

  /** By priority (highest first), then oldest first; `limit` (default 100) after the state filter. */
  private list(r: ListGoalsRequest): Goal[] {
    return this.store
      .listGoals()
      .filter((g) => r.state === undefined || g.state === r.state)
      .sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, r.limit ?? DEFAULT_LIST_LIMIT);
  }

  /**
   * Change what a goal asks for or which jobs it links, then re-derive its state; inside the write transaction, on
   * the committed goal. A goal that has ended is answered as it is (never overwritten).
   */
  private update(env: Envelope<GoalsMessages, 'update'>): void {
    const r = env.msg.request;
    const goal = this.find(r.id);
    // Refused, not answered as it is: a 200 with the old fields would say the change was taken (issue 24, item 8).
    if (isTerminalGoal(goal.state)) throw errors.goalEnded(goal.id, goal.state);
    this.checkJobs('link_jobs', r.link_jobs ?? []);
    if (r.run && !goal.plan) throw errors.invalidArgument('run', `goal ${goal.id} has no plan to run`);
    const now = Date.now();
    if (r.deadline_ms !== undefined && r.deadline_ms !== goal.deadlineMs) this.checkDeadline(r.deadline_ms, now);
    const write = this.store.updateGoal(r.id, (cur) => {
      const unlink = new Set(r.unlink_jobs ?? []);
      const changed: Goal = {
        ...cur,
        ...(r.title !== undefined ? { title: r.title } : {}),
        ...(r.description !== undefined ? { description: r.description } : {}),
        ...(r.priority !== undefined ? { priority: r.priority } : {}),
        ...(r.criterion !== undefined ? { criterion: r.criterion } : {}),
        ...(r.deadline_ms !== undefined ? { deadlineMs: r.deadline_ms } : {}),
        jobs: unique([...cur.jobs, ...(r.link_jobs ?? [])]).filter((id) => !unlink.has(id)),
        ...(r.run && cur.planState ? { planState: { ...cur.planState, runRequested: true } } : {}),
      };
      const next = withDerived(changed, this.derive(changed, now), now);
      return sameGoal(cur, next) ? null : next;
    });
    this.write(r.id, write, env);
  }

  /** Cancelled at once; a goal that has ended is answered as it is. Its jobs are left alone (cancel them with CancelJob). */
  private cancel(env: Envelope<GoalsMessages, 'cancel'>): void {
    const goal = this.find(env.msg.id);
    if (isTerminalGoal(goal.state)) return env.reply(goal);
    const now = Date.now();
    const write = this.store.updateGoal(goal.id, (cur) => {
      const next = withDerived(cur, { state: 'cancelled', reason: 'cancelled', endedAt: now }, now);
      delete next.achievedBy;
      return next;
    });
    this.write(goal.id, write, env);
  }

  // ---- following jobs and deadlines ----

  private jobChanged(job: Job): void {
    if (this.stopping) return;
    const ids = this.byJob.get(job.id);
    if (!ids) return;
    for (const id of [...ids]) {
      this.rederive(id);
      if (this.plans.has(id)) this.advance(id);
    }
  }

  private deadlineDue(id: string): void {
    this.timers.delete(id);
    if (this.stopping) return;
    const goal = this.store.getGoal(id);
    if (!goal || isTerminalGoal(goal.state)) return this.unindex(id);
    // Not yet (a capped delay, or a clock that moved): wait again.
    if (goal.deadlineMs > 0 && Date.now() < goal.deadlineMs) return this.arm(goal);
    this.rederive(id);
  }

  private sweep(): void {
    this.sweepScheduled = undefined;
    if (this.stopping) return;
    for (const g of this.store.listGoals()) {
      this.index(g);
      if (!isTerminalGoal(g.state)) this.rederive(g.id);
      // A plan resumes where its goal's record says (a step submitted but not recorded is submitted again: its key
      // returns the same job); and a goal that ended while a step ran stops that step.
      if (g.plan) this.advance(g.id);
      if (isTerminalGoal(g.state)) this.stopPlanJob(g);
    }
  }

  // ---- plans ----

  /** Carry out what the plan of goal `id` calls for now, if anything; its result comes back as `planned`. */
  private advance(id: string): void {
    if (this.stopping || this.stopped || !this.planPort || this.advancing.has(id)) return;
    const goal = this.store.getGoal(id);
    if (!goal?.plan || isTerminalGoal(goal.state)) return;
    const getJob = (j: string) => this.store.getJob(j);
    const now = Date.now();
    const action = planAction(goal, getJob, this.store.feedbackCount(), now);
    if (action.kind === 'wait') return;
    const apply = (result?: { jobId?: string; failure?: string }) =>
      this.store.updateGoal(id, (cur) => {
        const at = { now: Date.now(), feedbackCount: this.store.feedbackCount(), getJob };
        const next = applyPlan(cur, action, at, result);
        return next && withDerived(next, this.derive(next, at.now), at.now);
      });
    let write: Promise<Goal | null>;
    if (action.kind === 'submit') {
      const port = this.planPort;
      write = port.submit(stepRequest(goal, action.attempt, action.step), goal.owner).then(
        (job) => apply({ jobId: job.id }),
        (err) => {
          const e = toMocError(err);
          // Refused for good (a spec this server cannot run, an output that exists): the attempt ends, saying why.
          if (e.spec.retryable) throw e;
          const type = goal.plan!.steps[action.step]!.type;
          return apply({ failure: `step ${action.step + 1} (${type}) was refused: ${e.code}: ${e.message}` });
        },
      );
    } else {
      write = apply();
    }
    this.advancing.add(id);
    this.writing++;
    write.then(
      (g) => this.post({ kind: 'planned', id, goal: g, retry: false }),
      () => this.post({ kind: 'planned', id, goal: null, retry: true }),
    );
  }

  private planned(id: string, goal: Goal | null, retry: boolean): void {
    this.writing--;
    this.advancing.delete(id);
    const current = this.store.getGoal(id);
    if (current) this.index(current);
    else this.unindex(id);
    if (goal) this.emit(goal);
    if (current && isTerminalGoal(current.state)) this.stopPlanJob(current);
    this.settleShutdown();
    // A step taken: look again at once (the next may be due). Nothing written, or a failure: the tick looks again.
    if (goal && !retry) this.advance(id);
  }

  /** A goal that ended while a step of its plan ran: that job is cancelled (the plan's jobs are the goal's). */
  private stopPlanJob(goal: Goal): void {
    const run = runningAttempt(goal.planState);
    const id = run?.jobs[run.step];
    if (!this.planPort || id === undefined) return;
    const job = this.store.getJob(id);
    if (job && !isTerminal(job.state) && !job.cancelRequested) this.planPort.cancel(id).catch(() => {});
  }

  /** A plan's steps must be jobs this server could take: their specs are checked now (with attempt 1's values). */
  private checkPlan(r: CreateGoalRequest): void {
    if (!this.planPort)
      throw errors.invalidArgument('plan', 'jobs are disabled on this server (jobs.enabled): no plan can run');
    const probe = { id: 'goal-probe', plan: r.plan, priority: 0 } as Goal;
    r.plan!.steps.forEach((_, i) => {
      const req = stepRequest(probe, 1, i);
      try {
        validate(JOB_SPECS[req.type], req.spec);
      } catch (err) {
        const e = toMocError(err);
        const field = typeof e.details.field === 'string' && e.details.field !== 'request' ? `.${e.details.field}` : '';
        throw errors.invalidArgument(`plan.steps[${i}].spec${field}`, e.message.replace(/^[^:]*: /, ''));
      }
    });
  }

  /**
   * Derive the goal from the store as it is; write only when its state or reason would change (a progress report of a
   * running job costs no write transaction). The write derives again on the committed records.
   */
  private rederive(id: string): void {
    const goal = this.store.getGoal(id);
    if (!goal || isTerminalGoal(goal.state)) return this.unindex(id);
    const d = this.derive(goal, Date.now());
    if (d.state === goal.state && d.reason === goal.reason) return;
    const write = this.store.updateGoal(id, (cur) => {
      const now = Date.now();
      const next = this.derive(cur, now);
      return next.state === cur.state && next.reason === cur.reason ? null : withDerived(cur, next, now);
    });
    this.write(id, write);
  }

  // ---- writes and the index ----

  /** A write in flight: its result comes back as a `written` message; a failed write is answered at once. */
  private write(id: string, write: Promise<Goal | null>, answer?: GoalAnswer): void {
    this.writing++;
    write.then(
      (goal) => this.post({ kind: 'written', id, goal, ...(answer ? { answer } : {}) }, answer),
      (err) => {
        answer?.fail(err);
        this.post({ kind: 'written', id, goal: null });
      },
    );
  }

  private written(id: string, goal: Goal | null, answer?: GoalAnswer): void {
    this.writing--;
    const current = this.store.getGoal(id);
    if (current) this.index(current);
    else this.unindex(id);
    if (goal) this.emit(goal);
    if (answer) {
      if (current) answer.reply(goal ?? current);
      else answer.fail(errors.goalNotFound(id));
    }
    if (current?.plan) {
      if (isTerminalGoal(current.state)) this.stopPlanJob(current);
      else this.advance(id);
    }
    this.settleShutdown();
  }

  private shutdown(env: Envelope<GoalsMessages, 'shutdown'>): void {
    (this.stopping ??= []).push(env);
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.planTimer);
    this.planTimer = undefined;
    clearInterval(this.sweeper);
    this.settleShutdown();
  }

  private settleShutdown(): void {
    if (!this.stopping || this.writing > 0) return;
    for (const env of this.stopping.splice(0)) env.reply(undefined);
  }

  /** Follow a goal that has not ended (its links and its deadline); forget one that has. */
  private index(goal: Goal): void {
    if (isTerminalGoal(goal.state)) return this.unindex(goal.id);
    if (goal.plan) this.followPlan(goal.id);
    const before = this.links.get(goal.id) ?? [];
    if (before.length !== goal.jobs.length || before.some((j, i) => j !== goal.jobs[i])) {
      this.unlinkAll(goal.id);
      for (const j of goal.jobs) {
        let set = this.byJob.get(j);
        if (!set) this.byJob.set(j, (set = new Set()));
        set.add(goal.id);
      }
      this.links.set(goal.id, [...goal.jobs]);
    }
    this.arm(goal);
  }

  /** The tick runs while some plan has not ended. */
  private followPlan(id: string): void {
    this.plans.add(id);
    if (this.planTimer || this.stopped || this.stopping || !this.planPort) return;
    this.planTimer = setInterval(() => this.post({ kind: 'plan-tick' }), PLAN_TICK_MS);
    this.planTimer.unref();
  }

  private unindex(id: string): void {
    this.plans.delete(id);
    if (this.plans.size === 0) {
      clearInterval(this.planTimer);
      this.planTimer = undefined;
    }
    this.unlinkAll(id);
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  private unlinkAll(id: string): void {
    for (const j of this.links.get(id) ?? []) {
      const set = this.byJob.get(j);
      set?.delete(id);
      if (set && set.size === 0) this.byJob.delete(j);
    }
    this.links.delete(id);
  }

  /** One timer per goal with a deadline: capped at setTimeout's range and re-armed when it fires early. */
  private arm(goal: Goal): void {
    clearTimeout(this.timers.get(goal.id));
    this.timers.delete(goal.id);
    if (this.stopped || this.stopping || goal.deadlineMs <= 0 || isTerminalGoal(goal.state)) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, goal.deadlineMs - Date.now()));
    const timer = setTimeout(() => this.post({ kind: 'deadline', id: goal.id }), delay);
    timer.unref();
    this.timers.set(goal.id, timer);
  }

  // ---- helpers ----

  private derive(goal: Goal, now: number): DerivedGoal {
    return deriveGoal(
      goal,
      goal.jobs.map((id) => this.store.getJob(id)),
      now,
    );
  }

  /** Linked job ids must name jobs the store has. */
  private checkJobs(field: string, ids: string[]): string[] {
    ids.forEach((id, i) => {
      if (!this.store.getJob(id))
        throw errors.invalidArgument(`${field}[${i}]`, `job '${id}' does not exist; ListJobs shows the ones that do`);
    });
    return ids;
  }

  /** A deadline already past would fail the goal at once: refused, so a clock or unit mistake (s for ms) shows. */
  private checkDeadline(ms: number, now: number): number {
    if (ms > 0 && ms <= now) {
      throw errors.invalidArgument(
        'deadline_ms',
        `${new Date(ms).toISOString()} has passed; give a later time in epoch milliseconds, or 0 for none`,
      );
    }
    return ms;
  }

  private emit(g: Goal): void {
    for (const w of this.watchers) {
      try {
        w(g);
      } catch {
        /* a listener's bug is its own */
      }
    }
  }

  /**
   * Messages to self. Refused only when the actor is destroyed (nothing left to do) or its internal queue is full: a
   * job change or deadline lost that way is caught up by a sweep shortly after; a write's asker is told.
   */
  private post(msg: GoalsInbox[keyof GoalsInbox]['req'], answer?: GoalAnswer): void {
    try {
      this.self.tell(msg);
    } catch (err) {
      answer?.fail(err);
      if (!this.stopped && this.sweepScheduled === undefined) {
        this.sweepScheduled = setTimeout(() => {
          this.sweepScheduled = undefined;
          this.post({ kind: 'sweep' });
        }, 100);
        this.sweepScheduled.unref();
      }
    }
  }
}

/** The goal with its derived state; `updatedAt` is now when anything changed. */
function withDerived(goal: Goal, d: DerivedGoal, now: number): Goal {
  const next: Goal = { ...goal, state: d.state, reason: d.reason, endedAt: d.endedAt, updatedAt: now };
  if (d.achievedBy) next.achievedBy = d.achievedBy;
  else delete next.achievedBy;
  // Ending the goal ends the attempt under way in the same write (its running step is then cancelled).
  const run = isTerminalGoal(d.state) && runningAttempt(goal.planState);
  if (run) {
    const ps = structuredClone(goal.planState!);
    endAttempt(runningAttempt(ps)!, d.state === 'achieved' ? 'succeeded' : 'failed', `the goal ${d.state}`, now);
    next.planState = ps;
  }
  return next;
}

/** Equal but for updatedAt: an update that changes nothing writes no version. */
function sameGoal(a: Goal, b: Goal): boolean {
  return isDeepStrictEqual({ ...a, updatedAt: 0 }, { ...b, updatedAt: 0 });
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}

/** What a creation asks for, by the names a client sends them (defaults filled in): what a keyed retry must repeat. */
const createdFields = (r: CreateGoalRequest) => ({
  title: r.title,
  description: r.description ?? '',
  priority: r.priority ?? 0,
  criterion: r.criterion,
  deadline_ms: r.deadline_ms ?? 0,
  jobs: r.jobs ?? [],
  plan: r.plan,
});

/**
 * A creation whose key an earlier one took: that goal (as it is now) when this request is the same, field by field
 * (its digests); another request otherwise, refused naming what differs — answering the first goal would hide it.
 */
function answerRetry(env: GoalAnswer, key: string, first: Goal, digests: Record<string, string>): void {
  const differ = differingKeys(first.requestDigests ?? {}, digests);
  if (differ.length > 0) return env.fail(errors.requestIdReused(key, `goal ${first.id}`, differ, { goal: first.id }));
  env.reply(first);
}

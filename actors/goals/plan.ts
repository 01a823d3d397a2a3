/**
 * A goal's plan, decided as pure functions of the goal's record, its jobs' records, the feedback count and the clock:
 * the Goals actor carries out what planAction says, and each write applies the action again to the committed goal
 * (applyPlan), so a write of a stale decision — another process moved the plan on — changes nothing.
 *
 * An attempt runs the plan's steps in order, each as a job submitted with the key `plan:<goal>:<attempt>:<step>`
 * (an idempotent submit): a process that stops between the submit and the goal's write submits again on restart and
 * gets the same job back — no step runs twice. docs/jobs.md, "Goals that act".
 */
import {
  PLAN_DEFAULT_ATTEMPTS,
  type Goal,
  type GoalPlan,
  type PlanAttempt,
  type PlanState,
  type PlanStep,
} from '../../schemas/goals.js';
import { isTerminal, type Job, type SubmitJobRequest } from '../../schemas/jobs.js';

export type PlanAction =
  /** Nothing to do until a job changes, a trigger comes due or someone asks. */
  | { kind: 'wait' }
  | { kind: 'start'; attempt: number }
  /** The step's job is not recorded in the goal: submit it (again: the key returns the job a first submit made). */
  | { kind: 'submit'; attempt: number; step: number }
  /** The step's job succeeded and a step follows. */
  | { kind: 'next'; attempt: number; step: number }
  | { kind: 'end'; attempt: number; outcome: 'succeeded' | 'failed'; reason: string };

export const budgetOf = (plan: GoalPlan) => plan.max_attempts ?? PLAN_DEFAULT_ATTEMPTS;

/** A new goal's plan state: what its trigger counts from. A demand trigger asks for the first attempt at once. */
export function initialPlanState(plan: GoalPlan, feedbackCount: number, now: number): PlanState {
  return { attempts: [], runRequested: plan.trigger.on === 'demand', feedbackMark: feedbackCount, markAt: now };
}

/** The attempt under way, if any (only the last can be). */
export function runningAttempt(ps: PlanState | undefined): PlanAttempt | undefined {
  const last = ps?.attempts.at(-1);
  return last?.outcome === 'running' ? last : undefined;
}

/** Whether the trigger says a new attempt may start now. */
export function triggerDue(plan: GoalPlan, ps: PlanState, feedbackCount: number, now: number): boolean {
  if (ps.runRequested) return true;
  const t = plan.trigger;
  if (t.on === 'feedback') return feedbackCount - ps.feedbackMark >= t.every;
  if (t.on === 'schedule') return now >= ps.markAt + t.every_ms;
  return false;
}

/** What the plan of a goal that has not ended should do next. */
export function planAction(
  goal: Goal,
  getJob: (id: string) => Job | undefined,
  feedbackCount: number,
  now: number,
): PlanAction {
  const plan = goal.plan;
  const ps = goal.planState;
  if (!plan || !ps) return { kind: 'wait' };
  const run = runningAttempt(ps);
  if (run) {
    const id = run.jobs[run.step];
    if (id === undefined) return { kind: 'submit', attempt: run.attempt, step: run.step };
    const job = getJob(id);
    if (!job || !isTerminal(job.state)) return { kind: 'wait' };
    const step = plan.steps[run.step]!;
    if (job.state === 'succeeded') {
      if (run.step + 1 < plan.steps.length) return { kind: 'next', attempt: run.attempt, step: run.step };
      return {
        kind: 'end',
        attempt: run.attempt,
        outcome: 'succeeded',
        reason: `its ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'} succeeded`,
      };
    }
    return {
      kind: 'end',
      attempt: run.attempt,
      outcome: 'failed',
      reason:
        `step ${run.step + 1} (${step.type}) job ${job.id} ${job.state}` +
        (job.error ? `: ${job.error.code}: ${job.error.message}` : ''),
    };
  }
  if (ps.attempts.length >= budgetOf(plan)) return { kind: 'wait' };
  if (triggerDue(plan, ps, feedbackCount, now)) return { kind: 'start', attempt: ps.attempts.length + 1 };
  return { kind: 'wait' };
}

const sameAction = (a: PlanAction, b: PlanAction) =>
  a.kind === b.kind &&
  (a.kind === 'wait' ||
    ((a as { attempt: number }).attempt === (b as { attempt: number }).attempt &&
      (a as { step?: number }).step === (b as { step?: number }).step));

/**
 * The goal after `action`, or null when the committed goal calls for another action (another process moved it on):
 * then nothing is written. `jobId` is the job a submit got back; `failure`, why a submit was refused for good (the
 * attempt ends failed).
 */
export function applyPlan(
  cur: Goal,
  action: Exclude<PlanAction, { kind: 'wait' }>,
  at: { now: number; feedbackCount: number; getJob: (id: string) => Job | undefined },
  result: { jobId?: string; failure?: string } = {},
): Goal | null {
  if (!sameAction(planAction(cur, at.getJob, at.feedbackCount, at.now), action)) return null;
  const ps = structuredClone(cur.planState!);
  const run = runningAttempt(ps);
  let jobs = cur.jobs;
  switch (action.kind) {
    case 'start':
      ps.attempts.push({
        attempt: action.attempt,
        startedAt: at.now,
        endedAt: 0,
        jobs: [],
        step: 0,
        outcome: 'running',
        reason: '',
      });
      ps.runRequested = false;
      ps.feedbackMark = at.feedbackCount;
      ps.markAt = at.now;
      break;
    case 'submit':
      if (result.failure !== undefined) {
        endAttempt(run!, 'failed', result.failure, at.now);
      } else {
        run!.jobs[action.step] = result.jobId!;
        if (!jobs.includes(result.jobId!)) jobs = [...jobs, result.jobId!];
      }
      break;
    case 'next':
      run!.step = action.step + 1;
      break;
    case 'end':
      endAttempt(run!, action.outcome, action.reason, at.now);
      break;
  }
  return { ...cur, jobs, planState: ps };
}

export function endAttempt(a: PlanAttempt, outcome: 'succeeded' | 'failed', reason: string, now: number): void {
  a.outcome = outcome;
  a.reason = reason;
  a.endedAt = now;
}

/** The job request of one step of one attempt: `{goal}` and `{attempt}` replaced in the spec's strings, keyed. */
export function stepRequest(goal: Goal, attempt: number, step: number): SubmitJobRequest {
  const s: PlanStep = goal.plan!.steps[step]!;
  return {
    type: s.type,
    spec: substitute(s.spec, { goal: goal.id, attempt: String(attempt) }) as Record<string, unknown>,
    priority: s.priority ?? goal.priority,
    ...(s.device !== undefined ? { device: s.device } : {}),
    ...(s.memory_bytes !== undefined ? { memory_bytes: s.memory_bytes } : {}),
    ...(s.max_attempts !== undefined ? { max_attempts: s.max_attempts } : {}),
    request_id: `plan:${goal.id}:${attempt}:${step}`,
  };
}

function substitute(v: unknown, vars: Record<string, string>): unknown {
  if (typeof v === 'string') return v.replace(/\{(goal|attempt)\}/g, (_, k: string) => vars[k]!);
  if (Array.isArray(v)) return v.map((x) => substitute(x, vars));
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, vars)]));
  return v;
}

/** How the plan stands, for a goal's reason while it has not ended (derive.ts). */
export function describePlan(goal: Goal): { state: 'active' | 'pending'; reason: string } | { exhausted: string } {
  const plan = goal.plan!;
  const ps = goal.planState!;
  const budget = budgetOf(plan);
  const run = runningAttempt(ps);
  if (run) {
    const step = plan.steps[run.step]!;
    const job = run.jobs[run.step];
    return {
      state: 'active',
      reason:
        `attempt ${run.attempt} of ${budget}: step ${run.step + 1} of ${plan.steps.length} (${step.type}` +
        `${job ? ` job ${job}` : ''})`,
    };
  }
  const last = ps.attempts.at(-1);
  const before = last ? `attempt ${last.attempt} ${last.outcome}: ${last.reason}; ` : '';
  if (ps.attempts.length >= budget) return { exhausted: `${before}no attempt is left of ${budget}` };
  const next = `attempt ${ps.attempts.length + 1} of ${budget}`;
  const t = plan.trigger;
  const when = ps.runRequested
    ? 'is asked for'
    : t.on === 'feedback'
      ? `starts after ${t.every} new feedback record${t.every === 1 ? '' : 's'} (counted from ${ps.feedbackMark})`
      : t.on === 'schedule'
        ? `starts at ${new Date(ps.markAt + t.every_ms).toISOString()}`
        : 'starts when asked (UpdateGoal run: true)';
  return { state: 'pending', reason: `${before}${next} ${when}` };
}

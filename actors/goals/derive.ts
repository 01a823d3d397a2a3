/**
 * A goal's state, derived from its linked jobs and the clock: a pure function, so the Goals actor, a replay or a test
 * get the same answer from the same records.
 *
 *   cancelled, achieved, failed  stay as they are (terminal: never derived again; the store refuses to change them)
 *   achieved  with a criterion: a linked job succeeded with outputs.metrics[metric] `op` value, by the deadline
 *             (achievedBy: the first such job by endedAt); without one: ≥ 1 linked job and all of them succeeded, the
 *             last by the deadline — or, with a plan, an attempt of the plan succeeded by the deadline
 *   failed    the deadline (deadlineMs > 0) has passed and it is not achieved; or every linked job has ended and none
 *             met (the reason says which job ended how) — with a plan: its last attempt ended and none is left
 *   active    a linked job is queued, running or retrying — with a plan: an attempt is running
 *   pending   no linked jobs, or linked ids this store does not know (yet) — with a plan: waiting for its trigger
 *
 * endedAt is `now` when the goal becomes terminal here: when it was seen to end (the jobs' own times are in their
 * records; achievedBy names the job).
 */
import type { Criterion, Goal } from '../../schemas/goals.js';
import { isTerminalGoal } from '../../schemas/goals.js';
import { isTerminal, type Job } from '../../schemas/jobs.js';
import { describePlan } from './plan.js';

export type DerivedGoal = Pick<Goal, 'state' | 'reason' | 'achievedBy' | 'endedAt'>;

const SYMBOL = { lte: '≤', gte: '≥', '<=': '≤', '>=': '≥' } as const;
/** How a criterion reads in a reason: `perplexity ≤ 20`. */
export const describeCriterion = (c: Criterion) => `${c.metric} ${SYMBOL[c.op]} ${c.value}`;

/** The job's value of the criterion's metric, when it reported a finite one. */
export function metricOf(job: Job, c: Criterion): number | undefined {
  const v = job.outputs?.metrics?.[c.metric];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Whether a succeeded job's metric meets the criterion. */
export function meets(job: Job, c: Criterion): boolean {
  if (job.state !== 'succeeded') return false;
  const v = metricOf(job, c);
  if (v === undefined) return false;
  return c.op === 'lte' || c.op === '<=' ? v <= c.value : v >= c.value;
}

/** At most `max` items, then how many more: keeps a reason to one readable line. */
function few(items: string[], max = 3): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The state a goal should be in now. `jobs` are the records of goal.jobs as the store has them (undefined for an id
 * it does not know); records of jobs the goal does not link are ignored.
 */
export function deriveGoal(goal: Goal, jobs: (Job | undefined)[], now: number): DerivedGoal {
  if (isTerminalGoal(goal.state)) {
    return {
      state: goal.state,
      reason: goal.reason,
      endedAt: goal.endedAt,
      ...(goal.achievedBy ? { achievedBy: goal.achievedBy } : {}),
    };
  }
  const linked = new Set(goal.jobs);
  const known = new Map<string, Job>();
  for (const j of jobs) if (j && linked.has(j.id) && !known.has(j.id)) known.set(j.id, j);
  const unknown = goal.jobs.filter((id) => !known.has(id));
  const all = [...known.values()];
  const c = goal.criterion;
  const deadline = Math.max(goal.deadlineMs, 0);
  const inTime = (j: Job) => deadline === 0 || j.endedAt <= deadline;

  // Achieved.
  if (c) {
    const met = all.filter((j) => meets(j, c) && inTime(j)).sort((a, b) => a.endedAt - b.endedAt);
    if (met.length > 0) {
      const j = met[0]!;
      const value = metricOf(j, c)!;
      return {
        state: 'achieved',
        endedAt: now,
        achievedBy: { job: j.id, metric: c.metric, value },
        reason: `job ${j.id} met ${describeCriterion(c)} with ${c.metric} ${value}`,
      };
    }
  } else if (goal.plan) {
    const ok = goal.planState?.attempts.find(
      (a) => a.outcome === 'succeeded' && (deadline === 0 || a.endedAt <= deadline),
    );
    if (ok) return { state: 'achieved', endedAt: now, reason: `attempt ${ok.attempt} of its plan succeeded` };
  } else if (all.length > 0 && unknown.length === 0 && all.every((j) => j.state === 'succeeded' && inTime(j))) {
    return {
      state: 'achieved',
      endedAt: now,
      reason: all.length === 1 ? `linked job ${all[0]!.id} succeeded` : `all ${all.length} linked jobs succeeded`,
    };
  }

  const wanted = c
    ? `a linked job met ${describeCriterion(c)}`
    : goal.plan
      ? 'an attempt of its plan succeeded'
      : goal.jobs.length > 0
        ? 'all linked jobs succeeded'
        : 'any job was linked';

  // Failed: the deadline passed.
  if (deadline > 0 && now >= deadline) {
    const late = c ? all.filter((j) => meets(j, c)) : [];
    return {
      state: 'failed',
      endedAt: now,
      reason:
        `the deadline ${iso(deadline)} passed before ${wanted}` +
        (late.length ? ` (${few(late.map((j) => j.id))} met it after the deadline)` : ''),
    };
  }

  // A plan decides the rest: its attempts, not the linked jobs one by one (a failed attempt leaves its jobs linked).
  if (goal.plan && goal.planState) {
    const p = describePlan(goal);
    if ('exhausted' in p)
      return { state: 'failed', endedAt: now, reason: `its plan ended before ${wanted} (${p.exhausted})` };
    return { state: p.state, endedAt: 0, reason: p.reason };
  }

  // Failed: every linked job ended and none met.
  if (goal.jobs.length > 0 && unknown.length === 0 && all.every((j) => isTerminal(j.state))) {
    if (c) {
      const how = all.map((j) => {
        if (j.state !== 'succeeded') return `${j.id} ${j.state}`;
        const v = metricOf(j, c);
        return v === undefined ? `${j.id} reported no ${c.metric}` : `${j.id} ${c.metric} ${v}`;
      });
      return {
        state: 'failed',
        endedAt: now,
        reason: `${all.length === 1 ? 'the linked job' : `all ${all.length} linked jobs`} ended without meeting ${describeCriterion(c)} (${few(how)})`,
      };
    }
    const notOk = all.filter((j) => j.state !== 'succeeded' || !inTime(j));
    return {
      state: 'failed',
      endedAt: now,
      reason: `${all.length === 1 ? 'the linked job' : `all ${all.length} linked jobs`} ended but not all succeeded (${few(notOk.map((j) => `${j.id} ${j.state}`))})`,
    };
  }

  // Active: work is under way.
  const running = all.filter((j) => !isTerminal(j.state));
  if (running.length > 0) {
    return { state: 'active', endedAt: 0, reason: `under way: ${few(running.map((j) => `${j.id} ${j.state}`))}` };
  }

  // Pending.
  if (goal.jobs.length === 0) return { state: 'pending', endedAt: 0, reason: 'no jobs linked yet' };
  return { state: 'pending', endedAt: 0, reason: `waiting for ${few(unknown)} (not in the store)` };
}

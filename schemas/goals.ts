/**
 * Goals: what agents and operators want a model to reach, linked to the jobs that work on it. A goal's state follows
 * its linked jobs (actors/goals/derive.ts); docs/jobs.md explains the model.
 */
import { Type, type Static } from '@sinclair/typebox';

export const GOAL_STATES = ['pending', 'active', 'achieved', 'failed', 'cancelled'] as const;
export type GoalState = (typeof GOAL_STATES)[number];
export const GoalState = Type.Union(GOAL_STATES.map((s) => Type.Literal(s)));
export const TERMINAL_GOAL_STATES: readonly GoalState[] = ['achieved', 'failed', 'cancelled'];
export const isTerminalGoal = (s: GoalState) => TERMINAL_GOAL_STATES.includes(s);

const JobId = Type.String({ pattern: '^job-[0-9a-z-]{1,64}$' });
export const GoalId = Type.String({ pattern: '^goal-[0-9a-z-]{1,64}$' });

/** Met by a linked job that succeeded with outputs.metrics[metric] `op` value (e.g. perplexity lte 20). */
export const Criterion = Type.Object(
  {
    metric: Type.String({ pattern: '^[A-Za-z0-9_]{1,64}$' }),
    op: Type.Union([Type.Literal('lte'), Type.Literal('gte')]),
    value: Type.Number(),
  },
  { additionalProperties: false },
);
export type Criterion = Static<typeof Criterion>;

export const CreateGoalRequest = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
    /** Without one, the goal is achieved when every linked job has succeeded. */
    criterion: Type.Optional(Criterion),
    /** Epoch ms; a goal not achieved by then fails. 0 or absent: none. */
    deadline_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    jobs: Type.Optional(Type.Array(JobId, { maxItems: 1000 })),
  },
  { additionalProperties: false },
);
export type CreateGoalRequest = Static<typeof CreateGoalRequest>;

export const UpdateGoalRequest = Type.Object(
  {
    id: GoalId,
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
    criterion: Type.Optional(Criterion),
    deadline_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    link_jobs: Type.Optional(Type.Array(JobId, { maxItems: 1000 })),
    unlink_jobs: Type.Optional(Type.Array(JobId, { maxItems: 1000 })),
  },
  { additionalProperties: false },
);
export type UpdateGoalRequest = Static<typeof UpdateGoalRequest>;

export const GoalIdRequest = Type.Object({ id: GoalId }, { additionalProperties: false });
export const ListGoalsRequest = Type.Object(
  {
    state: Type.Optional(GoalState),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export type ListGoalsRequest = Static<typeof ListGoalsRequest>;

export const Goal = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  priority: Type.Integer(),
  owner: Type.String(),
  state: GoalState,
  jobs: Type.Array(Type.String()),
  criterion: Type.Optional(Criterion),
  deadlineMs: Type.Number(),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  endedAt: Type.Number(),
  /** Why it is in its state, in one line (which job met the criterion, which deadline passed, …). */
  reason: Type.String(),
  achievedBy: Type.Optional(Type.Object({ job: Type.String(), metric: Type.String(), value: Type.Number() })),
});
export type Goal = Static<typeof Goal>;

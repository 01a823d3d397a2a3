/**
 * Goals: what agents and operators want a model to reach, linked to the jobs that work on it. A goal's state follows
 * its linked jobs (actors/goals/derive.ts); docs/jobs.md explains the model.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DeviceId } from './config.js';
import { JobType } from './jobs.js';

export const GOAL_STATES = ['pending', 'active', 'achieved', 'failed', 'cancelled'] as const;
export type GoalState = (typeof GOAL_STATES)[number];
export const GoalState = Type.Union(GOAL_STATES.map((s) => Type.Literal(s)));
export const TERMINAL_GOAL_STATES: readonly GoalState[] = ['achieved', 'failed', 'cancelled'];
export const isTerminalGoal = (s: GoalState) => TERMINAL_GOAL_STATES.includes(s);

const JobId = Type.String({ pattern: '^job-[0-9a-z-]{1,64}$' });
export const GoalId = Type.String({ pattern: '^goal-[0-9a-z-]{1,64}$' });

/**
 * Met by a linked job that succeeded with outputs.metrics[metric] `op` value (e.g. perplexity lte 20). `<=` and `>=`
 * are the same as lte and gte: what a fine-tune's promote_if says.
 */
export const Criterion = Type.Object(
  {
    metric: Type.String({ pattern: '^[A-Za-z0-9_]{1,64}$' }),
    op: Type.Union([Type.Literal('lte'), Type.Literal('gte'), Type.Literal('<='), Type.Literal('>=')]),
    value: Type.Number(),
  },
  { additionalProperties: false },
);
export type Criterion = Static<typeof Criterion>;

/**
 * One job of a plan: a SubmitJobRequest without request_id (the plan keys each step itself, so a restart never
 * submits a step twice). In the spec's strings `{goal}` is the goal's id and `{attempt}` the attempt's number (1, 2,
 * …): what keeps one attempt's files and model names apart from another's.
 */
export const PlanStep = Type.Object(
  {
    type: JobType,
    spec: Type.Object({}, { additionalProperties: true }),
    priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
    device: Type.Optional(DeviceId),
    memory_bytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 50 })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
  },
  { additionalProperties: false },
);
export type PlanStep = Static<typeof PlanStep>;

/**
 * When an attempt starts: `demand` — at creation, then whenever UpdateGoal says `run: true`; `feedback` — once
 * `every` feedback records were recorded since the goal was created or its last attempt started; `schedule` —
 * `every_ms` after the goal was created or its last attempt started. One attempt at a time: a trigger that comes due
 * while one runs starts the next after it.
 */
export const PlanTrigger = Type.Union([
  Type.Object({ on: Type.Literal('demand') }, { additionalProperties: false }),
  Type.Object(
    { on: Type.Literal('feedback'), every: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { on: Type.Literal('schedule'), every_ms: Type.Integer({ minimum: 1000, maximum: 366 * 86_400_000 }) },
    { additionalProperties: false },
  ),
]);
export type PlanTrigger = Static<typeof PlanTrigger>;

/** The job chain that pursues the goal's criterion, run by MOC as linked jobs (docs/jobs.md, "Goals that act"). */
export const GoalPlan = Type.Object(
  {
    /** Run in order; a step starts when the one before it succeeded; a step that fails ends the attempt. */
    steps: Type.Array(PlanStep, { minItems: 1, maxItems: 8 }),
    trigger: PlanTrigger,
    /** The budget: at most this many attempts; the goal fails when the last ends without meeting the criterion. */
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { additionalProperties: false },
);
export type GoalPlan = Static<typeof GoalPlan>;

export const PLAN_DEFAULT_ATTEMPTS = 3;

/** One run of a plan's steps, as the goal records it. */
export const PlanAttempt = Type.Object({
  attempt: Type.Integer(),
  startedAt: Type.Number(),
  endedAt: Type.Number(),
  /** Its steps' jobs so far, by step. */
  jobs: Type.Array(Type.String()),
  /** The step running (or to be submitted) while `outcome` is running. */
  step: Type.Integer(),
  outcome: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]),
  reason: Type.String(),
});
export type PlanAttempt = Static<typeof PlanAttempt>;

/** Where a goal's plan stands: its attempts (the last may be running) and what its trigger counts from. */
export const PlanState = Type.Object({
  attempts: Type.Array(PlanAttempt),
  /** An attempt was asked for (creation with a demand trigger, UpdateGoal run: true) and has not started yet. */
  runRequested: Type.Boolean(),
  /** The store's feedback count when the goal was created or its last attempt started (trigger: feedback). */
  feedbackMark: Type.Number(),
  /** When the goal was created or its last attempt started (trigger: schedule). */
  markAt: Type.Number(),
});
export type PlanState = Static<typeof PlanState>;

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
    /** The jobs MOC runs to pursue the criterion; without one, the goal follows the jobs linked to it. */
    plan: Type.Optional(GoalPlan),
    /**
     * Idempotent creation, as SubmitJob's: the same owner, request_id and fields return the goal created first (other
     * fields: MOC_ERR_REQUEST_ID_REUSED).
     */
    request_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
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
    /** Start an attempt of the goal's plan now (after the running one, if any), whatever its trigger. */
    run: Type.Optional(Type.Boolean()),
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
  plan: Type.Optional(GoalPlan),
  planState: Type.Optional(PlanState),
  /** The creation's idempotency key (CreateGoalRequest.request_id): unique per owner, kept for good. */
  requestId: Type.Optional(Type.String()),
  /**
   * What the creation asked for, as a digest per request field (src/canonical-json.ts fieldDigests): a retry under
   * the same key is compared with the request, not with the goal as later updates left it.
   */
  requestDigests: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type Goal = Static<typeof Goal>;

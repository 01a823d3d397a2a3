/**
 * Learning jobs, declared once: what a client submits (validated by the router, the same on every transport), the
 * record LMDB keeps, and its states. docs/jobs.md explains the model; a job's record changes only through the store's
 * write transactions, each appending its event (src/store/store.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import { DeviceId, ModelName } from './config.js';

export const JOB_TYPES = ['evaluate', 'prepare-dataset', 'fine-tune', 'export-feedback'] as const;
export type JobType = (typeof JOB_TYPES)[number];
export const JobType = Type.Union(JOB_TYPES.map((t) => Type.Literal(t)));

/** queued → running → succeeded | failed | cancelled; running → retrying → queued when an attempt fails and more are left. */
export const JOB_STATES = ['queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const JobState = Type.Union(JOB_STATES.map((s) => Type.Literal(s)));
export const TERMINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminal = (s: JobState) => TERMINAL_JOB_STATES.includes(s);

/** A dataset file, relative to the datasets root (jobs.datasetsRoot); resolved and confined like model paths. */
const DatasetPath = Type.String({ minLength: 1, maxLength: 1024 });

/** Metrics an evaluation reports, by the lines of its dataset: {"text"} lines, or {"prompt","chosen","rejected"} pairs. */
export const TEXT_EVAL_METRICS = ['perplexity', 'mean_log_prob', 'tokens', 'lines'] as const;
export const PAIR_EVAL_METRICS = [
  'preference_accuracy',
  'reward_margin',
  'chosen_log_prob',
  'rejected_log_prob',
  'tokens',
  'pairs',
] as const;
/** What a promotion criterion may compare: an evaluation's quality metrics (not its counts). */
export const CRITERION_METRICS = [
  'perplexity',
  'mean_log_prob',
  'preference_accuracy',
  'reward_margin',
  'chosen_log_prob',
  'rejected_log_prob',
] as const;
export const CRITERION_OPS = ['>=', '>', '<=', '<'] as const;

/**
 * A fine-tune's promotion criterion on the metrics of its evaluation (on eval_dataset): `metric op value`, or `metric op
 * <the same metric of another model on the same dataset>` with `against` — 'alias': the model promote_to points to
 * now (the base model when the alias does not exist yet); 'base': base_model. Exactly one of value and against.
 */
export const PromoteIf = Type.Object(
  {
    metric: Type.Union(CRITERION_METRICS.map((m) => Type.Literal(m))),
    op: Type.Union(CRITERION_OPS.map((o) => Type.Literal(o))),
    value: Type.Optional(Type.Number()),
    against: Type.Optional(Type.Union([Type.Literal('alias'), Type.Literal('base')])),
  },
  { additionalProperties: false },
);
export type PromoteIf = Static<typeof PromoteIf>;

/** Per type, what `spec` holds. */
export const JOB_SPECS = {
  /**
   * Mean token log-probability and perplexity of a model over a JSONL dataset of {"text": …} lines, or preference
   * metrics over {"prompt","chosen","rejected"} lines (the dataset's first line decides; docs/jobs.md).
   */
  evaluate: Type.Object(
    {
      model: ModelName,
      dataset: DatasetPath,
      max_lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    },
    { additionalProperties: false },
  ),
  /** Validate, tokenize (the model's tokenizer), count, deduplicate, split train/eval: on the worker pool. */
  'prepare-dataset': Type.Object(
    {
      model: ModelName,
      dataset: DatasetPath,
      eval_fraction: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5 })),
      dedupe: Type.Optional(Type.Boolean()),
      seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    },
    { additionalProperties: false },
  ),
  /** Runs the trainer configured for `trainer` (jobs.trainers) as a child process; its output GGUF is registered. */
  'fine-tune': Type.Object(
    {
      base_model: ModelName,
      dataset: DatasetPath,
      /** The catalog name the trained output (a model, or a LoRA adapter of base_model) is registered under. */
      output_name: ModelName,
      trainer: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' })),
      /** Passed to the trainer's command template as {param.NAME}. */
      params: Type.Optional(
        Type.Record(
          Type.String({ pattern: '^[A-Za-z0-9_]{1,64}$' }),
          Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()]),
        ),
      ),
      /**
       * With promote_to: evaluate the output on eval_dataset and point this alias at it only if perplexity ≤
       * max_perplexity and promote_if holds (either absent: no condition).
       */
      promote_to: Type.Optional(ModelName),
      eval_dataset: Type.Optional(DatasetPath),
      max_perplexity: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
      promote_if: Type.Optional(PromoteIf),
    },
    { additionalProperties: false },
  ),
  /** Writes recorded feedback as JSONL a trainer consumes: TRL preference or OpenAI preference fine-tuning. */
  'export-feedback': Type.Object(
    {
      format: Type.Union([Type.Literal('trl-preference'), Type.Literal('openai-preference')]),
      /** File name under the datasets root (it can then be a fine-tune job's dataset). */
      output: DatasetPath,
      /** An existing output is refused (MOC_ERR_OUTPUT_EXISTS) unless this is true: then it is replaced whole. */
      overwrite: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
} as const;

export const SubmitJobRequest = Type.Object(
  {
    type: JobType,
    /** Checked against JOB_SPECS[type]. */
    spec: Type.Object({}, { additionalProperties: true }),
    /** Higher runs first; equal priorities in submit order; waiting raises a job's priority (jobs.agingMs). */
    priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
    /** Where the job's memory is reserved (default: the device of the model it uses, else placement). */
    device: Type.Optional(DeviceId),
    /** Memory the job holds while running, reserved in the device's ledger like a model's. */
    memory_bytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 50 })),
    /** Idempotent submit: the same owner, request_id and parameters return the job submitted first (other parameters: MOC_ERR_REQUEST_ID_REUSED). */
    request_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
  },
  { additionalProperties: false },
);
export type SubmitJobRequest = Static<typeof SubmitJobRequest>;

export const JobIdRequest = Type.Object(
  { id: Type.String({ pattern: '^job-[0-9a-z-]{1,64}$' }) },
  { additionalProperties: false },
);
export type JobIdRequest = Static<typeof JobIdRequest>;

export const ListJobsRequest = Type.Object(
  {
    state: Type.Optional(JobState),
    type: Type.Optional(JobType),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export type ListJobsRequest = Static<typeof ListJobsRequest>;

export const JobProgress = Type.Object({ fraction: Type.Number(), message: Type.String() });

export const Job = Type.Object({
  id: Type.String(),
  type: JobType,
  spec: Type.Record(Type.String(), Type.Unknown()),
  priority: Type.Integer(),
  /** The principal that submitted it (API key name; 'open' in open mode). */
  owner: Type.String(),
  device: Type.Optional(Type.String()),
  memoryBytes: Type.Integer(),
  state: JobState,
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  progress: JobProgress,
  createdAt: Type.Number(),
  /** When it last entered the queue: ageing counts from here. */
  queuedAt: Type.Number(),
  startedAt: Type.Number(),
  endedAt: Type.Number(),
  updatedAt: Type.Number(),
  /** The last lines the job (or its trainer) logged, bounded. */
  logTail: Type.Array(Type.String()),
  outputs: Type.Object({
    files: Type.Array(Type.String()),
    metrics: Type.Record(Type.String(), Type.Number()),
    models: Type.Array(Type.String()),
  }),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  requestId: Type.Optional(Type.String()),
  /** Who runs it and until when, unless renewed: a process that dies holding a job loses it when this passes. */
  lease: Type.Optional(
    Type.Object({
      owner: Type.String(),
      expiresAt: Type.Number(),
      /**
       * The fencing token: the attempt this lease runs (1, 2, …), set by the claim. Every later write of the run
       * requires owner and epoch to be unchanged in the committed record, so a process that stalled past its lease and
       * wakes after another took the job over writes nothing. Absent in records written before it existed.
       */
      epoch: Type.Optional(Type.Integer({ minimum: 1 })),
    }),
  ),
  cancelRequested: Type.Boolean(),
  /** A retrying job waits until then (backoff). */
  notBefore: Type.Number(),
  /** The external process running it (a trainer's process group), so a process taking the job over can stop it. */
  process: Type.Optional(
    Type.Object({
      pid: Type.Integer(),
      start: Type.String(),
      /** The host it runs on (os.hostname()): a process taking the job over elsewhere must not signal that pid. */
      host: Type.Optional(Type.String()),
    }),
  ),
});
export type Job = Static<typeof Job>;

/**
 * `moc jobs submit | ls | get | watch | cancel` and `moc goals ls | get | create | cancel` over REST. `jobs watch`
 * (and `submit --watch`) follows GET /v1/jobs/{id}/events with a progress bar on stderr from the job's own progress,
 * and exits 0 when it succeeded, 7 when it failed or was cancelled (docs/cli.md).
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import type { Static } from '@sinclair/typebox';
import type { ErrorBody, GoalList, GoalResource, JobList, JobResource } from '../../schemas/rest.js';
import { type Api, CliError, EXIT } from './api.js';
import { emit, fields, table, type OutputOptions } from './output.js';
import { numberOf, oneOf, parser } from './options.js';
import { JOB_STATES, JOB_TYPES, ListJobsRequest, SubmitJobRequest } from '../../schemas/jobs.js';
import { CreateGoalRequest, GOAL_STATES } from '../../schemas/goals.js';

const enc = encodeURIComponent;
const when = (ms: number) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');

/** The options of the jobs and goals commands, as commander parses them. */
interface JobOptions extends OutputOptions {
  spec: Record<string, unknown>;
  priority?: number;
  requestId?: string;
  watch?: boolean;
  progress?: boolean;
  state?: string;
  type?: string;
  limit?: number;
}
interface GoalOptions extends OutputOptions {
  description?: string;
  priority?: number;
  job?: string[];
  criterion?: Record<string, unknown>;
  plan?: Record<string, unknown>;
  requestId?: string;
}

/** GET /v1/jobs/{id}/events (docs/jobs.md): the job as it changes, the job at its end, or the error that ended it. */
type JobEvent = { event: 'job' | 'done'; data: JobResource } | { event: 'error'; data: ErrorBody };

const jobRows = (jobs: JobResource[]) =>
  table(
    ['id', 'type', 'state', 'progress', 'priority', 'owner', 'created'],
    jobs.map((j) => [
      j.id,
      j.type,
      j.state,
      `${Math.round(j.progress.fraction * 100)}%`,
      j.priority,
      j.owner,
      when(j.created_at_ms),
    ]),
  );
const jobFields = (j: JobResource) =>
  fields({
    id: j.id,
    type: j.type,
    state: j.state,
    progress: `${Math.round(j.progress.fraction * 100)}% ${j.progress.message}`.trim(),
    priority: j.priority,
    owner: j.owner,
    attempts: `${j.attempts}/${j.max_attempts}`,
    created: when(j.created_at_ms),
    ended: when(j.ended_at_ms),
    spec: j.spec,
    outputs: j.outputs,
    error: j.error?.code ? `${j.error.code}: ${j.error.message}` : '-',
  });

/** --spec's parser: a JSON object given inline, or from a file as @path (options.ts reports what it refuses). */
const specOf = parser('a JSON object, or @file.json', (text): Record<string, unknown> => {
  try {
    const raw = text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text;
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new InvalidArgumentError(`It takes a JSON object or @file.json (${(err as Error).message}).`);
  }
});

/** Follows a job to its end; the bar (stderr) follows its progress. Returns the final job. */
async function watch(api: Api, id: string, showBar: boolean): Promise<JobResource> {
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format: `job ${id} [{bar}] {percentage}% | {state} {message}`,
          stream: process.stderr,
          hideCursor: true,
          noTTYOutput: true,
          notTTYSchedule: 500,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(100, 0, { state: 'queued', message: '' });
  let last: JobResource | undefined;
  try {
    for await (const sse of api.events('GET', `/v1/jobs/${enc(id)}/events`)) {
      const e = sse as JobEvent;
      if (e.event === 'error') {
        const { code, message } = e.data.error;
        throw new CliError(`${code}: ${message}`, EXIT.RETRY, code);
      }
      const j = e.data;
      last = j;
      const pct = j.state === 'succeeded' ? 100 : Math.round(j.progress.fraction * 100);
      bar?.update(pct, { state: j.state, message: j.progress.message ?? '' });
      if (e.event === 'done') break;
    }
  } finally {
    bar?.stop();
  }
  if (!last) throw new CliError(`the event stream of job ${id} ended without an event`, EXIT.FAILED);
  return last;
}

const finished = (o: OutputOptions, j: JobResource) => {
  emit(o, j, () => jobFields(j));
  if (j.state !== 'succeeded') process.exitCode = EXIT.JOB_NOT_SUCCEEDED;
};

export function jobsCommand(api: () => Api): Command {
  const jobs = new Command('jobs').description('learning jobs: submit, list, follow, cancel');
  const json = (c: Command) => c.option('--json', 'print JSON (for scripts) instead of a table');
  const barOptions = (c: Command) =>
    c.option('--progress', 'show the bar even when stderr is not a terminal').option('--no-progress', 'no bar');

  barOptions(
    json(jobs.command('submit <type>').description(`submit a job (${JOB_TYPES.join(', ')})`))
      .requiredOption('--spec <json|@file>', "the job's spec, as JSON or @file.json", specOf)
      .option('--priority <n>', 'higher runs first', numberOf(SubmitJobRequest.properties.priority))
      .option('--request-id <id>', 'makes the submit idempotent')
      .option('--watch', 'follow it to its end (exit code from its final state)'),
  ).action(async (type: string, o: JobOptions) => {
    const j = await api().json<JobResource>('POST', '/v1/jobs', {
      type,
      spec: o.spec,
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.requestId ? { request_id: o.requestId } : {}),
    });
    if (!o.watch) return emit(o, j, () => `submitted ${j.id} (${j.state})`);
    finished(o, await watch(api(), j.id, !o.json && (o.progress ?? process.stderr.isTTY === true)));
  });

  json(jobs.command('ls').description('jobs, newest first'))
    .option('--state <state>', 'only jobs in this state', oneOf(JOB_STATES))
    .option('--type <type>', 'only jobs of this type', oneOf(JOB_TYPES))
    .option('--limit <n>', 'at most this many', numberOf(ListJobsRequest.properties.limit))
    .action(async (o: JobOptions) => {
      const q = new URLSearchParams({
        ...(o.state ? { state: o.state } : {}),
        ...(o.type ? { type: o.type } : {}),
        ...(o.limit !== undefined ? { limit: String(o.limit) } : {}),
      });
      const r = await api().json<Static<typeof JobList>>('GET', `/v1/jobs${q.size ? `?${q}` : ''}`);
      emit(o, r.jobs, () => jobRows(r.jobs));
    });

  json(jobs.command('get <id>').description('one job: state, progress, outputs')).action(
    async (id: string, o: OutputOptions) => {
      const j = await api().json<JobResource>('GET', `/v1/jobs/${enc(id)}`);
      emit(o, j, () => jobFields(j));
    },
  );

  barOptions(
    json(
      jobs
        .command('watch <id>')
        .description('follow a job to its end with a progress bar; exit 0 if it succeeded, 7 if not'),
    ),
  ).action(async (id: string, o: JobOptions) =>
    finished(o, await watch(api(), id, !o.json && (o.progress ?? process.stderr.isTTY === true))),
  );

  json(jobs.command('cancel <id>').description('cancel a job')).action(async (id: string, o: OutputOptions) => {
    const j = await api().json<JobResource>('POST', `/v1/jobs/${enc(id)}/cancel`);
    emit(o, j, () => `${j.id}: ${j.state}${j.cancel_requested ? ' (cancel requested)' : ''}`);
  });
  return jobs;
}

const goalRows = (goals: GoalResource[]) =>
  table(
    ['id', 'title', 'state', 'priority', 'jobs', 'reason'],
    goals.map((g) => [g.id, g.title, g.state, g.priority, g.jobs.length, g.reason]),
  );

export function goalsCommand(api: () => Api): Command {
  const goals = new Command('goals').description('goals: list, create, follow, cancel');
  const json = (c: Command) => c.option('--json', 'print JSON (for scripts) instead of a table');
  json(goals.command('ls').description('goals by priority'))
    .option('--state <state>', 'only goals in this state', oneOf(GOAL_STATES))
    .action(async (o: OutputOptions & { state?: string }) => {
      const r = await api().json<Static<typeof GoalList>>('GET', `/v1/goals${o.state ? `?state=${enc(o.state)}` : ''}`);
      emit(o, r.goals, () => goalRows(r.goals));
    });
  json(goals.command('get <id>').description('one goal and why it is in its state')).action(
    async (id: string, o: OutputOptions) => {
      const g = await api().json<GoalResource>('GET', `/v1/goals/${enc(id)}`);
      emit(o, g, () => fields(g));
    },
  );
  json(goals.command('create <title>').description('create a goal'))
    .option('--description <text>')
    .option('--priority <n>', 'higher first', numberOf(CreateGoalRequest.properties.priority))
    .option('--job <id...>', 'linked jobs')
    .option('--criterion <json|@file>', 'e.g. {"metric":"perplexity","op":"lte","value":20}', specOf)
    .option('--plan <json|@file>', 'the job chain MOC runs for it (docs/jobs.md "Goals that act")', specOf)
    .option('--request-id <id>', 'makes the creation idempotent')
    .action(async (title: string, o: GoalOptions) => {
      const g = await api().json<GoalResource>('POST', '/v1/goals', {
        title,
        ...(o.description ? { description: o.description } : {}),
        ...(o.priority !== undefined ? { priority: o.priority } : {}),
        ...(o.job ? { jobs: o.job } : {}),
        ...(o.criterion ? { criterion: o.criterion } : {}),
        ...(o.plan ? { plan: o.plan } : {}),
        ...(o.requestId ? { request_id: o.requestId } : {}),
      });
      emit(o, g, () => `created ${g.id} (${g.state}: ${g.reason})`);
    });
  json(goals.command('run <id>').description("start an attempt of the goal's plan now")).action(
    async (id: string, o: OutputOptions) => {
      const g = await api().json<GoalResource>('PUT', `/v1/goals/${enc(id)}`, { run: true });
      emit(o, g, () => `${g.id}: ${g.state}: ${g.reason}`);
    },
  );
  json(goals.command('cancel <id>').description('cancel a goal')).action(async (id: string, o: OutputOptions) => {
    const g = await api().json<GoalResource>('POST', `/v1/goals/${enc(id)}/cancel`);
    emit(o, g, () => `${g.id}: ${g.state}`);
  });
  return goals;
}

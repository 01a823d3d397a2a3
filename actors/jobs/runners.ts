/**
 * What each job type does, given a RunContext. A runner reports progress, log lines and metrics as it goes, and
 * resolves with the job's outputs or throws (a MocError: recorded on the job). It must stop when ctx.signal aborts.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../schemas/config.js';
import type { JOB_SPECS, Job, JobType } from '../../schemas/jobs.js';
import type { Static } from '@sinclair/typebox';
import { errors, MocError } from '../../src/errors.js';
import { packageRoot } from '../../src/package-root.js';
import { datasetOutput, resolveDataset, writeOutput } from './dataset.js';
import type { Feedback } from '../../schemas/feedback.js';
import { preferencePairs } from '../feedback/feedback.js';
import type { ModelsPort } from './models-port.js';
import { startTrainer } from './trainer-process.js';
import { expandCommand, processStart, trainerOf } from './trainers.js';
import type { DatasetPool } from './dataset-pool.js';
import { prepareDataset } from './prepare-dataset.js';
import { datasetKind, evaluateDataset } from './evaluation.js';
import { criterionMismatch, decide } from './promotion.js';

export interface JobOutputs {
  files: string[];
  metrics: Record<string, number>;
  models: string[];
}

export interface RunContext {
  job: Job;
  config: Config;
  models: ModelsPort;
  signal: AbortSignal;
  progress(fraction: number, message: string): void;
  log(line: string): void;
  /** The external process running the job, so a process taking it over after a crash can stop it. */
  process(p: { pid: number; start: string }): void;
  /**
   * Renews the lease now and rejects (MOC_ERR_UNAVAILABLE, "fenced") when this run no longer holds it: called before
   * a side effect outside the job's record (registering a model, moving an alias, writing a dataset), so a process
   * that stalled past its lease and woke after another took the job over does none of them.
   */
  fence(): Promise<void>;
}

/** The attempt a run holds (its lease's epoch): artifacts of attempts, and of hosts taking a job over, never mix. */
const epochOf = (job: Job) => job.lease?.epoch ?? job.attempts;

export type Runner = (ctx: RunContext) => Promise<JobOutputs>;

const specOf = <T extends JobType>(job: Job, _type: T) => job.spec as unknown as Static<(typeof JOB_SPECS)[T]>;

/** Text metrics ({"text"} lines) or preference metrics (pairs), as the dataset's lines say (evaluation.ts). */
const evaluate: Runner = async (ctx) => {
  const spec = specOf(ctx.job, 'evaluate');
  const r = await evaluateDataset(ctx, spec.model, spec.dataset, {
    maxLines: spec.max_lines ?? Number.MAX_SAFE_INTEGER,
  });
  const m = r.metrics;
  ctx.log(
    r.kind === 'text'
      ? `${spec.model} on ${spec.dataset}: ${m.tokens} tokens, perplexity ${m.perplexity!.toFixed(4)}`
      : `${spec.model} on ${spec.dataset}: ${m.pairs} pairs, preference_accuracy ${m.preference_accuracy!.toFixed(4)}, reward_margin ${m.reward_margin!.toFixed(4)}`,
  );
  return { files: [], models: [], metrics: m };
};

/**
 * Runs the configured trainer on the base model and dataset; registers what it wrote (a model, or a LoRA adapter on
 * the base, as its output line says); with promote_to, evaluates it and points the alias at it only if its criterion
 * holds (promotion.ts; the same hot swap for either: an adapter's base stays loaded under it). Phases of progress:
 * training to 0.8, register 0.85, evaluation to 0.95 (the baseline's first when promote_if is against a model),
 * promotion 1.
 */
const fineTune: Runner = async (ctx) => {
  const spec = specOf(ctx.job, 'fine-tune');
  const trainer = trainerOf(ctx.config, spec.trainer);
  // Resolved once: the trainer's base file and the base an adapter output is registered on are the same model, even
  // if base_model is an alias that moves while the trainer runs.
  const baseModel = ctx.models.resolve(spec.base_model) ?? spec.base_model;
  const base = ctx.models.modelFile(baseModel);
  const data = await resolveDataset(ctx.config.jobs.datasetsRoot, spec.dataset);
  // A criterion eval_dataset cannot decide (perplexity on pairs, a preference metric on texts) fails before training.
  if (spec.promote_to !== undefined) {
    const evalFile = await resolveDataset(ctx.config.jobs.datasetsRoot, spec.eval_dataset!, 'spec.eval_dataset');
    const bad = criterionMismatch(await datasetKind(evalFile, spec.eval_dataset!, ctx.signal), spec);
    if (bad) throw errors.invalidArgument(bad.field, bad.problem);
  }
  const attempt = `a${epochOf(ctx.job)}`;
  const outDir = path.join(ctx.config.modelsRoot, 'trained', ctx.job.id, attempt);
  const out = path.join(outDir, `${spec.output_name.replace(/[^A-Za-z0-9._-]/g, '_')}.gguf`);
  const cwd = path.join(ctx.config.dataDir, 'jobs', ctx.job.id, attempt);
  await mkdir(outDir, { recursive: true });
  await mkdir(cwd, { recursive: true });
  const command = expandCommand(
    trainer.command,
    { node: process.execPath, package: packageRoot(), base, data, out, job: ctx.job.id },
    spec.params ?? {},
  );
  const metrics: Record<string, number> = {};
  // Stopped while preparing (a shutdown or cancel during the awaits above): its abort event has fired already and
  // would never reach a trainer started now, which would then run on, unowned.
  if (ctx.signal.aborted) throw ctx.signal.reason instanceof MocError ? ctx.signal.reason : errors.cancelled('the job');
  const run = startTrainer({
    command,
    cwd,
    graceMs: trainer.graceMs,
    timeoutMs: trainer.timeoutMs,
    onEvent: (e) => {
      if (e.type === 'progress') ctx.progress(0.8 * e.fraction, e.message ?? 'training');
      else if (e.type === 'metric') metrics[e.name] = e.value;
      else if (e.type === 'log') ctx.log(e.message);
    },
  });
  if (run.pid > 0) ctx.process({ pid: run.pid, start: processStart(run.pid) ?? '' });
  const onAbort = () => run.cancel('the job was cancelled');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const outcome = await run.done.finally(() => ctx.signal.removeEventListener('abort', onAbort));
  if (outcome.cancelled && ctx.signal.aborted)
    throw ctx.signal.reason instanceof MocError ? ctx.signal.reason : errors.cancelled('the job');
  if (outcome.error) throw errors.jobFailed(`trainer: ${outcome.error}`);
  const produced = path.resolve(cwd, outcome.outputPath ?? '');
  if (produced !== out)
    throw errors.jobFailed(`trainer: wrote ${produced}, expected the output path it was given ({out})`);
  // The catalog inspects it (GGUF header, sha256; an adapter also against its base): a broken file, or one that is not
  // the kind the trainer said (a model reported as an adapter, or the reverse), fails the job here and is never served.
  const file = path.relative(ctx.config.modelsRoot, out);
  const lora = outcome.outputKind === 'lora';
  await ctx.fence();
  const model = await ctx.models
    .register(
      lora ? { name: spec.output_name, base: baseModel, adapter: file } : { name: spec.output_name, path: file },
    )
    .catch((err: unknown) => {
      const e = err instanceof MocError ? err : errors.internal('register', err);
      const what = lora ? `LoRA adapter (of ${baseModel})` : 'model';
      throw errors.jobFailed(`the trained ${what} could not be registered: ${e.code}: ${e.message}`);
    });
  const registered = `registered ${model.name}${model.base ? ` (a LoRA adapter of ${model.base})` : ' (a model)'}`;
  ctx.log(registered);
  ctx.progress(0.85, registered);
  const outputs: JobOutputs = {
    files: [file],
    models: [model.name],
    metrics: { ...Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`train_${k}`, v])) },
  };
  if (spec.promote_to !== undefined) {
    const evalOpts = { field: 'spec.eval_dataset' };
    const c = spec.promote_if;
    let baseline: { model: string; value: number } | undefined;
    if (c?.against !== undefined) {
      // What the alias serves now (the base when it names nothing yet), measured now, on the same data.
      const other = (c.against === 'alias' && ctx.models.resolve(spec.promote_to)) || spec.base_model;
      const b = await evaluateDataset(ctx, other, spec.eval_dataset!, { ...evalOpts, from: 0.85, span: 0.05 });
      baseline = { model: other, value: b.metrics[c.metric]! };
      outputs.metrics[`baseline_${c.metric}`] = baseline.value;
    }
    const span = baseline ? { from: 0.9, span: 0.05 } : { from: 0.85, span: 0.1 };
    const r = await evaluateDataset(ctx, model.name, spec.eval_dataset!, { ...evalOpts, ...span });
    for (const [k, v] of Object.entries(r.metrics)) outputs.metrics[`eval_${k}`] = v;
    const { passes, reason } = decide(r.metrics, spec, baseline);
    outputs.metrics.promoted = passes ? 1 : 0;
    if (passes) {
      await ctx.fence();
      await ctx.models.setAlias(spec.promote_to, model.name);
      ctx.log(`promoted: alias ${spec.promote_to} → ${model.name} (${reason})`);
    } else {
      ctx.log(`not promoted: ${reason}; alias ${spec.promote_to} left as it was`);
    }
  }
  ctx.progress(1, 'done');
  return outputs;
};

/**
 * Recorded feedback as a trainer's dataset: TRL preference lines ({prompt, chosen, rejected}) or OpenAI preference
 * fine-tuning lines ({input.messages, preferred_output, non_preferred_output}). Explicit preferences, plus pairs
 * derived from ratings of answers to one prompt (good against bad).
 */
function exportFeedback(feedback: () => Feedback[]): Runner {
  return async (ctx) => {
    const spec = specOf(ctx.job, 'export-feedback');
    const file = await datasetOutput(ctx.config.jobs.datasetsRoot, spec.output);
    const pairs = preferencePairs(feedback());
    if (pairs.length === 0)
      throw errors.jobFailed(
        'no preference pairs to export: record preferences, or good and bad ratings of answers to one prompt',
      );
    const line = (p: { prompt: string; chosen: string; rejected: string }) =>
      JSON.stringify(
        spec.format === 'trl-preference'
          ? { prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }
          : {
              input: { messages: [{ role: 'user', content: p.prompt }] },
              preferred_output: [{ role: 'assistant', content: p.chosen }],
              non_preferred_output: [{ role: 'assistant', content: p.rejected }],
            },
      );
    // Whole or not at all, and never over an existing file unless the spec says overwrite (dataset.ts).
    await ctx.fence();
    await writeOutput(file, spec.output, `${pairs.map(line).join('\n')}\n`, { overwrite: spec.overwrite === true });
    ctx.progress(1, `exported ${pairs.length} pairs`);
    return {
      files: [path.relative(ctx.config.jobs.datasetsRoot, file)],
      models: [],
      metrics: {
        pairs: pairs.length,
        explicit: pairs.filter((p) => !p.derived).length,
        from_ratings: pairs.filter((p) => p.derived).length,
      },
    };
  };
}

export type Runners = Partial<Record<JobType, Runner>>;

/** The job types this server runs; prepare-dataset needs the dataset worker pool, export-feedback the feedback. */
export function runners(deps: { datasets?: DatasetPool; feedback?: () => Feedback[] } = {}): Runners {
  return {
    evaluate,
    'fine-tune': fineTune,
    ...(deps.datasets ? { 'prepare-dataset': prepareDataset(deps.datasets) } : {}),
    ...(deps.feedback ? { 'export-feedback': exportFeedback(deps.feedback) } : {}),
  };
}

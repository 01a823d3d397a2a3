/**
 * The prepare-dataset job: validates a JSONL dataset, tokenizes it with the model's own tokenizer, deduplicates and
 * splits it train/eval deterministically, all on the dataset worker pool (src/model/dataset-task.ts says how).
 * Outputs go to `prepared/<job id>/<name>.train.jsonl` and `<name>.eval.jsonl` in the datasets root: a job never
 * overwrites another's files, and a retry overwrites only its own.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Static } from '@sinclair/typebox';
import type { JOB_SPECS } from '../../schemas/jobs.js';
import { errors, MocError } from '../../src/errors.js';
import { datasetOutput, resolveDataset } from './dataset.js';
import type { DatasetPool } from './dataset-pool.js';
import type { JobOutputs, Runner } from './runners.js';

export const DEFAULT_EVAL_FRACTION = 0.1;

/** `<name>` of the outputs: the dataset's file name without .jsonl/.json, made file-name safe. */
export function preparedName(dataset: string): string {
  const base = path.basename(dataset).replace(/\.(jsonl|json|ndjson)$/i, '');
  return base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || 'dataset';
}

export function prepareDataset(pool: DatasetPool): Runner {
  return async (ctx) => {
    const spec = ctx.job.spec as unknown as Static<(typeof JOB_SPECS)['prepare-dataset']>;
    const root = ctx.config.jobs.datasetsRoot;
    const modelPath = ctx.models.modelFile(spec.model);
    const dataset = await resolveDataset(root, spec.dataset);
    const realRoot = await realpath(root); // resolveDataset created it
    const name = preparedName(spec.dataset);
    const dir = path.posix.join('prepared', ctx.job.id);
    const train = await datasetOutput(root, `${dir}/${name}.train.jsonl`, 'spec.dataset');
    const evl = await datasetOutput(root, `${dir}/${name}.eval.jsonl`, 'spec.dataset');
    const evalFraction = spec.eval_fraction ?? DEFAULT_EVAL_FRACTION;
    const dedupe = spec.dedupe ?? true;
    const seed = spec.seed ?? 0;
    ctx.progress(0, `preparing ${spec.dataset} with the tokenizer of ${spec.model}`);
    const stats = await pool
      .prepare(
        { modelPath, dataset, shown: spec.dataset, train, eval: evl, evalFraction, dedupe, seed },
        {
          signal: ctx.signal,
          onProgress: (p) =>
            ctx.progress(
              p.totalBytes > 0 ? 0.99 * Math.min(1, p.bytes / p.totalBytes) : 0,
              `read ${p.lines} lines of ${spec.dataset}`,
            ),
        },
      )
      .catch((err: unknown) => {
        if (ctx.signal.aborted)
          throw ctx.signal.reason instanceof MocError ? ctx.signal.reason : errors.cancelled('the job');
        throw err instanceof MocError ? err : errors.jobFailed(`preparing ${spec.dataset}: ${String(err)}`);
      });
    if (stats.invalid > 0) {
      ctx.log(
        `${stats.invalid} of ${stats.lines} lines are invalid and were skipped; ` +
          stats.invalidSamples.map((x) => `line ${x.line}: ${x.reason}`).join('; ') +
          (stats.invalid > stats.invalidSamples.length ? '; …' : ''),
      );
    }
    const rel = (f: string) => path.relative(realRoot, f).split(path.sep).join('/');
    const outputs: JobOutputs = {
      files: [rel(stats.trainFile), rel(stats.evalFile)],
      models: [],
      metrics: {
        lines: stats.lines,
        valid: stats.valid,
        invalid: stats.invalid,
        duplicates: stats.duplicates,
        train: stats.train,
        eval: stats.eval,
        tokens: stats.tokens.total,
        tokens_min: stats.tokens.min,
        tokens_max: stats.tokens.max,
        tokens_mean: stats.tokens.mean,
      },
    };
    ctx.log(
      `${spec.dataset} (${stats.kind === 'preference' ? 'preference pairs' : 'texts'}): ${stats.valid} valid of ${stats.lines} lines, ` +
        `${stats.duplicates} duplicates dropped, ${stats.train} train / ${stats.eval} eval, ${stats.tokens.total} tokens ` +
        `(mean ${stats.tokens.mean.toFixed(1)}, max ${stats.tokens.max}) → ${outputs.files.join(', ')}`,
    );
    ctx.progress(1, 'done');
    return outputs;
  };
}

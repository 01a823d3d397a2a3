/**
 * A model's evaluation on a JSONL dataset, for the evaluate job and a fine-tune's promotion. The dataset's first line
 * decides what is measured, and every line must then have that shape (docs/jobs.md):
 *   - {"text"} lines: mean token log-probability and perplexity (TEXT_EVAL_METRICS);
 *   - {"prompt","chosen","rejected"} lines (what export-feedback writes as trl-preference): each answer's
 *     log-probability given its prompt, ln p(answer | prompt), and from them preference_accuracy (the share of pairs
 *     whose chosen answer scores strictly higher) and reward_margin (the mean of chosen − rejected) (PAIR_EVAL_METRICS).
 * The shape is read from the data rather than declared in the spec: a file holds one or the other, and a fine-tune can
 * check its eval_dataset before training (datasetKind) as well as a field could be checked at submit.
 */
import { errors } from '../../src/errors.js';
import { jsonLines, resolveDataset } from './dataset.js';
import type { RunContext } from './runners.js';

export type EvalKind = 'text' | 'pairs';

export interface Evaluation {
  kind: EvalKind;
  /** Named as the evaluate job reports them (TEXT_EVAL_METRICS or PAIR_EVAL_METRICS). */
  metrics: Record<string, number>;
}

/** Lines (texts, or pairs) scored per evaluate call: large enough to keep the engine busy, small enough for progress. */
const EVAL_BATCH = 8;

const isString = (v: unknown): v is string => typeof v === 'string';
const hasText = (v: unknown): v is string => isString(v) && v.trim() !== '';

function kindOf(value: Record<string, unknown>): EvalKind | undefined {
  if ('prompt' in value || 'chosen' in value || 'rejected' in value) return 'pairs';
  if ('text' in value) return 'text';
  return undefined;
}

const SHAPES: Record<EvalKind, string> = {
  text: '{"text": "..."} with a non-empty text',
  pairs: '{"prompt": "...", "chosen": "...", "rejected": "..."} with non-empty answers',
};

/** What the dataset's first line says it holds; a first line of neither shape fails, naming it. */
export async function datasetKind(file: string, name: string, signal?: AbortSignal): Promise<EvalKind> {
  for await (const { line, value } of jsonLines(file, signal)) {
    const kind = kindOf(value);
    if (!kind) throw errors.jobFailed(`dataset '${name}' line ${line}: expected ${SHAPES.text}, or ${SHAPES.pairs}`);
    return kind;
  }
  throw errors.jobFailed(`dataset '${name}' has no lines`);
}

/**
 * Evaluates `model` on at most maxLines lines of `dataset`; progress runs from `from` to `from + span`. `field` names
 * the spec field in a dataset-path error.
 */
export async function evaluateDataset(
  ctx: RunContext,
  model: string,
  dataset: string,
  opts: { maxLines?: number; from?: number; span?: number; field?: string } = {},
): Promise<Evaluation> {
  const { maxLines = Number.MAX_SAFE_INTEGER, from = 0, span = 1, field = 'spec.dataset' } = opts;
  const file = await resolveDataset(ctx.config.jobs.datasetsRoot, dataset, field);
  const kind = await datasetKind(file, dataset, ctx.signal);
  let total = 0;
  for await (const _ of jsonLines(file, ctx.signal)) if (++total >= maxLines) break;
  const progress = (done: number) =>
    ctx.progress(from + span * (done / total), `evaluated ${done}/${total} lines of ${dataset} with ${model}`);
  return kind === 'text'
    ? { kind, metrics: await texts(ctx, model, file, dataset, total, progress) }
    : { kind, metrics: await pairs(ctx, model, file, total, progress) };
}

async function texts(
  ctx: RunContext,
  model: string,
  file: string,
  dataset: string,
  total: number,
  progress: (done: number) => void,
): Promise<Record<string, number>> {
  let lines = 0;
  let tokens = 0;
  let sumLogProb = 0;
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const r = await ctx.models.evaluate(model, batch, ctx.signal);
    lines += batch.length;
    tokens += r.tokens;
    sumLogProb += r.sumLogProb;
    batch = [];
    progress(lines);
  };
  for await (const { line, value } of jsonLines(file, ctx.signal)) {
    // The rule prepare-dataset keeps too (src/model/dataset-task.ts): a text holds more than whitespace.
    if (kindOf(value) !== 'text' || !hasText(value.text))
      throw errors.jobFailed(`dataset line ${line}: expected ${SHAPES.text} (as the first line)`);
    batch.push(value.text);
    if (batch.length === EVAL_BATCH) await flush();
    if (lines + batch.length >= total) break;
  }
  await flush();
  if (tokens === 0) throw errors.jobFailed(`dataset '${dataset}': no token could be scored (texts of one token?)`);
  const meanLogProb = sumLogProb / tokens;
  return { lines, tokens, mean_log_prob: meanLogProb, perplexity: Math.exp(-meanLogProb) };
}

/**
 * Per pair, ln p(chosen | prompt) and ln p(rejected | prompt), both answers of a batch in one evaluate call with the
 * prompt as their prefix (the engine evaluates prompt + answer once and counts only the answer's tokens:
 * EngineCore.evaluate). The prompt and answer are joined as they are, with nothing between them, as TRL's trainers
 * join a string prompt and its completions.
 */
async function pairs(
  ctx: RunContext,
  model: string,
  file: string,
  total: number,
  progress: (done: number) => void,
): Promise<Record<string, number>> {
  let n = 0;
  let wins = 0;
  let tokens = 0;
  let sumChosen = 0;
  let sumRejected = 0;
  let batch: Array<{ line: number; prompt: string; chosen: string; rejected: string }> = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const r = await ctx.models.evaluate(
      model,
      batch.flatMap((p) => [p.chosen, p.rejected]),
      ctx.signal,
      batch.flatMap((p) => [p.prompt, p.prompt]),
    );
    for (const [i, p] of batch.entries()) {
      const chosen = r.perText[2 * i]!;
      const rejected = r.perText[2 * i + 1]!;
      if (chosen.tokens === 0 || rejected.tokens === 0)
        throw errors.jobFailed(`dataset line ${p.line}: an answer has no token to score after its prompt`);
      if (chosen.sumLogProb > rejected.sumLogProb) wins++;
      sumChosen += chosen.sumLogProb;
      sumRejected += rejected.sumLogProb;
      tokens += chosen.tokens + rejected.tokens;
    }
    n += batch.length;
    batch = [];
    progress(n);
  };
  for await (const { line, value } of jsonLines(file, ctx.signal)) {
    const { prompt, chosen, rejected } = value;
    if (kindOf(value) !== 'pairs' || !isString(prompt) || !hasText(chosen) || !hasText(rejected))
      throw errors.jobFailed(`dataset line ${line}: expected ${SHAPES.pairs} (as the first line)`);
    batch.push({ line, prompt, chosen, rejected });
    if (batch.length === EVAL_BATCH) await flush();
    if (n + batch.length >= total) break;
  }
  await flush();
  return {
    pairs: n,
    tokens,
    preference_accuracy: wins / n,
    reward_margin: (sumChosen - sumRejected) / n,
    chosen_log_prob: sumChosen / n,
    rejected_log_prob: sumRejected / n,
  };
}

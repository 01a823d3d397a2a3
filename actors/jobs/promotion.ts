/**
 * Whether a fine-tune's output takes its alias over: its evaluation on eval_dataset against max_perplexity and
 * promote_if (schemas/jobs.ts PromoteIf), each absent one passing. Pure but for the baseline's evaluation, which the
 * caller supplies, so the rule reads in one place.
 */
import type { PromoteIf } from '../../schemas/jobs.js';
import type { EvalKind } from './evaluation.js';

export const compare = (a: number, op: PromoteIf['op'], b: number): boolean =>
  op === '>=' ? a >= b : op === '>' ? a > b : op === '<=' ? a <= b : a < b;

const TEXT_ONLY = new Set(['perplexity', 'mean_log_prob']);

/** Why a criterion cannot be decided on a dataset of this kind (checked before training), or undefined. */
export function criterionMismatch(
  kind: EvalKind,
  spec: { max_perplexity?: number; promote_if?: PromoteIf },
): { field: string; problem: string } | undefined {
  if (kind === 'pairs' && spec.max_perplexity !== undefined)
    return { field: 'spec.max_perplexity', problem: 'needs {"text"} lines in eval_dataset; it holds preference pairs' };
  const metric = spec.promote_if?.metric;
  if (metric !== undefined && (kind === 'text') !== TEXT_ONLY.has(metric)) {
    return {
      field: 'spec.promote_if.metric',
      problem: `'${metric}' is measured on ${TEXT_ONLY.has(metric) ? '{"text"} lines' : 'preference pairs {"prompt","chosen","rejected"}'}; eval_dataset holds ${kind === 'text' ? '{"text"} lines' : 'preference pairs'}`,
    };
  }
  return undefined;
}

/**
 * The decision and its reason, in one line for the job's log. `baseline` is the same metric of the model promote_if
 * is `against` (absent without against).
 */
export function decide(
  metrics: Record<string, number>,
  spec: { max_perplexity?: number; promote_if?: PromoteIf },
  baseline?: { model: string; value: number },
): { passes: boolean; reason: string } {
  const reasons: string[] = [];
  let passes = true;
  if (spec.max_perplexity !== undefined) {
    const p = metrics.perplexity!;
    const ok = p <= spec.max_perplexity;
    passes &&= ok;
    reasons.push(`perplexity ${p.toFixed(4)} ${ok ? '≤' : '>'} max_perplexity ${spec.max_perplexity}`);
  }
  const c = spec.promote_if;
  if (c) {
    const v = metrics[c.metric]!;
    const against = baseline ? baseline.value : c.value!;
    const ok = compare(v, c.op, against);
    passes &&= ok;
    const what = baseline ? `${baseline.model}'s ${against.toFixed(4)}` : `${against}`;
    reasons.push(`${c.metric} ${v.toFixed(4)} ${ok ? '' : 'not '}${c.op} ${what}`);
  }
  return { passes, reason: reasons.join('; ') || 'no criterion' };
}

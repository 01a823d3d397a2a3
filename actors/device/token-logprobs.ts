/**
 * Log-probabilities of a generation's tokens (OpenAI's `logprobs`), computed after it: the sequence is cleared and
 * the prompt plus the generated tokens decoded again with llama.cpp asked, at each generated position, for the
 * logit of the token that was generated, the greedy (arg-max) one, the top-k alternatives when asked, and the
 * vocabulary's total logit weight — the same exact log-softmax EngineCore.evaluate uses:
 *   ln p(t | before) = logit(t) − maxLogit − ln Σ_v exp(logit_v − maxLogit).
 * So the figures are the model's own distribution (before temperature, top_p and penalties), as OpenAI reports
 * them, and a generation's text and tokens are exactly what they would be without logprobs.
 */
import type { LlamaContextSequence, LlamaModel, ControlledEvaluateInputItem, Token } from 'node-llama-cpp';
import { errors } from '../../src/errors.js';
import type { TokenLogprob } from '../../schemas/messages.js';

/** Tokens decoded per controlledEvaluate call (see EVALUATE_CHUNK_TOKENS in engine-core.ts for why it is small). */
const CHUNK = 32;
/** Tokens before one that its text is read after: node-llama-cpp's own look-back (maxRecentDetokenizerTokens). */
const CONTEXT_TOKENS = 3;

/**
 * The generated tokens whose text is `text`: the sequence holds the prompt and every sampled token, including a stop
 * string's and a last incomplete UTF-8 byte the answer leaves out; the shortest prefix whose text covers the answer.
 */
export function answerTokens(model: LlamaModel, generated: Token[], text: string, before: Token[] = []): Token[] {
  for (let k = 0; k <= generated.length; k++) {
    const t = model.detokenize(generated.slice(0, k), false, before);
    if (t === text || (t.length >= text.length && t.startsWith(text))) return generated.slice(0, k);
  }
  return generated;
}

export async function tokenLogprobs(
  model: LlamaModel,
  seq: LlamaContextSequence,
  input: Token[],
  generated: Token[],
  top: number,
  signal: AbortSignal,
  aborted: () => Error,
): Promise<TokenLogprob[]> {
  await seq.clearHistory();
  const all = [...input, ...generated];
  const first = input.length - 1; // the position whose next token is generated[0]
  const out: TokenLogprob[] = [];
  // A token's text as it reads where it stands: after the tokens before it, a SentencePiece "▁M" is " M" (alone, "M").
  const text = (t: Token, at: number) => model.detokenize([t], false, all.slice(Math.max(0, at - CONTEXT_TOKENS), at));
  for (let start = 0; start < all.length - 1; start += CHUNK) {
    if (signal.aborted) throw aborted();
    const end = Math.min(start + CHUNK, all.length - 1);
    const items: ControlledEvaluateInputItem[] = [];
    for (let i = start; i < end; i++) {
      items.push(
        i < first
          ? all[i]!
          : [
              all[i]!,
              {
                generateNext: {
                  logits: {
                    filter: { tokens: [all[i + 1]!], includeSelected: true, ...(top > 0 ? { includeTop: top } : {}) },
                  },
                  totalLogitWeight: true,
                  options: { temperature: 0 },
                },
              },
            ],
      );
    }
    const res = await seq.controlledEvaluate(items);
    for (let i = Math.max(start, first); i < end; i++) {
      const next = res[i - start]?.next;
      const target = next?.logits?.get(all[i + 1]!);
      const weight = next?.totalLogitWeight;
      if (target === undefined || weight === undefined || !(weight >= 1) || !next?.logits) {
        throw errors.internal(`logprobs: llama.cpp returned no usable logits at token ${i + 1}`);
      }
      // The map holds the target, the greedy token and the top-k: its largest value is the max logit.
      let maxLogit = -Infinity;
      for (const v of next.logits.values()) if (v > maxLogit) maxLogit = v;
      const lp = (logit: number) => logit - maxLogit - Math.log(weight);
      const alternatives =
        top > 0
          ? [...next.logits.entries()]
              .sort((a, b) => b[1] - a[1])
              .slice(0, top)
              .map(([t, l]) => ({ token: text(t, i + 1), logprob: lp(l) }))
          : [];
      out.push({ token: text(all[i + 1]!, i + 1), logprob: lp(target), top: alternatives });
    }
  }
  return out;
}

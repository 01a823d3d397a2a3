/**
 * Log-probabilities of a generation's tokens (OpenAI's `logprobs`), computed after it: the sequence is cleared and
 * the prompt plus the generated tokens decoded again with llama.cpp asked, at each generated position, for the
 * logit of the token that was generated, the greedy (arg-max) one, the top-k alternatives when asked, and the
 * vocabulary's total logit weight — the same exact log-softmax EngineCore.evaluate uses:
 *   ln p(t | before) = logit(t) − maxLogit − ln Σ_v exp(logit_v − maxLogit).
 * So the figures are the model's own distribution (before temperature, top_p and penalties), as OpenAI reports
 * them, and a generation's text and tokens are exactly what they would be without logprobs.
 *
 * There is one entry per sampled token (recordSampled sees them all; node-llama-cpp's onToken misses a last byte that
 * completes no character, and its sequence misses the last token, never evaluated), and an entry's `token` is the
 * text that token adds to the answer (answerPieces), so the entries join to the answer exactly: a byte that starts a
 * character adds '' and the byte that completes it adds the character; tokens past the answer's end (a stop string's,
 * a last incomplete byte the text leaves out) add ''. Alternatives are named so that no two are the same
 * (alternativeName): a byte token is `bytes:\xNN`, as OpenAI names a token that is not valid UTF-8 on its own.
 */
import type { LlamaContextSequence, LlamaModel, ControlledEvaluateInputItem, Token } from 'node-llama-cpp';
import { errors } from '../../src/errors.js';
import type { TokenLogprob } from '../../schemas/messages.js';

/** Tokens decoded per controlledEvaluate call (see EVALUATE_CHUNK_TOKENS in engine-core.ts for why it is small). */
const CHUNK = 32;
/** Tokens before one that its text is read after: node-llama-cpp's own look-back (maxRecentDetokenizerTokens). */
const CONTEXT_TOKENS = 3;

type Evaluate = LlamaContextSequence['evaluate'];

/**
 * Records every token `seq` samples until `stop()`: node-llama-cpp's generators (LlamaCompletion, LlamaChat) sample
 * through `sequence.evaluate`, whose iterator yields each sampled token, the last one and an end-of-generation token
 * included. The method is shadowed on this one sequence object, for one generation.
 *
 * With `limit`, no more than `limit.max` tokens are sampled: LlamaCompletion checks maxTokens only after a token that
 * completes a character, so an answer whose max_tokens-th token starts one samples one more (usage then said
 * max_tokens for max_tokens + 1 tokens, whose text was in the answer). Asked for that token, the recorder answers
 * `limit.eog` instead, sampling nothing: the generation ends there and `limited` says so (a length stop, not the model's).
 */
export function recordSampled(
  seq: LlamaContextSequence,
  into: Token[],
  limit?: { max: number; eog: Token },
): { stop(): void; readonly limited: boolean } {
  const evaluate = seq.evaluate;
  let limited = false;
  const recording: Evaluate = async function* (tokens, options) {
    const it = evaluate.call(seq, tokens, options);
    try {
      // What the consumer sends back into the iterator (a replacement token) goes on to node-llama-cpp's.
      let step = await it.next();
      while (!step.done) {
        into.push(step.value);
        const back = yield step.value;
        if (limit && limit.max > 0 && into.length >= limit.max) {
          limited = true;
          yield limit.eog;
          return;
        }
        step = await it.next(back);
      }
    } finally {
      await it.return();
    }
  };
  Object.defineProperty(seq, 'evaluate', { value: recording, configurable: true, writable: true });
  return {
    stop: () => {
      delete (seq as { evaluate?: Evaluate }).evaluate;
    },
    get limited() {
      return limited;
    },
  };
}

/** The sampled tokens that count as generated: all but an end-of-generation token that ended the generation. */
export function generatedTokens(model: LlamaModel, sampled: Token[]): Token[] {
  const last = sampled[sampled.length - 1];
  return last !== undefined && model.isEogToken(last) ? sampled.slice(0, -1) : sampled;
}

/**
 * The generated tokens whose text is `text` (a tool-call answer's text, before its calls): the shortest prefix whose
 * text covers the answer.
 */
export function answerTokens(model: LlamaModel, generated: Token[], text: string, before: Token[] = []): Token[] {
  for (let k = 0; k <= generated.length; k++) {
    const t = model.detokenize(generated.slice(0, k), false, before);
    if (t === text || (t.length >= text.length && t.startsWith(text))) return generated.slice(0, k);
  }
  return generated;
}

/**
 * The text each of `tokens` adds to `text`, the answer they wrote (its start, when a stop string cut it): the pieces
 * join to `text` exactly. A token's piece is what decoding the tokens up to it adds to the text's longest prefix
 * decoded so far; a byte that completes no character yet adds '' (its character goes to the byte that completes it).
 * Decoding restarts after each token whose text is settled, so this is linear in the answer's length.
 */
export function answerPieces(model: LlamaModel, tokens: Token[], text: string): string[] {
  const pieces: string[] = [];
  let done = 0; // characters of `text` given to tokens so far
  let base = 0; // first token of the unsettled run
  let baseChars = 0; // characters of `text` before it
  for (let k = 0; k < tokens.length; k++) {
    if (done >= text.length) {
      pieces.push('');
      continue;
    }
    const run = model.detokenize(
      tokens.slice(base, k + 1),
      false,
      tokens.slice(Math.max(0, base - CONTEXT_TOKENS), base),
    );
    let same = 0;
    while (same < run.length && baseChars + same < text.length && run[same] === text[baseChars + same]) same++;
    const reach = baseChars + same;
    pieces.push(reach > done ? text.slice(done, reach) : '');
    done = Math.max(done, reach);
    if (same === run.length && !run.endsWith('\uFFFD')) {
      base = k + 1;
      baseChars = reach;
    }
  }
  // Whatever the decoding did not match (it cannot, when the answer is the tokens' text) goes to the last token.
  if (done < text.length && pieces.length) pieces[pieces.length - 1] += text.slice(done);
  return pieces;
}

/** A byte-fallback token's byte (SentencePiece's `<0xNN>`), from its vocabulary text. */
function byteOf(model: LlamaModel, t: Token): number | undefined {
  if (!model.getTokenAttributes(t).byte) return undefined;
  // node-llama-cpp keeps a token's vocabulary text on its native model (it reads the special tokens' this way).
  const native = (model as unknown as { _model?: { getTokenString?: (t: Token) => string } })._model;
  const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(native?.getTokenString?.(t) ?? '');
  return m ? Number.parseInt(m[1]!, 16) : undefined;
}

/** OpenAI's name of bytes that are not text on their own: `bytes:\xe2\x80`. */
export const bytesName = (bytes: number[]) =>
  `bytes:${bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;

/**
 * An alternative's name where it stands (after `before`): its text; `bytes:\xNN` for a byte token (its byte alone is
 * not text, and a printable one would read like the ordinary token of the same character); a special token's own
 * text (`</s>`), since it writes none.
 */
function alternativeName(model: LlamaModel, t: Token, before: Token[]): string {
  const byte = byteOf(model, t);
  if (byte !== undefined) return bytesName([byte]);
  const text = model.detokenize([t], false, before);
  if (text === '' && model.isSpecialToken(t)) return model.detokenize([t], true);
  return text;
}

/** Distinct names (a dictionary of alternatives keeps one per name): a repeated one gets the token's id. */
function distinct(
  names: Array<{ token: string; id: Token; logprob: number }>,
): Array<{ token: string; logprob: number }> {
  const seen = new Set<string>();
  return names.map((a) => {
    const token = seen.has(a.token) ? `token_id:${a.id}` : a.token;
    seen.add(token);
    return { token, logprob: a.logprob };
  });
}

export async function tokenLogprobs(
  model: LlamaModel,
  seq: LlamaContextSequence,
  input: Token[],
  generated: Token[],
  text: string,
  top: number,
  signal: AbortSignal,
  aborted: () => Error,
): Promise<TokenLogprob[]> {
  if (!generated.length) return [];
  const pieces = answerPieces(model, generated, text);
  await seq.clearHistory();
  const all = [...input, ...generated];
  const first = input.length - 1; // the position whose next token is generated[0]
  const out: TokenLogprob[] = [];
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
      const before = all.slice(Math.max(0, i + 1 - CONTEXT_TOKENS), i + 1);
      const alternatives =
        top > 0
          ? distinct(
              [...next.logits.entries()]
                .sort((a, b) => b[1] - a[1])
                .slice(0, top)
                .map(([t, l]) => ({ token: alternativeName(model, t, before), id: t, logprob: lp(l) })),
            )
          : [];
      out.push({ token: pieces[i - first]!, logprob: lp(target), top: alternatives });
    }
  }
  return out;
}

/**
 * The prompt (KV) cache's one decision: which free sequence of a model's context a request starts on.
 *
 * A sequence keeps the tokens it evaluated when its request ends (llama-server's `cache_prompt`); node-llama-cpp's
 * completion then evaluates only what differs from them (`adaptStateToTokens` erases the rest). So the request should
 * start on the free sequence whose cached tokens share the longest prefix with its prompt — but only among sequences
 * its own caller filled: a cache hit is faster, so a cache shared between tenants would let one time another's
 * prompts (vLLM's `cache_salt`). A request that finds no prefix of its own takes an empty sequence if there is one,
 * else the least recently used, whose tokens are then dropped: the prefixes used most recently survive longest.
 *
 * Which request runs next is not decided here (the device's queue: priority, then arrival); only where it runs.
 */
import type { Token } from 'node-llama-cpp';

/** What the chooser needs to know of a free sequence. */
export interface CacheSlot {
  /** Whose tokens the sequence holds (the caller that filled it); undefined when it holds none. */
  readonly scope: string | undefined;
  /** When its last request ended (any monotonic count). */
  readonly lastUsed: number;
  /** How many tokens it holds. */
  readonly held: number;
  /** How many of `tokens`' first tokens it holds, in order (node-llama-cpp's compareContextTokens). */
  shared(tokens: readonly Token[]): number;
}

export interface Choice {
  /** The index of the chosen slot. */
  index: number;
  /**
   * Tokens of the prompt it already holds, that need no evaluation: at most all but the last, which a generation
   * always decodes to get its first token's logits.
   */
  reuse: number;
  /** Whether its tokens are another caller's (or cannot be reused) and must be dropped before it is used. */
  clear: boolean;
}

/**
 * The free slot a request of `scope` with prompt `tokens` starts on. `slots` must not be empty.
 */
export function chooseSlot(slots: readonly CacheSlot[], tokens: readonly Token[], scope: string): Choice {
  if (slots.length === 0) throw new Error('chooseSlot: no free sequence');
  const usable = Math.max(0, tokens.length - 1);
  let best = -1;
  let bestShared = 0;
  for (const [i, s] of slots.entries()) {
    if (s.scope !== scope || s.held === 0) continue;
    const n = Math.min(s.shared(tokens), usable);
    // Ties go to the most recently used: the other keeps its (older) prefix a little longer.
    if (n > bestShared || (n === bestShared && n > 0 && s.lastUsed > slots[best]!.lastUsed)) {
      best = i;
      bestShared = n;
    }
  }
  // A prefix that is less than half of what its sequence holds is not worth the rest when an empty sequence is free:
  // a new conversation that shares only the first tokens with another must not wipe that one's history.
  const empty = slots.some((s) => s.held === 0);
  if (best >= 0 && (!empty || bestShared * 2 >= slots[best]!.held))
    return { index: best, reuse: bestShared, clear: false };
  // No prefix of its own worth taking: an empty sequence, else the least recently used one (its tokens are dropped).
  let pick = 0;
  for (const [i, s] of slots.entries()) {
    const p = slots[pick]!;
    if ((s.held === 0 && p.held !== 0) || ((s.held === 0) === (p.held === 0) && s.lastUsed < p.lastUsed)) pick = i;
  }
  return { index: pick, reuse: 0, clear: slots[pick]!.held > 0 };
}
